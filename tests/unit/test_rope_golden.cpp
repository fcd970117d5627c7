// RoPE against Hugging Face transformers: golden fixtures in tests/golden/rope/,
// made by tools/gen_rope_golden.py with transformers' own rope functions
// (ROPE_INIT_FUNCTIONS and a model's compute_default_rope_parameters). Every
// fixture's config.json fragment is read by lsk; inv_freq and the attention
// factor must match to 1e-6 relative, at every recorded sequence length.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <map>
#include <set>
#include <string>
#include <vector>

#include <catch2/catch.hpp>
#include <nlohmann/json.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/backends/reference/backend.hpp"
#include "lsk/ops/rope.hpp"
#include "lsk/position.hpp"

#ifndef LSK_ROPE_GOLDEN_DIR
#error "LSK_ROPE_GOLDEN_DIR must name tests/golden/rope"
#endif

namespace {
namespace fs = std::filesystem;
using nlohmann::json;
using namespace lsk::position;

constexpr const char* pinned_transformers = "5.23.0";
constexpr double rel_tol = 1e-6;

std::vector<fs::path> fixture_files() {
  std::vector<fs::path> files;
  for (const auto& e : fs::directory_iterator(LSK_ROPE_GOLDEN_DIR)) {
    if (e.is_regular_file() && e.path().extension() == ".json") files.push_back(e.path());
  }
  std::sort(files.begin(), files.end());
  return files;
}

std::vector<double> doubles(const json& v) { return v.get<std::vector<double>>(); }

// Largest |a - e| / |e| over the entries; infinity when sizes differ.
double max_rel_error(const std::vector<double>& actual, const std::vector<double>& expected) {
  if (actual.size() != expected.size()) return INFINITY;
  double err = 0.0;
  for (std::size_t i = 0; i < actual.size(); ++i) {
    err = std::max(err, std::abs(actual[i] - expected[i]) / std::abs(expected[i]));
  }
  return err;
}

rope_config derived_config(const json& d) {
  const rope_config base = rope_config_from_json(d.at("config"));
  const std::string call = d.at("call");
  if (call == "with_ntk_scaling") return with_ntk_scaling(base, d.at("target_length").get<lsk::index_t>());
  if (call == "with_base") return with_base(base, d.at("theta").get<double>());
  FAIL("unknown derived_from call " << call);
  return base;
}
}  // namespace

TEST_CASE("golden fixtures cover every rope type, head dims 64/80/128, and record the pinned transformers",
          "[rope][golden]") {
  const auto files = fixture_files();
  REQUIRE(files.size() >= 20);
  std::set<std::string> types;
  std::set<lsk::index_t> dims;
  for (const auto& f : files) {
    const json fx = load_json_file(f);
    INFO(f.filename().string());
    CHECK(fx.at("generator").at("transformers") == pinned_transformers);
    CHECK(fx.at("generator").contains("torch"));
    types.insert(fx.at("rope_type").get<std::string>());
    dims.insert(fx.at("head_dim").get<lsk::index_t>());
  }
  CHECK(types == std::set<std::string>{"default", "linear", "dynamic", "yarn", "longrope", "llama3"});
  CHECK(dims == std::set<lsk::index_t>{64, 80, 128});
}

TEST_CASE("inv_freq and attention factor match transformers for every golden config", "[rope][golden]") {
  int evaluations = 0;
  for (const auto& f : fixture_files()) {
    const json fx = load_json_file(f);
    INFO("fixture " << f.filename().string());
    const rope_config cfg = rope_config_from_json(fx.at("config"));
    const rope enc(cfg);
    CHECK(enc.head_dim() == fx.at("head_dim").get<lsk::index_t>());
    CHECK(name(cfg.scaling) == fx.at("rope_type").get<std::string>());
    for (const auto& ev : fx.at("evaluations")) {
      const lsk::index_t n = ev.at("seq_len").is_null() ? 0 : ev.at("seq_len").get<lsk::index_t>();
      INFO("seq_len " << n);
      const auto expected = doubles(ev.at("inv_freq"));
      CHECK(static_cast<lsk::index_t>(expected.size()) == enc.rotary_dim() / 2);
      CHECK(max_rel_error(enc.inv_freq(n), expected) <= rel_tol);
      const double att = ev.at("attention_factor").get<double>();
      CHECK(std::abs(enc.attention_factor() - att) <= rel_tol * att);
      ++evaluations;
    }
    if (fx.contains("derived_from")) {  // the same change made by one lsk call
      const rope_config derived = derived_config(fx.at("derived_from"));
      CHECK(derived.theta == Approx(cfg.theta).epsilon(1e-14));
      CHECK(derived.max_position_embeddings == cfg.max_position_embeddings);
      CHECK(max_rel_error(rope(derived).inv_freq(), doubles(fx.at("evaluations")[0].at("inv_freq"))) <= rel_tol);
    }
  }
  CHECK(evaluations >= 40);
}

TEST_CASE("dynamic NTK state grows, keeps and resets its frequencies as transformers' module does",
          "[rope][golden][dynamic]") {
  int checked = 0;
  for (const auto& f : fixture_files()) {
    const json fx = load_json_file(f);
    if (!fx.contains("module_sequence")) continue;
    INFO("fixture " << f.filename().string());
    rope_state state{rope(rope_config_from_json(fx.at("config")))};
    for (const auto& step : fx.at("module_sequence")) {
      const auto n = step.at("seq_len").get<lsk::index_t>();
      INFO("call with seq_len " << n << ", cached length before " << state.cached_length());
      CHECK(max_rel_error(state.update(n), doubles(step.at("inv_freq"))) <= rel_tol);
      ++checked;
    }
  }
  CHECK(checked >= 8);
}

namespace {
template <class T, class B>
void check_applied_rotation(B& be, const json& run, double tol) {
  const rope enc(rope_config_from_json(run.at("config")));
  const auto pos_values = run.at("positions").get<std::vector<std::int32_t>>();
  const auto tokens = static_cast<lsk::index_t>(pos_values.size());
  lsk::tensor<std::int32_t> positions(lsk::shape{tokens}, pos_values);
  const lsk::index_t max_pos = *std::max_element(pos_values.begin(), pos_values.end());
  // A by-position table (rows 0..max) at the call's length, as transformers uses for this call.
  const auto table = make_rope_table<T>(enc, max_pos + 1, max_pos + 1);
  // A per-call table, row t for token t.
  const auto per_call = make_rope_table<T>(enc, positions.view());
  const auto iota = iota_positions(tokens);
  for (const char* which : {"q", "k"}) {
    const auto s = run.at(std::string(which) + "_shape").get<std::vector<lsk::index_t>>();
    const lsk::shape extents{s[0], s[1], s[2]};
    const auto in_values = doubles(run.at(which));
    const auto expected = doubles(run.at(std::string(which) + "_rotated"));
    lsk::tensor<T> x(extents), y(extents), y2(extents);
    for (std::size_t i = 0; i < in_values.size(); ++i) x.values()[i] = static_cast<T>(in_values[i]);
    lsk::rope_forward<B, T>(be, x, positions.view(), table.cos, table.sin, lsk::rope_layout::rotate_half, y.view());
    lsk::rope_forward<B, T>(be, x, iota.view(), per_call.cos, per_call.sin, lsk::rope_layout::rotate_half, y2.view());
    double err = 0.0, err2 = 0.0, scale = 0.0;
    for (std::size_t i = 0; i < expected.size(); ++i) {
      err = std::max(err, std::abs(double(y.values()[i]) - expected[i]));
      err2 = std::max(err2, std::abs(double(y2.values()[i]) - expected[i]));
      scale = std::max(scale, std::abs(expected[i]));
    }
    INFO(run.at("name").get<std::string>()
         << " " << which << " on " << B::name << ": max error " << err << " / " << err2 << ", scale " << scale);
    CHECK(err <= tol * scale);
    CHECK(err2 <= tol * scale);
  }
}
}  // namespace

TEST_CASE("rotated q and k match transformers' apply_rotary_pos_emb for positions with resets and skips",
          "[rope][golden][applied]") {
  const json golden = load_json_file(fs::path(LSK_ROPE_GOLDEN_DIR) / "applied" / "rotation.json");
  CHECK(golden.at("generator").at("transformers") == pinned_transformers);
  // transformers forms the angle p * inv_freq in float32: its error grows like
  // p * 2^-24 radians (largest position here 1500), so the bound is 2e-4 of the
  // largest value; a wrong pair layout or attention factor is off by O(1).
  constexpr double tol = 2e-4;
  lsk::backends::reference ref;
  lsk::backends::cpu cpu;
  for (const auto& run : golden.at("runs")) {
    check_applied_rotation<float>(ref, run, tol);
    check_applied_rotation<float>(cpu, run, tol);
    check_applied_rotation<double>(ref, run, tol);
    check_applied_rotation<double>(cpu, run, tol);
  }
}

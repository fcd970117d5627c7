// The trainer: accumulation over micro-batches, and a run saved at step k and
// resumed in fresh objects giving bit-identical losses to the uninterrupted run.
#include <filesystem>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/testing/tiny_llama.hpp"
#include "lsk/train/trainer.hpp"

namespace {
using lsk::index_t;
namespace fs = std::filesystem;

lsk::model::hf_config tiny_hf_config() { return lsk::testing::tiny_llama_config(); }
lsk::model::llama<float> fresh_model(const lsk::model::hf_config& c) { return lsk::testing::tiny_llama(c); }
lsk::model::token_batch make_batch(std::int64_t step, index_t micro) {
  return lsk::testing::patterned_batch(step, micro, 12, 30);
}

std::vector<double> run(const fs::path& dir, int steps, bool resume, int save_at = 0) {
  const auto cfg = tiny_hf_config();
  auto m = fresh_model(cfg);
  lsk::train::trainer_options o;
  o.micro_batches = 2;
  o.max_grad_norm = 0.5;
  o.adamw = {.lr = 3e-3, .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = 0.1};
  o.learning_rate = [](std::int64_t step) { return 3e-3 * (1.0 - 0.05 * double(step)); };
  o.checkpoint_dir = dir;
  lsk::train::trainer t(m, cfg, o);
  if (resume) REQUIRE(t.resume());
  std::vector<double> losses;
  lsk::backends::cpu be;
  while (t.steps_done() < steps) {
    losses.push_back(t.step(be, make_batch).loss);
    if (t.steps_done() == save_at) t.save();
  }
  return losses;
}
}  // namespace

TEST_CASE("a run resumed from a checkpoint repeats the uninterrupted run bit for bit", "[train][checkpoint]") {
  const fs::path dir = fs::temp_directory_path() / "lsk_test_resume";
  fs::remove_all(dir);
  const auto full = run(dir / "a", 10, false);
  const auto first = run(dir / "b", 4, false, 4);
  REQUIRE(fs::exists(dir / "b" / "latest"));
  REQUIRE(fs::exists(dir / "b" / "step-000004" / "model.safetensors"));
  const auto second = run(dir / "b", 10, true);
  REQUIRE(first.size() == 4);
  REQUIRE(second.size() == 6);
  for (std::size_t i = 0; i < 4; ++i) CHECK(first[i] == full[i]);
  for (std::size_t i = 0; i < 6; ++i) CHECK(second[i] == full[4 + i]);  // exact equality
  CHECK(full.back() < full.front());
  fs::remove_all(dir);
}

TEST_CASE("accumulating micro-batches equals one large batch", "[train]") {
  const auto cfg = tiny_hf_config();
  lsk::backends::cpu be;
  auto m1 = fresh_model(cfg), m2 = fresh_model(cfg);
  lsk::train::trainer_options two;
  two.micro_batches = 2;
  two.max_grad_norm = 0;
  lsk::train::trainer_options one = two;
  one.micro_batches = 1;
  lsk::train::trainer t2(m1, cfg, two), t1(m2, cfg, one);
  auto joined = [](std::int64_t step, index_t) {
    auto a = make_batch(step, 0), b = make_batch(step, 1);
    lsk::model::token_batch both(4, 12);
    for (index_t i = 0; i < 24; ++i) {
      for (auto [src, off] : {std::pair{&a, index_t{0}}, std::pair{&b, index_t{24}}}) {
        both.tokens(off + i) = src->tokens(i);
        both.targets(off + i) = src->targets(i);
        both.loss_mask(off + i) = src->loss_mask(i);
      }
    }
    return both;
  };
  const double l2 = t2.step(be, make_batch).loss;
  const double l1 = t1.step(be, joined).loss;
  CHECK(l2 == Approx(l1).epsilon(1e-5));
  std::vector<float> a, b;
  m1.weights.for_each([&](const std::string&, const lsk::tensor<float>& t) {
    a.insert(a.end(), t.values().begin(), t.values().end());
  });
  m2.weights.for_each([&](const std::string&, const lsk::tensor<float>& t) {
    b.insert(b.end(), t.values().begin(), t.values().end());
  });
  for (std::size_t i = 0; i < a.size(); ++i) REQUIRE(a[i] == Approx(b[i]).margin(1e-6));
}

TEST_CASE("a corrupt latest pointer is a typed error", "[train][checkpoint][errors]") {
  const fs::path dir = fs::temp_directory_path() / "lsk_test_bad_latest";
  fs::remove_all(dir);
  fs::create_directories(dir);
  { std::ofstream(dir / "latest") << "step-000099\n"; }
  CHECK_THROWS_AS(lsk::train::latest_checkpoint(dir), lsk::format_error);
  fs::remove_all(dir);
}

TEST_CASE("token_batch rows: a copy of some sequences, documents included; bad ranges are errors", "[train][dist]") {
  lsk::model::token_batch b(4, 3);
  for (index_t i = 0; i < b.size(); ++i) {
    b.tokens(i) = static_cast<std::int32_t>(i);
    b.targets(i) = static_cast<std::int32_t>(100 + i);
  }
  b.loss_mask(7) = 0;
  const std::vector<index_t> docs = {1, 2};
  b.set_documents(2, docs);
  const auto r = b.rows(2, 2);
  CHECK(r.batch == 2);
  CHECK(r.seq_len == 3);
  CHECK(r.tokens.values() == std::vector<std::int32_t>{6, 7, 8, 9, 10, 11});
  CHECK(r.targets(0) == 106);
  CHECK(r.loss_mask(1) == 0);
  CHECK(r.valid_tokens() == 5);
  REQUIRE(r.has_documents());
  CHECK(r.documents(1) == 1);
  CHECK(r.positions(1) == 0);  // the second document of sequence 2 restarts its positions
  CHECK_THROWS_AS(b.rows(3, 2), lsk::shape_error);
  CHECK_THROWS_AS(b.rows(0, 0), lsk::shape_error);
}

// llama2.c checkpoints: the real stories260K file, hand-built tiny files for
// the untied classifier and for each kind of bad header or size, and the
// interleaved <-> rotate_half permutation of q/k rows.
#include <catch2/catch.hpp>

#include <cmath>
#include <random>

#include "io_test_support.hpp"
#include "lsk/io/llama2c.hpp"

namespace l2c = lsk::io::llama2c;
using lsk_test::contains;
using lsk_test::message_of;

namespace {

// 7 int32 header fields followed by `floats` float32 values 1, 2, 3, ...
std::vector<std::byte> tiny_file(std::vector<std::int32_t> fields, std::size_t floats) {
  std::vector<std::byte> out;
  const auto put32 = [&](std::uint32_t u) {
    for (int i = 0; i < 4; ++i) out.push_back(static_cast<std::byte>((u >> (8 * i)) & 0xFF));
  };
  for (std::int32_t f : fields) put32(static_cast<std::uint32_t>(f));
  for (std::size_t i = 0; i < floats; ++i) put32(std::bit_cast<std::uint32_t>(static_cast<float>(i + 1)));
  return out;
}

// dim 4, hidden 6, 2 layers, 2 heads, 1 kv head (head_dim 2, kv_dim 2), vocab 5
// with its own classifier (stored as -5), seq_len 3: 306 floats, 1252 bytes.
const std::vector<std::int32_t> tiny_untied = {4, 6, 2, 2, 1, -5, 3};
constexpr std::size_t tiny_floats = 306;

std::filesystem::path write_tiny(const lsk_test::scratch_dir& dir, const std::string& name,
                                 const std::vector<std::byte>& bytes) {
  const auto p = dir / name;
  lsk_test::write_bytes(p, bytes);
  return p;
}

std::string format_error_of(const std::filesystem::path& p) {
  return message_of<lsk::format_error>([&] { (void)l2c::read(p); });
}

}  // namespace

TEST_CASE("llama2c: a hand-built untied checkpoint: names, shapes and file order", "[io][llama2c]") {
  lsk_test::scratch_dir dir;
  const auto path = write_tiny(dir, "tiny.bin", tiny_file(tiny_untied, tiny_floats));
  const auto ck = l2c::read(path);
  const l2c::config& c = ck.header;
  CHECK(c.dim == 4);
  CHECK(c.vocab_size == 5);
  CHECK_FALSE(c.shared_classifier);
  CHECK(c.head_dim() == 2);
  CHECK(c.kv_dim() == 2);
  CHECK(c.file_size() == 1252);
  CHECK(ck.qk_layout == lsk::rope_layout::interleaved);
  CHECK(ck.names.size() == 1 + 2 * 9 + 1 + 1);
  CHECK(ck.names.front() == "model.embed_tokens.weight");
  CHECK(ck.names.back() == "lm_head.weight");

  // First value of each tensor = 1 + its float offset in the file, worked out by hand.
  const std::pair<const char*, float> first[] = {
      {"model.embed_tokens.weight", 1},
      {"model.layers.0.input_layernorm.weight", 21},
      {"model.layers.1.input_layernorm.weight", 25},
      {"model.layers.0.self_attn.q_proj.weight", 29},
      {"model.layers.1.self_attn.q_proj.weight", 45},
      {"model.layers.0.self_attn.k_proj.weight", 61},
      {"model.layers.1.self_attn.k_proj.weight", 69},
      {"model.layers.0.self_attn.v_proj.weight", 77},
      {"model.layers.1.self_attn.v_proj.weight", 85},
      {"model.layers.0.self_attn.o_proj.weight", 93},
      {"model.layers.1.self_attn.o_proj.weight", 109},
      {"model.layers.0.post_attention_layernorm.weight", 125},
      {"model.layers.1.post_attention_layernorm.weight", 129},
      {"model.layers.0.mlp.gate_proj.weight", 133},
      {"model.layers.1.mlp.gate_proj.weight", 157},
      {"model.layers.0.mlp.down_proj.weight", 181},
      {"model.layers.1.mlp.down_proj.weight", 205},
      {"model.layers.0.mlp.up_proj.weight", 229},
      {"model.layers.1.mlp.up_proj.weight", 253},
      {"model.norm.weight", 277},
      {"lm_head.weight", 287},
  };
  for (const auto& [name, value] : first) {
    INFO(name);
    REQUIRE(ck.contains(name));
    CHECK(ck.weight(name).data()[0] == value);
  }
  CHECK(ck.weight("model.embed_tokens.weight").extents() == lsk::shape{5, 4});
  CHECK(ck.weight("model.layers.1.self_attn.k_proj.weight").extents() == lsk::shape{2, 4});
  CHECK(ck.weight("model.layers.0.mlp.gate_proj.weight").extents() == lsk::shape{6, 4});
  CHECK(ck.weight("model.layers.0.mlp.down_proj.weight").extents() == lsk::shape{4, 6});
  CHECK(ck.weight("model.norm.weight").extents() == lsk::shape{4});
  CHECK(ck.weight("lm_head.weight").extents() == lsk::shape{5, 4});
  CHECK(ck.weight("lm_head.weight").values().back() == 306.0f);
  CHECK(ck.weight("model.layers.0.self_attn.q_proj.weight")(1, 2) == 29 + 4 + 2);  // row-major (out, in)
  CHECK(ck.freq_cis_real.extents() == lsk::shape{3, 1});
  CHECK(ck.freq_cis_real.values() == std::vector<float>{281, 282, 283});
  CHECK(ck.freq_cis_imag.values() == std::vector<float>{284, 285, 286});
  CHECK_THROWS_AS(ck.weight("model.layers.2.self_attn.q_proj.weight"), lsk::index_error);
}

TEST_CASE("llama2c: wrong sizes name the expected and actual byte counts", "[io][llama2c]") {
  lsk_test::scratch_dir dir;
  SECTION("truncated") {
    const auto msg = format_error_of(write_tiny(dir, "short.bin", tiny_file(tiny_untied, tiny_floats - 1)));
    CHECK(contains(msg, "short.bin"));
    CHECK(contains(msg, "file is 1248 bytes"));
    CHECK(contains(msg, "implies 1252 bytes"));
    CHECK(contains(msg, "4 bytes short"));
  }
  SECTION("too long") {
    const auto msg = format_error_of(write_tiny(dir, "long.bin", tiny_file(tiny_untied, tiny_floats + 3)));
    CHECK(contains(msg, "file is 1264 bytes"));
    CHECK(contains(msg, "12 bytes too long"));
  }
  SECTION("a classifier the header says is shared") {
    auto fields = tiny_untied;
    fields[5] = 5;
    const auto msg = format_error_of(write_tiny(dir, "sign.bin", tiny_file(fields, tiny_floats)));
    CHECK(contains(msg, "80 bytes too long"));
    CHECK(contains(msg, "sign of vocab_size"));
  }
  SECTION("shorter than the header") {
    const auto msg = format_error_of(write_tiny(dir, "stub.bin", std::vector<std::byte>(10)));
    CHECK(contains(msg, "10 bytes"));
    CHECK(contains(msg, "28-byte header"));
  }
  SECTION("missing file") { CHECK_THROWS_AS(l2c::read(dir / "absent.bin"), lsk::io_error); }
}

TEST_CASE("llama2c: invalid headers are format errors naming the field", "[io][llama2c]") {
  lsk_test::scratch_dir dir;
  const auto bad = [&](std::vector<std::int32_t> fields) {
    return format_error_of(write_tiny(dir, "h.bin", tiny_file(std::move(fields), tiny_floats)));
  };
  CHECK(contains(bad({0, 6, 2, 2, 1, -5, 3}), "dim = 0 at byte offset 0"));
  CHECK(contains(bad({4, 6, -2, 2, 1, -5, 3}), "n_layers = -2 at byte offset 8"));
  CHECK(contains(bad({4, 6, 2, 2, 1, 0, 3}), "vocab_size = 0 at byte offset 20"));
  CHECK(contains(bad({4, 6, 2, 2, 1, -5, 0}), "seq_len = 0 at byte offset 24"));
  CHECK(contains(bad({6, 6, 2, 4, 1, -5, 3}), "not a multiple of n_heads"));
  CHECK(contains(bad({8, 6, 2, 4, 3, -5, 3}), "n_kv_heads = 3 (byte offset 16) does not divide n_heads = 4"));
  CHECK(contains(bad({6, 6, 2, 2, 1, -5, 3}), "odd"));
  CHECK(contains(bad({0x616b3432, 1, 1, 1, 1, 1, 1}), "version 1"));
  CHECK(contains(bad({1 << 30, 1 << 30, 1 << 30, 1, 1, 5, 3}), "more weights than"));
}

TEST_CASE("llama2c: q/k row permutation between interleaved and rotate_half", "[io][llama2c]") {
  // 2 heads of head_dim 4, 3 input features; row r holds r*10 + column.
  lsk::tensor<float> w(lsk::shape{8, 3});
  for (lsk::index_t r = 0; r < 8; ++r)
    for (lsk::index_t c = 0; c < 3; ++c) w(r, c) = static_cast<float>(r * 10 + c + 1);
  const auto p = l2c::permute_qk_for_rotate_half(w, 2, 4);
  const int order[] = {0, 2, 1, 3, 4, 6, 5, 7};  // per head: even rows, then odd rows
  for (lsk::index_t r = 0; r < 8; ++r)
    for (lsk::index_t c = 0; c < 3; ++c) CHECK(p(r, c) == w(order[r], c));
  CHECK(l2c::permute_qk_for_interleaved(p, 2, 4).values() == w.values());
  CHECK_THROWS_AS(l2c::permute_qk_for_rotate_half(w, 3, 4), lsk::shape_error);
  CHECK_THROWS_AS(l2c::permute_qk_for_rotate_half(w, 8, 1), lsk::shape_error);
  CHECK_THROWS_AS(l2c::permute_qk_for_interleaved(lsk::tensor<float>(lsk::shape{8}), 2, 4), lsk::shape_error);
}

TEST_CASE("llama2c: permuted q/k under rotate_half RoPE give the same attention scores", "[io][llama2c]") {
  // RoPE written out here in both layouts, independently of lsk's own.
  const lsk::index_t n_heads = 2, head_dim = 8, in = 5, half = head_dim / 2;
  std::mt19937 gen(7);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  lsk::tensor<float> wq(lsk::shape{n_heads * head_dim, in}), wk(lsk::shape{n_heads * head_dim, in}), x(lsk::shape{in}),
      y(lsk::shape{in});
  for (auto* t : {&wq, &wk, &x, &y})
    for (float& v : t->values()) v = u(gen);
  const auto project = [&](const lsk::tensor<float>& w, const lsk::tensor<float>& v) {
    std::vector<double> out(static_cast<std::size_t>(w.dim(0)));
    for (lsk::index_t r = 0; r < w.dim(0); ++r)
      for (lsk::index_t c = 0; c < in; ++c) out[static_cast<std::size_t>(r)] += double(w(r, c)) * double(v(c));
    return out;
  };
  const auto rope = [&](std::vector<double> q, double pos, bool interleaved) {
    for (lsk::index_t h = 0; h < n_heads; ++h)
      for (lsk::index_t j = 0; j < half; ++j) {
        const double angle = pos * std::pow(10000.0, -2.0 * double(j) / double(head_dim));
        const auto a = static_cast<std::size_t>(h * head_dim + (interleaved ? 2 * j : j));
        const auto b = static_cast<std::size_t>(h * head_dim + (interleaved ? 2 * j + 1 : j + half));
        const double qa = q[a], qb = q[b];
        q[a] = qa * std::cos(angle) - qb * std::sin(angle);
        q[b] = qa * std::sin(angle) + qb * std::cos(angle);
      }
    return q;
  };
  const auto scores = [&](const std::vector<double>& q, const std::vector<double>& k) {
    std::vector<double> s;
    for (lsk::index_t h = 0; h < n_heads; ++h) {
      double d = 0;
      for (lsk::index_t i = 0; i < head_dim; ++i)
        d += q[static_cast<std::size_t>(h * head_dim + i)] * k[static_cast<std::size_t>(h * head_dim + i)];
      s.push_back(d);
    }
    return s;
  };
  const auto q_native = rope(project(wq, x), 5.0, true);
  const auto k_native = rope(project(wk, y), 2.0, true);
  const auto q_hf = rope(project(l2c::permute_qk_for_rotate_half(wq, n_heads, head_dim), x), 5.0, false);
  const auto k_hf = rope(project(l2c::permute_qk_for_rotate_half(wk, n_heads, head_dim), y), 2.0, false);
  for (lsk::index_t h = 0; h < n_heads; ++h)
    for (lsk::index_t j = 0; j < half; ++j) {
      const auto base = static_cast<std::size_t>(h * head_dim);
      CHECK(q_hf[base + static_cast<std::size_t>(j)] == Approx(q_native[base + static_cast<std::size_t>(2 * j)]));
      CHECK(q_hf[base + static_cast<std::size_t>(j + half)] ==
            Approx(q_native[base + static_cast<std::size_t>(2 * j + 1)]));
    }
  const auto s_native = scores(q_native, k_native), s_hf = scores(q_hf, k_hf);
  for (std::size_t h = 0; h < s_native.size(); ++h) {
    CHECK(std::abs(s_native[h]) > 1e-3);  // not a vacuous comparison
    CHECK(s_hf[h] == Approx(s_native[h]).epsilon(1e-12));
  }
}

TEST_CASE("llama2c: stories260K", "[io][llama2c][shared]") {
  LSK_REQUIRE_SHARED_FILE(path, "models/stories260K/stories260K.bin");
  auto ck = l2c::read(path);
  const l2c::config& c = ck.header;
  CHECK(c.dim == 64);
  CHECK(c.hidden_dim == 172);
  CHECK(c.n_layers == 5);
  CHECK(c.n_heads == 8);
  CHECK(c.n_kv_heads == 4);
  CHECK(c.vocab_size == 512);
  CHECK(c.seq_len == 512);
  CHECK(c.shared_classifier);
  CHECK(c.head_dim() == 8);
  CHECK(c.kv_dim() == 32);
  CHECK(c.file_size() == std::filesystem::file_size(path));
  CHECK(c.file_size() == 1056540);
  CHECK(l2c::read_config(path).dim == 64);

  CHECK(ck.names.size() == 1 + 5 * 9 + 1);
  CHECK_FALSE(ck.contains("lm_head.weight"));  // tied to the embedding
  CHECK(ck.weight("model.embed_tokens.weight").extents() == lsk::shape{512, 64});
  CHECK(ck.weight("model.layers.4.self_attn.q_proj.weight").extents() == lsk::shape{64, 64});
  CHECK(ck.weight("model.layers.4.self_attn.k_proj.weight").extents() == lsk::shape{32, 64});
  CHECK(ck.weight("model.layers.4.self_attn.v_proj.weight").extents() == lsk::shape{32, 64});
  CHECK(ck.weight("model.layers.0.mlp.gate_proj.weight").extents() == lsk::shape{172, 64});
  CHECK(ck.weight("model.layers.0.mlp.down_proj.weight").extents() == lsk::shape{64, 172});
  std::size_t floats = ck.freq_cis_real.values().size() + ck.freq_cis_imag.values().size();
  for (const auto& [name, t] : ck.weights) {
    INFO(name);
    floats += t.values().size();
    double sum_sq = 0;
    std::size_t non_finite = 0;
    for (float v : t.values()) {
      non_finite += std::isfinite(v) ? 0 : 1;
      sum_sq += double(v) * double(v);
    }
    CHECK(non_finite == 0);
    CHECK(sum_sq > 0);
  }
  CHECK(28 + 4 * floats == c.file_size());

  // The stored RoPE tables: cos / sin(pos * 10000^(-2j/head_dim)), in float32.
  for (lsk::index_t pos : {0, 1, 7, 511})
    for (lsk::index_t j = 0; j < 4; ++j) {
      const double angle = double(pos) * std::pow(10000.0, -2.0 * double(j) / 8.0);
      CHECK(ck.freq_cis_real(pos, j) == Approx(std::cos(angle)).margin(2e-4));
      CHECK(ck.freq_cis_imag(pos, j) == Approx(std::sin(angle)).margin(2e-4));
    }

  const auto q0 = ck.weight("model.layers.0.self_attn.q_proj.weight");
  const auto k0 = ck.weight("model.layers.0.self_attn.k_proj.weight");
  l2c::convert_qk_to_rotate_half(ck);
  CHECK(ck.qk_layout == lsk::rope_layout::rotate_half);
  const auto& q1 = ck.weight("model.layers.0.self_attn.q_proj.weight");
  const auto& k1 = ck.weight("model.layers.0.self_attn.k_proj.weight");
  for (lsk::index_t c2 = 0; c2 < 64; ++c2) {
    CHECK(q1(1, c2) == q0(2, c2));          // head 0: new row 1 = old row 2
    CHECK(q1(8 + 4, c2) == q0(8 + 1, c2));  // head 1: new row half + 0 = old row 1
    CHECK(k1(3 * 8 + 7, c2) == k0(3 * 8 + 7, c2));
    CHECK(k1(3 * 8 + 6, c2) == k0(3 * 8 + 5, c2));
  }
  CHECK(l2c::permute_qk_for_interleaved(q1, 8, 8).values() == q0.values());
}

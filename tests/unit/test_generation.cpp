// KV-cache decoding against the full forward pass, and the samplers.
#include <cmath>
#include <map>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/model/generate.hpp"

namespace {
using lsk::index_t;

lsk::model::llama<double> small_model(index_t kv_heads) {
  lsk::model::llama_config c;
  c.vocab_size = 17;
  c.hidden_size = 16;
  c.intermediate_size = 24;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 4;
  c.num_key_value_heads = kv_heads;
  c.max_position_embeddings = 32;
  lsk::rng g(3);
  lsk::model::llama_weights<double> w(c);
  w.init(g, 0.2);
  lsk::model::llama<double> m(c, std::move(w));
  const index_t half = c.head_size() / 2;
  m.rotary = {lsk::tensor<double>(lsk::shape{32, half}), lsk::tensor<double>(lsk::shape{32, half})};
  for (index_t p = 0; p < 32; ++p) {
    for (index_t i = 0; i < half; ++i) {
      const double angle = double(p) * std::pow(10000.0, -double(i) / double(half));
      m.rotary.cos(p, i) = std::cos(angle);
      m.rotary.sin(p, i) = std::sin(angle);
    }
  }
  return m;
}
}  // namespace

TEST_CASE("decoding with a KV cache reproduces the full forward pass", "[model][generation]") {
  for (index_t kv : {1, 4}) {
    auto m = small_model(kv);
    lsk::backends::cpu be;
    const std::vector<std::int32_t> tokens = {1, 5, 9, 2, 16, 0, 7, 3};
    lsk::model::token_batch batch(1, static_cast<index_t>(tokens.size()));
    for (index_t t = 0; t < batch.size(); ++t) {
      batch.tokens(t) = tokens[static_cast<std::size_t>(t)];
      batch.targets(t) = 0;
    }
    m.forward(be, batch);
    const lsk::tensor<double> full = m.logits();
    auto cache = m.make_cache(static_cast<index_t>(tokens.size()));
    const auto& prefill = m.decode(be, std::span<const std::int32_t>(tokens.data(), 3), cache);
    for (index_t t = 0; t < 3; ++t)
      for (index_t v = 0; v < 17; ++v) REQUIRE(prefill(t, v) == Approx(full(t, v)).epsilon(1e-12));
    for (std::size_t t = 3; t < tokens.size(); ++t) {
      const auto& one = m.decode(be, std::span<const std::int32_t>(&tokens[t], 1), cache);
      for (index_t v = 0; v < 17; ++v) REQUIRE(one(0, v) == Approx(full(static_cast<index_t>(t), v)).epsilon(1e-12));
    }
    CHECK(cache.length == 8);
    CHECK_THROWS_AS(m.decode(be, std::span<const std::int32_t>(tokens.data(), 1), cache), lsk::shape_error);
  }
}

TEST_CASE("greedy, top-k and seeded sampling", "[model][sampling]") {
  const std::vector<float> logits = {0.1f, 2.0f, -1.0f, 1.5f, 2.0f};
  lsk::rng g(1);
  CHECK(lsk::model::sample_token<float>(logits, {}, g) == 1);  // ties: lowest id
  CHECK(lsk::model::sample_token<float>(logits, {.temperature = 1.0, .top_k = 1}, g) == 1);
  lsk::rng a(7), b(7);
  for (int i = 0; i < 50; ++i) {
    REQUIRE(lsk::model::sample_token<float>(logits, {.temperature = 0.8}, a) ==
            lsk::model::sample_token<float>(logits, {.temperature = 0.8}, b));
  }
  CHECK_THROWS_AS(lsk::model::sample_token<float>(logits, {.temperature = -1.0}, g), lsk::config_error);
  CHECK_THROWS_AS(lsk::model::sample_token<float>(logits, {.temperature = 1.0, .top_p = 0.0}, g), lsk::config_error);
}

TEST_CASE("temperature sampling follows the softmax; top-p truncates the tail", "[model][sampling]") {
  const std::vector<double> logits = {1.0, 0.0, -1.0, 0.5};
  lsk::rng g(11);
  constexpr int draws = 100000;
  std::map<int, int> counts;
  for (int i = 0; i < draws; ++i) ++counts[lsk::model::sample_token<double>(logits, {.temperature = 2.0}, g)];
  double z = 0;
  for (double l : logits) z += std::exp(l / 2.0);
  for (int k = 0; k < 4; ++k) {
    const double expected = std::exp(logits[static_cast<std::size_t>(k)] / 2.0) / z;
    CHECK(std::abs(counts[k] / double(draws) - expected) < 0.01);
  }
  // p = softmax(logits) = [.47, .17, .06, .29]: top_p 0.6 keeps ids 0 and 3 only.
  counts.clear();
  for (int i = 0; i < 20000; ++i)
    ++counts[lsk::model::sample_token<double>(logits, {.temperature = 1.0, .top_p = 0.6}, g)];
  CHECK(counts[1] == 0);
  CHECK(counts[2] == 0);
  CHECK(counts[0] > counts[3]);
}

#include <cmath>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/eval/perplexity.hpp"
#include "lsk/position/rope.hpp"

TEST_CASE("perplexity by length: a model with uniform predictions scores log(vocab)", "[eval]") {
  lsk::model::llama_config c;
  c.vocab_size = 37;
  c.hidden_size = 8;
  c.intermediate_size = 8;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 2;
  c.max_position_embeddings = 64;
  lsk::rng g(1);
  lsk::model::llama_weights<float> w(c);
  w.init(g);
  w.norm.fill(0.0f);  // the final norm zeroes the hidden state: every logit is 0
  lsk::model::llama<float> m(c, std::move(w));
  lsk::position::rope_config rc;
  rc.head_dim = c.head_size();
  rc.max_position_embeddings = 64;
  m.set_position_encoding(lsk::position::rope(rc), 64);
  std::vector<std::int32_t> tokens(200);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>(i % 37);
  lsk::backends::cpu be;
  const auto points = lsk::eval::perplexity_by_length(be, m, tokens, {8, 32, 64}, 3);
  REQUIRE(points.size() == 3);
  for (const auto& p : points) {
    CHECK(p.windows == 3);
    CHECK(p.nll == Approx(std::log(37.0)).epsilon(1e-6));
    CHECK(p.ppl_second_half() == Approx(37.0).epsilon(1e-5));
  }
  CHECK_THROWS_AS(lsk::eval::perplexity_by_length(be, m, tokens, {128}, 1), lsk::config_error);
  CHECK_THROWS_AS(lsk::eval::perplexity_by_length(be, m, std::span<const std::int32_t>(tokens.data(), 10), {16}, 1),
                  lsk::config_error);
}

TEST_CASE("perplexity of a model whose LM head runs in chunks: its whole head's, and the setting kept", "[eval]") {
  lsk::model::llama_config c;
  c.vocab_size = 37;
  c.hidden_size = 8;
  c.intermediate_size = 12;
  c.num_hidden_layers = 2;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = 32;
  lsk::rng g(3);
  lsk::model::llama_weights<float> w(c);
  w.init(g, 0.3);
  lsk::model::llama<float> whole(c, w);
  c.head_chunk_tokens = 5;
  lsk::model::llama<float> chunked(c, std::move(w));
  lsk::position::rope_config rc;
  rc.head_dim = c.head_size();
  rc.max_position_embeddings = 32;
  for (auto* m : {&whole, &chunked}) m->set_position_encoding(lsk::position::rope(rc), 32);
  std::vector<std::int32_t> tokens(100);
  for (std::size_t i = 0; i < tokens.size(); ++i) tokens[i] = static_cast<std::int32_t>((i * 11) % 37);
  lsk::backends::cpu be;
  const auto a = lsk::eval::perplexity_by_length(be, whole, tokens, {8, 32}, 2);
  const auto b = lsk::eval::perplexity_by_length(be, chunked, tokens, {8, 32}, 2);
  REQUIRE(a.size() == b.size());
  for (std::size_t i = 0; i < a.size(); ++i) {
    CHECK(b[i].nll == a[i].nll);
    CHECK(b[i].nll_second_half == a[i].nll_second_half);
  }
  CHECK(chunked.config.head_chunk_tokens == 5);
}

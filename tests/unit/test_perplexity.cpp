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

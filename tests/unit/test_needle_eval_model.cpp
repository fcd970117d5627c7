// The needle grid of a model: cells follow the synthesizer's grid, and an
// untrained model retrieves nothing (a 7-digit value is not guessed).
#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/needle.hpp"
#include "lsk/eval/needle_eval.hpp"
#include "lsk/position/rope.hpp"

TEST_CASE("needle grid of an untrained model", "[eval][needle]") {
  lsk::data::byte_tokenizer tok;
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Call me Ishmael number " + std::to_string(i) + ". The sea was grey and wide. ";
  lsk::data::needle_config nc;
  nc.lengths = {200, 400};
  nc.depths = {0.0, 0.5, 1.0};
  const lsk::data::needle_synthesizer synth(tok, text, nc);
  lsk::model::llama_config c;
  c.vocab_size = lsk::data::byte_tokenizer::size;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = 512;
  lsk::rng g(2);
  lsk::model::llama_weights<float> w(c);
  w.init(g);
  lsk::model::llama<float> m(c, std::move(w));
  lsk::position::rope_config rc;
  rc.head_dim = c.head_size();
  rc.max_position_embeddings = 512;
  m.set_position_encoding(lsk::position::rope(rc), 512);
  lsk::backends::cpu be;
  const auto grid = lsk::eval::evaluate_needles(be, m, tok, synth, 6);
  CHECK(grid.lengths() == std::vector<long long>{200, 400});
  CHECK(grid.depths() == std::vector<double>{0.0, 50.0, 100.0});
  CHECK(grid.mean() == 0.0);
  m.set_position_encoding(lsk::position::rope(rc), 100);  // too short for the prompts
  CHECK_THROWS_AS(lsk::eval::evaluate_needles(be, m, tok, synth, 1), lsk::config_error);
}

// Held-out SynL accuracy of a real (untrained) model: every question is asked
// and scored, nothing is guessed, and rotary tables too short are an error.
#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/eval/synl_eval.hpp"
#include "lsk/position/rope.hpp"

TEST_CASE("SynL accuracy of an untrained model", "[eval][synl]") {
  lsk::data::byte_tokenizer tok;
  lsk::data::synl_config sc;
  sc.seed = lsk::eval::synl_heldout_seed;
  sc.max_columns = 4;
  const auto cases = lsk::eval::make_synl_cases(tok, sc, {128, 256}, 3);
  lsk::model::llama_config c;
  c.vocab_size = lsk::data::byte_tokenizer::size;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = 1024;
  lsk::rng g(5);
  lsk::model::llama_weights<float> w(c);
  w.init(g);
  lsk::model::llama<float> m(c, std::move(w));
  lsk::position::rope_config rc;
  rc.head_dim = c.head_size();
  rc.max_position_embeddings = 1024;
  const lsk::index_t rows = lsk::eval::synl_rows_needed(cases, 4);
  REQUIRE(rows <= 1024);
  m.set_position_encoding(lsk::position::rope(rc), rows);
  lsk::backends::cpu be;
  const auto s = lsk::eval::evaluate_synl(be, m, tok, cases, 4);
  CHECK(s.count() == 6);
  CHECK(s.accuracy() == 0.0);
  CHECK(s.lengths() == std::vector<std::size_t>{128, 256});
  m.set_position_encoding(lsk::position::rope(rc), rows - 1);
  CHECK_THROWS_AS(lsk::eval::evaluate_synl(be, m, tok, cases, 4), lsk::config_error);
}

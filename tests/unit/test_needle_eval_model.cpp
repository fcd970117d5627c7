// The needle grid and the held-out SynL accuracy of a model: cells follow the
// synthesizer's grid, every question is asked and scored, an untrained model
// retrieves nothing (a 7-digit value is not guessed, nor a table's answer), and
// rotary tables too short for the prompts are an error.
#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/needle.hpp"
#include "lsk/eval/needle_eval.hpp"
#include "lsk/eval/synl_eval.hpp"
#include "lsk/position/rope.hpp"

namespace {
lsk::position::rope_config rope_of(const lsk::model::llama<float>& m) {
  lsk::position::rope_config rc;
  rc.head_dim = m.config.head_size();
  rc.max_position_embeddings = m.config.max_position_embeddings;
  return rc;
}

// An untrained one-layer model over bytes whose rotary tables cover `rows` positions.
lsk::model::llama<float> untrained_model(lsk::index_t rows, std::uint64_t seed) {
  lsk::model::llama_config c;
  c.vocab_size = lsk::data::byte_tokenizer::size;
  c.hidden_size = 16;
  c.intermediate_size = 32;
  c.num_hidden_layers = 1;
  c.num_attention_heads = 2;
  c.num_key_value_heads = 1;
  c.max_position_embeddings = rows;
  lsk::rng g(seed);
  lsk::model::llama_weights<float> w(c);
  w.init(g);
  lsk::model::llama<float> m(c, std::move(w));
  m.set_position_encoding(lsk::position::rope(rope_of(m)), rows);
  return m;
}
}  // namespace

TEST_CASE("needle grid of an untrained model", "[eval][needle]") {
  lsk::data::byte_tokenizer tok;
  std::string text;
  for (int i = 0; i < 60; ++i) text += "Call me Ishmael number " + std::to_string(i) + ". The sea was grey and wide. ";
  lsk::data::needle_config nc;
  nc.lengths = {200, 400};
  nc.depths = {0.0, 0.5, 1.0};
  const lsk::data::needle_synthesizer synth(tok, text, nc);
  auto m = untrained_model(512, 2);
  lsk::backends::cpu be;
  std::vector<std::vector<float>> before;  // evaluation must leave the weights alone
  m.weights.for_each([&](const std::string&, const lsk::tensor<float>& t) { before.push_back(t.values()); });
  std::vector<lsk::eval::needle_answer> answers;
  const auto grid = lsk::eval::evaluate_needles(be, m, tok, synth, 6, 2, &answers);
  std::size_t k = 0;
  m.weights.for_each([&](const std::string& name, const lsk::tensor<float>& t) {
    INFO(name);
    CHECK(t.values() == before[k++]);
  });
  CHECK(grid.lengths() == std::vector<long long>{200, 400});
  CHECK(grid.depths() == std::vector<double>{0.0, 50.0, 100.0});
  CHECK(grid.mean() == 0.0);
  REQUIRE(answers.size() == 6);
  for (std::uint64_t i = 0; i < 6; ++i) {
    const auto& a = answers[i];
    CHECK(a.index == i);
    CHECK(a.length == static_cast<long long>(synth.length_of(i)));
    CHECK(a.depth_percent == synth.depth_of(i) * 100.0);
    CHECK(a.expected == synth.generate(i).answer);
    CHECK(a.correct == lsk::eval::exact_match(a.generated, a.expected));
    CHECK(!a.correct);
  }
  m.set_position_encoding(lsk::position::rope(rope_of(m)), 100);  // too short for the prompts
  CHECK_THROWS_AS(lsk::eval::evaluate_needles(be, m, tok, synth, 1), lsk::config_error);
}

TEST_CASE("SynL accuracy of an untrained model", "[eval][synl]") {
  lsk::data::byte_tokenizer tok;
  lsk::data::synl_config sc;
  sc.seed = lsk::eval::synl_heldout_seed;
  sc.max_columns = 4;
  const auto cases = lsk::eval::make_synl_cases(tok, sc, {128, 256}, 3);
  const lsk::index_t rows = lsk::eval::synl_rows_needed(cases, 4);
  auto m = untrained_model(rows, 5);
  lsk::backends::cpu be;
  const auto s = lsk::eval::evaluate_synl(be, m, tok, cases, 4);
  CHECK(s.count() == 6);
  CHECK(s.accuracy() == 0.0);
  CHECK(s.lengths() == std::vector<std::size_t>{128, 256});
  m.set_position_encoding(lsk::position::rope(rope_of(m)), rows - 1);
  CHECK_THROWS_AS(lsk::eval::evaluate_synl(be, m, tok, cases, 4), lsk::config_error);
}

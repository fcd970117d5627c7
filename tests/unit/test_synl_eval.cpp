// Held-out SynL scoring: the final-answer rules on hand-made answers, and the
// accuracy tables through a stand-in "model" that answers from a key.
#include <catch2/catch.hpp>

#include <map>

#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/eval/synl_eval.hpp"

using lsk::eval::synl_answer_correct;
using lsk::eval::synl_final_answer;

TEST_CASE("SynL final answers and exact match", "[eval][synl]") {
  const std::string steps =
      "Step 1: the rows whose region is North, with their units: R10007 (12), R23456 (400).\n"
      "Step 2: the sum of 2 values is 412.\nAnswer: 412";
  CHECK(synl_final_answer(steps, "reasoning") == "412");
  CHECK(synl_final_answer("R10007", "retrieval") == "R10007");
  CHECK(synl_final_answer(" R10007.\nand more", "retrieval") == "R10007");
  CHECK(synl_final_answer("no final line", "reasoning").empty());

  // reasoning: only the final answer counts, worked steps may differ
  CHECK(synl_answer_correct(steps, steps, "reasoning"));
  CHECK(synl_answer_correct("Step 1: something else.\nAnswer: 412\n", steps, "reasoning"));
  CHECK(synl_answer_correct("Answer: 3\nAnswer: 412.", steps, "reasoning"));  // the last one counts
  CHECK_FALSE(synl_answer_correct("Answer: 4120", steps, "reasoning"));
  CHECK_FALSE(synl_answer_correct("Answer: 41", steps, "reasoning"));
  CHECK_FALSE(synl_answer_correct("412", steps, "reasoning"));  // no "Answer:"
  CHECK_FALSE(synl_answer_correct("Answer: 412", "Step 1: nothing", "reasoning"));

  // one-line answers: the whole first line, nothing missing, nothing added
  CHECK(synl_answer_correct("R10007", "R10007", "retrieval"));
  CHECK(synl_answer_correct("  R10007.\nThe id above.", "R10007", "retrieval"));
  CHECK_FALSE(synl_answer_correct("R100071", "R10007", "retrieval"));
  CHECK_FALSE(synl_answer_correct("R10007 is the id", "R10007", "retrieval"));
  CHECK_FALSE(synl_answer_correct("", "R10007", "retrieval"));
  CHECK_FALSE(synl_answer_correct("anything", "", "retrieval"));
  const std::string five = "R1, R2, R3, R4, R5";
  CHECK(synl_answer_correct(five, five, "global"));
  CHECK_FALSE(synl_answer_correct(five + ", R6", five, "global"));
  CHECK_FALSE(synl_answer_correct("R1, R2, R3, R4", five, "global"));
  CHECK(synl_answer_correct("id: R1; region: North; units: 7", "id: R1; region: North; units: 7", "retrieval"));
  CHECK_FALSE(synl_answer_correct("id: R1; region: North", "id: R1; region: North; units: 7", "retrieval"));
  CHECK(synl_answer_correct("3.50", "3.50", "global"));
  CHECK_FALSE(synl_answer_correct("3.5", "3.50", "global"));
}

TEST_CASE("SynL cases: prompts end at the answer, the held-out seed gives other tables", "[eval][synl]") {
  lsk::data::byte_tokenizer tok;
  lsk::data::synl_config c;
  c.seed = lsk::eval::synl_heldout_seed;
  const auto cases = lsk::eval::make_synl_cases(tok, c, {256, 512}, 5);
  REQUIRE(cases.size() == 10);
  const std::string marker = c.chat.assistant_prefix;
  for (std::size_t i = 0; i < cases.size(); ++i) {
    const auto& k = cases[i];
    CHECK(k.length == (i < 5 ? 256u : 512u));
    CHECK(k.prompt.front() == tok.bos_id());
    const std::string text = tok.decode(k.prompt);
    CHECK(text.find("Question: ") != std::string::npos);
    CHECK(text.substr(text.size() - marker.size()) == marker);
    CHECK(k.answer_tokens == static_cast<lsk::index_t>(k.answer.size()));
    CHECK((k.family == "retrieval" || k.family == "reasoning" || k.family == "global"));
  }
  CHECK(lsk::eval::synl_rows_needed(cases, 8) >=
        static_cast<lsk::index_t>(cases.back().prompt.size()) + cases.back().answer_tokens + 8);
  c.seed = 0;
  const auto training = lsk::eval::make_synl_cases(tok, c, {256}, 5);
  int same = 0;
  for (std::size_t i = 0; i < 5; ++i) same += training[i].prompt == cases[i].prompt;
  CHECK(same == 0);
}

TEST_CASE("SynL accuracy by family and length through a stand-in model", "[eval][synl]") {
  lsk::data::byte_tokenizer tok;
  lsk::data::synl_config c;
  c.seed = lsk::eval::synl_heldout_seed;
  const auto cases = lsk::eval::make_synl_cases(tok, c, {256, 512}, 24);
  std::map<std::vector<std::int32_t>, const lsk::eval::synl_case*> key;
  std::map<std::string, int> families;
  for (const auto& k : cases) {
    // a table too wide for the shorter length has its minimum rows at both: the same question
    const auto [it, fresh] = key.emplace(k.prompt, &k);
    REQUIRE((fresh || it->second->answer == k.answer));
    ++families[k.family];
  }
  REQUIRE(families.size() == 3);  // every family is asked

  // Right on retrieval, the final line only on reasoning, wrong (an extra item) on global.
  const lsk::index_t slack = 5;
  bool budget_ok = true;
  auto answer = [&](const std::vector<std::int32_t>& prompt, lsk::index_t max_new) {
    const auto* k = key.at(prompt);
    budget_ok = budget_ok && max_new == k->answer_tokens + slack;
    if (k->family == "retrieval") return k->answer;
    if (k->family == "reasoning") return "Answer: " + std::string(synl_final_answer(k->answer, "reasoning"));
    return k->answer + ", R99999";
  };
  std::vector<lsk::eval::synl_answer> recorded;
  auto s = lsk::eval::score_synl_cases(cases, answer, slack, &recorded);
  CHECK(budget_ok);
  // Every question recorded, in case order, with the text generated and its score.
  REQUIRE(recorded.size() == cases.size());
  for (std::size_t i = 0; i < cases.size(); ++i) {
    CHECK(recorded[i].family == cases[i].family);
    CHECK(recorded[i].task == cases[i].task);
    CHECK(recorded[i].length == cases[i].length);
    CHECK(recorded[i].expected == cases[i].answer);
    CHECK(recorded[i].generated == answer(cases[i].prompt, cases[i].answer_tokens + slack));
    CHECK(recorded[i].correct == (cases[i].family != "global"));
  }
  CHECK(s.count() == 48);
  CHECK(s.family_accuracy("retrieval") == 1.0);
  CHECK(s.family_accuracy("reasoning") == 1.0);
  CHECK(s.family_accuracy("global") == 0.0);
  CHECK(s.family_accuracy("unknown") == -1.0);
  CHECK(s.accuracy() == Approx(double(families["retrieval"] + families["reasoning"]) / 48.0));
  CHECK(s.lengths() == std::vector<std::size_t>{256, 512});
  int right256 = 0;
  for (std::size_t i = 0; i < 24; ++i) right256 += cases[i].family != "global";
  CHECK(s.length_accuracy(256) == Approx(right256 / 24.0));
  CHECK(s.accuracy("global", 512) == 0.0);
  CHECK(s.task_accuracy("cell") == (s.task_accuracy("cell") < 0 ? -1.0 : 1.0));

  const std::string table = s.table();
  CHECK(table.find("| information retrieval | 100% (") != std::string::npos);
  CHECK(table.find("| global understanding | 0% (") != std::string::npos);
  CHECK(table.find("| family | 256 | 512 | all |") == 0);
  const auto j = s.to_json();
  CHECK(j["by_family"]["reasoning"].get<double>() == 1.0);
  CHECK(j["by_length"].contains("512"));
  CHECK(j["samples"].get<std::int64_t>() == 48);

  // Worked steps with a wrong final answer score nothing.
  auto wrong_final = [&](const std::vector<std::int32_t>& prompt, lsk::index_t) {
    const auto* k = key.at(prompt);
    return k->family == "reasoning" ? k->answer + "0" : std::string("x");
  };
  const auto w = lsk::eval::score_synl_cases(cases, wrong_final, slack);
  CHECK(w.accuracy() == 0.0);
  CHECK(w.table().find("| all | 0% (24) | 0% (24) | 0% (48) |") != std::string::npos);
}

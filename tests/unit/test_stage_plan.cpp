#include <catch2/catch.hpp>

#include "lsk/schedule/stage_plan.hpp"

namespace {
nlohmann::json good_plan() {
  return nlohmann::json::parse(R"({
    "name": "tiny", "seed": 3,
    "model": {"hidden_size": 64},
    "stages": [
      {"name": "pretrain", "seq_len": 64, "steps": 10, "batch_tokens": 512,
       "data": [{"source": "short"}], "lr": {"schedule": "cosine", "peak": 0.003, "min": 0.0003, "warmup": 2}},
      {"name": "long", "seq_len": 512, "steps": 5, "batch_tokens": 1024, "micro_batches": 2,
       "rope": {"change": "ntk", "target_length": 512},
       "data": [{"source": "cip", "weight": 3, "config": {"docs_per_sample": 4}}, {"source": "short", "weight": 1}],
       "lr": {"schedule": "constant", "peak": 0.001}},
      {"name": "sft-long", "kind": "sft", "seq_len": 512, "steps": 200,
       "data": [{"source": "synl"}], "lr": {"peak": 0.0005}}
    ]})");
}
}  // namespace

TEST_CASE("a valid plan parses with defaults filled in", "[plan]") {
  const auto p = lsk::schedule::parse_plan(good_plan());
  REQUIRE(p.stages.size() == 3);
  CHECK(p.seed == 3);
  CHECK(p.stages[0].sequences_per_step() == 8);
  CHECK(p.stages[0].lr.lr(2) == Approx(0.003));
  CHECK(p.stages[1].rope == lsk::schedule::rope_change::ntk);
  CHECK(p.stages[1].rope_target_length == 512);
  CHECK(p.stages[1].data[0].source == lsk::schedule::data_source::cip);
  CHECK(p.stages[1].data[0].config["docs_per_sample"] == 4);
  CHECK(p.stages[2].kind == lsk::schedule::stage_kind::sft);
  CHECK(p.stages[2].batch_tokens == 512);
  CHECK(p.stages[2].lr.shape() == lsk::schedule::lr_shape::cosine);
}

TEST_CASE("bad plans are rejected with the key path", "[plan][errors]") {
  auto expect = [](auto mutate, const char* message) {
    auto j = good_plan();
    mutate(j);
    CHECK_THROWS_WITH(lsk::schedule::parse_plan(j), Catch::Contains(message));
  };
  expect([](auto& j) { j["stages"][1]["seq_len"] = "long"; }, "plan.stages[1].seq_len: expected an integer");
  expect([](auto& j) { j["stages"][0]["batch_tokens"] = 500; }, "plan.stages[0].batch_tokens: 500 is not a multiple");
  expect([](auto& j) { j["stages"][1]["data"][0]["source"] = "books"; },
         "plan.stages[1].data[0].source: unknown value 'books'");
  expect([](auto& j) { j["stages"][1]["rope"].erase("target_length"); }, "plan.stages[1].rope.target_length: missing");
  expect([](auto& j) { j["stages"][0]["lr"]["warmup"] = 20; }, "plan.stages[0].lr.schedule: lr schedule: warmup 20");
  expect([](auto& j) { j["stages"][2]["name"] = "long"; }, "duplicate stage name 'long'");
  expect([](auto& j) { j["stages"][0]["stepz"] = 1; }, "plan.stages[0].stepz: unknown key");
  expect([](auto& j) { j["stages"][1]["micro_batches"] = 3; }, "plan.stages[1].micro_batches: 3 does not divide");
  expect([](auto& j) { j["stages"] = nlohmann::json::array(); }, "plan.stages: expected a non-empty array");
  expect([](auto& j) { j["stages"][0]["data"][0]["weight"] = 0; }, "plan.stages[0].data[0].weight: must be > 0");
}

TEST_CASE("warmups: the length and the batch double in equal shares of their steps", "[plan]") {
  auto j = good_plan();
  j["stages"][1]["micro_batches"] = 1;
  j["stages"][1]["seq_len_warmup"] = {{"start", 64}, {"steps", 4}};
  j["stages"][1]["batch_tokens_warmup"] = {{"start", 512}, {"steps", 2}};
  const auto p = lsk::schedule::parse_plan(j);
  const auto& s = p.stages[1];
  // 64 -> 128 -> 256 -> 512: four lengths over 4 steps, then 512 to the end.
  std::vector<lsk::index_t> lengths, tokens, sequences;
  for (std::int64_t t = 0; t < 5; ++t) {
    lengths.push_back(s.seq_len_at(t));
    tokens.push_back(s.batch_tokens_at(t));
    sequences.push_back(s.sequences_at(t));
  }
  CHECK(lengths == std::vector<lsk::index_t>{64, 128, 256, 512, 512});
  CHECK(tokens == std::vector<lsk::index_t>{512, 1024, 1024, 1024, 1024});
  CHECK(sequences == std::vector<lsk::index_t>{8, 8, 4, 2, 2});
  CHECK(s.lengths() == std::vector<lsk::index_t>{64, 128, 256, 512});
  // Without warmups: one length, constant values.
  CHECK(p.stages[0].lengths() == std::vector<lsk::index_t>{64});
  CHECK(p.stages[0].seq_len_at(0) == 64);
  CHECK(p.stages[0].batch_tokens_at(9) == 512);
  // Uneven shares: 3 lengths over 7 steps give 3, 2, 2 steps (phase = step * 3 / 7).
  const lsk::schedule::doubling_warmup w{128, 7};
  std::vector<lsk::index_t> uneven;
  for (std::int64_t t = 0; t < 8; ++t) uneven.push_back(w.at(t, 512));
  CHECK(uneven == std::vector<lsk::index_t>{128, 128, 128, 256, 256, 512, 512, 512});
}

TEST_CASE("bad warmups are rejected with the key path", "[plan][errors]") {
  auto expect = [](auto mutate, const char* message) {
    auto j = good_plan();
    mutate(j);
    CHECK_THROWS_WITH(lsk::schedule::parse_plan(j), Catch::Contains(message));
  };
  expect(
      [](auto& j) {
        j["stages"][1]["seq_len_warmup"] = {{"start", 96}, {"steps", 2}};
      },
      "plan.stages[1].seq_len_warmup.start: 96 must double to 512 exactly");
  expect(
      [](auto& j) {
        j["stages"][1]["seq_len_warmup"] = {{"start", 64}, {"steps", 9}};
      },
      "plan.stages[1].seq_len_warmup.steps: 9 is more than the stage's 5 steps");
  expect(
      [](auto& j) {
        j["stages"][1]["seq_len_warmup"] = {{"start", 64}};
      },
      "plan.stages[1].seq_len_warmup.steps: missing");
  expect(
      [](auto& j) {
        j["stages"][1]["seq_len_warmup"] = {{"start", 1}, {"steps", 2}};
      },
      "plan.stages[1].seq_len_warmup.start: must be >= 2");
  expect(
      [](auto& j) {
        j["stages"][1]["seq_len_warmup"] = {{"start", 64}, {"steps", 2}, {"ramp", 1}};
      },
      "plan.stages[1].seq_len_warmup.ramp: unknown key");
  // Batch warmup: whole sequences for every micro-batch at the stage's length (512 x 2).
  expect(
      [](auto& j) {
        j["stages"][1]["batch_tokens_warmup"] = {{"start", 512}, {"steps", 2}};
      },
      "plan.stages[1].batch_tokens_warmup.start: 512 must double to 1024 exactly (1024 / 2^k) and be a multiple of "
      "1024");
}

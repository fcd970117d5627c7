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

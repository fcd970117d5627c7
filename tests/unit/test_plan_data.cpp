// The plan's data sources: every source yields full batches of the stage's
// shape, batches are pure functions of (step, micro), and SFT/SynL batches
// carry loss only on answers.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>

#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/recipe/plan_data.hpp"

namespace {
std::shared_ptr<const lsk::recipe::plan_corpus> small_corpus(const lsk::data::byte_tokenizer& tok) {
  auto c = std::make_shared<lsk::recipe::plan_corpus>();
  for (int d = 0; d < 6; ++d) {
    std::string text;
    for (int s = 0; s < 40; ++s) {
      text += "Document " + std::to_string(d) + " has sentence number " + std::to_string(s) +
              " about the sea and the ship. ";
    }
    c->documents.push_back({"doc" + std::to_string(d) + ".txt", text});
  }
  c->tokens = lsk::data::tokenized_corpus::from_documents(tok, c->documents);
  return c;
}
}  // namespace

TEST_CASE("plan data: every source fills the stage's batches deterministically", "[recipe][data]") {
  auto tok = std::make_shared<const lsk::data::byte_tokenizer>();
  const auto factory = lsk::recipe::make_plan_data(tok, small_corpus(*tok));
  const auto plan = lsk::schedule::parse_plan(nlohmann::json::parse(R"({"stages": [
      {"name": "s", "seq_len": 64, "steps": 4, "batch_tokens": 256, "micro_batches": 2,
       "data": [{"source": "short"}, {"source": "natural_long"}, {"source": "cip", "config": {"docs_per_sample": 2}}],
       "lr": {"peak": 0.001}},
      {"name": "sft", "kind": "sft", "seq_len": 1024, "steps": 2, "batch_tokens": 2048,
       "data": [{"source": "sft"}, {"source": "synl", "weight": 2}], "lr": {"peak": 0.001}}]})"));
  for (const auto& stage : plan.stages) {
    auto a = factory(stage, 7), b = factory(stage, 7);
    for (std::int64_t step = 0; step < 3; ++step) {
      for (lsk::index_t micro = 0; micro < stage.micro_batches; ++micro) {
        const auto x = a->batch(step, micro), y = b->batch(step, micro);
        CHECK(x.batch == stage.sequences_per_step() / stage.micro_batches);
        CHECK(x.seq_len == stage.seq_len);
        CHECK(x.tokens.values() == y.tokens.values());
        CHECK(x.targets.values() == y.targets.values());
        CHECK(x.valid_tokens() > 0);
        if (stage.kind == lsk::schedule::stage_kind::sft) CHECK(x.valid_tokens() < x.size() / 2);
      }
    }
    CHECK(a->batch(0, 0).tokens.values() != a->batch(1, 0).tokens.values());
  }
}

TEST_CASE("plan data: a stage with warmups serves each step's length and sequences", "[recipe][data]") {
  auto tok = std::make_shared<const lsk::data::byte_tokenizer>();
  const auto factory = lsk::recipe::make_plan_data(tok, small_corpus(*tok));
  const auto plan = lsk::schedule::parse_plan(nlohmann::json::parse(R"({"stages": [
      {"name": "s", "seq_len": 512, "steps": 8, "batch_tokens": 2048, "micro_batches": 2,
       "seq_len_warmup": {"start": 128, "steps": 3}, "batch_tokens_warmup": {"start": 1024, "steps": 2},
       "data": [{"source": "cip", "config": {"docs_per_sample": 2}}, {"source": "synl"}], "lr": {"peak": 0.001}}]})"));
  const auto& stage = plan.stages[0];
  auto a = factory(stage, 3), b = factory(stage, 3);
  std::vector<std::vector<std::int32_t>> seen;
  for (std::int64_t step = 0; step < 5; ++step) {
    for (lsk::index_t micro = 0; micro < 2; ++micro) {
      CAPTURE(step, micro);
      const auto x = a->batch(step, micro);
      CHECK(x.seq_len == stage.seq_len_at(step));
      CHECK(x.batch == stage.sequences_at(step) / 2);
      CHECK(x.tokens.values() == b->batch(step, micro).tokens.values());  // a pure function of (step, micro)
      CHECK(x.valid_tokens() > 0);
      seen.push_back(x.tokens.values());
    }
  }
  CHECK(stage.seq_len_at(0) == 128);
  CHECK(stage.seq_len_at(4) == 512);
  // Every micro-batch draws samples of its own.
  for (std::size_t i = 1; i < seen.size(); ++i) CHECK(seen[i] != seen[i - 1]);
  // Sources are checked at every length the stage trains at: SynL tables of half of 64 tokens are too short.
  auto bad = nlohmann::json::parse(R"({"stages": [
      {"name": "s", "seq_len": 256, "steps": 8, "seq_len_warmup": {"start": 64, "steps": 3},
       "data": [{"source": "synl"}], "lr": {"peak": 0.001}}]})");
  CHECK_THROWS_WITH(lsk::recipe::validate_plan_data(lsk::schedule::parse_plan(bad), "p.json"),
                    Catch::Contains("p.json: stage 's' (length 64) data[0].config.target_tokens: must be at least 64"));
}

TEST_CASE("plan data: every shipped plan's sources validate; a bad key in a late stage names it", "[recipe][data]") {
  std::size_t plans = 0;
  for (const auto& file :
       std::filesystem::directory_iterator(std::filesystem::path(LSK_SOURCE_DIR) / "configs/plans")) {
    if (file.path().extension() != ".json") continue;
    INFO(file.path());
    std::ifstream in(file.path());
    const auto plan = lsk::schedule::parse_plan(nlohmann::json::parse(in), file.path().string());
    CHECK_NOTHROW(lsk::recipe::validate_plan_data(plan));
    ++plans;
  }
  CHECK(plans >= 3);
  const auto bad = lsk::schedule::parse_plan(nlohmann::json::parse(R"({"stages": [
      {"name": "first", "seq_len": 64, "steps": 4, "batch_tokens": 256, "data": [{"source": "short"}], "lr": {"peak": 0.001}},
      {"name": "late", "kind": "sft", "seq_len": 256, "steps": 2, "batch_tokens": 512,
       "data": [{"source": "cip"}, {"source": "sft", "config": {"recall_phrasings": [{"fact": "{key}", "question": "{key}?"}]}}],
       "lr": {"peak": 0.001}}]})"));
  CHECK_THROWS_WITH(lsk::recipe::validate_plan_data(bad),
                    Catch::Contains("stage 'late' data[1].config.recall_phrasings[0].fact"));
  const auto typo = lsk::schedule::parse_plan(nlohmann::json::parse(R"({"stages": [
      {"name": "s", "seq_len": 64, "steps": 4, "batch_tokens": 256, "data": [{"source": "synl", "config": {"rows": 3}}],
       "lr": {"peak": 0.001}}]})"));
  CHECK_THROWS_WITH(lsk::recipe::validate_plan_data(typo),
                    Catch::Contains("stage 's' data[0].config.rows") && Catch::Contains("unknown key"));
}

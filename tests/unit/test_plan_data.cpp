// The plan's data sources: every source yields full batches of the stage's
// shape, batches are pure functions of (step, micro), and SFT/SynL batches
// carry loss only on answers.
#include <catch2/catch.hpp>

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

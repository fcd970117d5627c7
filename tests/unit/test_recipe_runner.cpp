// The recipe runner on a tiny three-stage plan: every stage trains (loss
// falls), the RoPE change is recorded in the saved config, outputs exist, and
// a run killed mid-stage resumes to exactly the uninterrupted result.
#include <filesystem>
#include <fstream>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/recipe/stream_data.hpp"

namespace {
namespace fs = std::filesystem;
using lsk::index_t;

struct killed : std::runtime_error {
  killed() : std::runtime_error("killed") {}
};

lsk::schedule::recipe_plan tiny_plan() {
  return lsk::schedule::parse_plan(nlohmann::json::parse(R"({
    "name": "tiny", "seed": 5,
    "stages": [
      {"name": "pretrain", "seq_len": 16, "steps": 12, "batch_tokens": 64,
       "data": [{"source": "short"}], "lr": {"schedule": "cosine", "peak": 0.01, "warmup": 2}},
      {"name": "long", "seq_len": 48, "steps": 6, "batch_tokens": 96, "micro_batches": 2, "checkpoint_every": 2,
       "rope": {"change": "ntk", "target_length": 64},
       "data": [{"source": "short"}], "lr": {"schedule": "constant", "peak": 0.005}},
      {"name": "sft", "kind": "sft", "seq_len": 48, "steps": 4, "batch_tokens": 48,
       "data": [{"source": "short"}], "lr": {"peak": 0.002}}
    ]})"));
}

lsk::model::hf_config tiny_config() {
  lsk::model::hf_config c;
  c.model.vocab_size = 16;
  c.model.hidden_size = 16;
  c.model.intermediate_size = 32;
  c.model.num_hidden_layers = 1;
  c.model.num_attention_heads = 2;
  c.model.num_key_value_heads = 1;
  c.model.max_position_embeddings = 16;
  return c;
}

std::vector<lsk::recipe::stage_result> run(const fs::path& out, std::int64_t kill_at_long_step = -1,
                                           const lsk::schedule::recipe_plan& plan = tiny_plan()) {
  auto tokens = std::make_shared<std::vector<std::int32_t>>();
  for (int i = 0; i < 4000; ++i) tokens->push_back((i * 7 + i / 13) % 16);  // a learnable pattern
  lsk::recipe::data_factory make = [&](const lsk::schedule::stage_plan& s, std::uint64_t seed) {
    struct maybe_killed : lsk::recipe::stream_data {
      using stream_data::stream_data;
      std::int64_t kill_at = -1;
      lsk::model::token_batch batch(std::int64_t step, index_t micro) override {
        if (step == kill_at) throw killed();
        return stream_data::batch(step, micro);
      }
    };
    auto d = std::make_unique<maybe_killed>(tokens, s.seq_len, s.sequences_per_step() / s.micro_batches, seed);
    if (s.name == "long") d->kill_at = kill_at_long_step;
    return d;
  };
  lsk::recipe::stage_evaluator eval = [](lsk::model::llama<float>& m, const lsk::model::hf_config& c,
                                         const lsk::schedule::stage_plan&) {
    return nlohmann::json{{"layers", m.config.num_hidden_layers}, {"theta", c.rope.theta}};
  };
  lsk::backends::cpu be;
  std::FILE* quiet = std::fopen("/dev/null", "w");
  auto r = lsk::recipe::run(be, plan, tiny_config(), make, eval, {.out_dir = out, .resume = true, .log = quiet});
  std::fclose(quiet);
  return r;
}
}  // namespace

TEST_CASE("recipe runner: stages train, outputs exist, kill and resume give the same result", "[recipe]") {
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe";
  fs::remove_all(root);
  const auto full = run(root / "full");
  REQUIRE(full.size() == 3);
  for (const auto& s : full) {
    INFO(s.name << ": " << s.first_loss << " -> " << s.last_loss);
    CHECK(s.last_loss < s.first_loss);
  }
  CHECK(full[1].eval["theta"].get<double>() > 10000.0);  // NTK-aware base after the rope change
  for (const char* f : {"plan.json", "metrics.jsonl", "stages/pretrain/done.json", "stages/long/final/config.json",
                        "stages/sft/final/model.safetensors"}) {
    CHECK(fs::exists(root / "full" / f));
  }
  const auto saved = lsk::model::load_hf_config(root / "full" / "stages" / "long" / "final" / "config.json");
  CHECK(saved.rope.theta == Approx(full[1].eval["theta"].get<double>()));
  CHECK(saved.model.max_position_embeddings == 64);

  CHECK_THROWS_AS(run(root / "killed", 3), killed);  // dies in stage "long" after its step-2 checkpoint
  CHECK(fs::exists(root / "killed" / "stages" / "long" / "checkpoints" / "latest"));
  const auto resumed = run(root / "killed");
  REQUIRE(resumed.size() == 3);
  for (std::size_t i = 0; i < 3; ++i) {
    CHECK(resumed[i].first_loss == full[i].first_loss);
    CHECK(resumed[i].last_loss == full[i].last_loss);
  }
  std::ifstream a(root / "full" / "metrics.jsonl"), b(root / "killed" / "metrics.jsonl");
  std::string la, lb;
  int lines = 0;
  while (std::getline(a, la)) {
    REQUIRE(std::getline(b, lb));
    const auto ja = nlohmann::json::parse(la), jb = nlohmann::json::parse(lb);
    CHECK(ja["stage"] == jb["stage"]);
    CHECK(ja["step"] == jb["step"]);
    CHECK(ja["loss"] == jb["loss"]);
    ++lines;
  }
  CHECK_FALSE(std::getline(b, lb));
  CHECK(lines == 12 + 6 + 4);
  fs::remove_all(root);
}

TEST_CASE("recipe runner: resuming an output directory made by another plan is refused", "[recipe]") {
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe_changed";
  fs::remove_all(root);
  run(root);
  auto changed = tiny_plan().source;
  changed["stages"][2]["steps"] = 5;  // a finished stage would otherwise be taken as done
  const auto plan = lsk::schedule::parse_plan(changed);
  try {
    run(root, -1, plan);
    FAIL("resume with a changed plan was accepted");
  } catch (const lsk::config_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("plan.json") && Catch::Contains("\"stages\"") && Catch::Contains("--fresh"));
  }
  auto same_training = tiny_plan().source;
  same_training["eval"] = {{"perplexity", {{"lengths", {16}}}}};  // evaluation settings may change
  CHECK_NOTHROW(run(root, -1, lsk::schedule::parse_plan(same_training)));
  fs::remove_all(root);
}

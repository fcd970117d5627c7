// The recipe runner on a tiny three-stage plan: every stage trains (loss
// falls), the RoPE change is recorded in the saved config, outputs exist, and
// a run killed mid-stage or at a stage boundary resumes to exactly the
// uninterrupted result, with either attention kernel.
#include <filesystem>
#include <fstream>
#include <optional>

#include <catch2/catch.hpp>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/dist/thread_communicator.hpp"
#include "lsk/recipe/stream_data.hpp"
#include "lsk/testing/pretend_device.hpp"

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

struct kill_point {
  std::string stage;
  std::int64_t step = -1;  // the run dies when it asks for this step's batch
};

template <lsk::Backend B = lsk::backends::cpu>
std::vector<lsk::recipe::stage_result> run(
    const fs::path& out, const kill_point& kill = {}, const lsk::schedule::recipe_plan& plan = tiny_plan(),
    lsk::attention::attention_kind attention = lsk::attention::attention_kind::naive, const fs::path& init_model = {},
    std::optional<lsk::dist::any_communicator> data_parallel = {},
    std::optional<lsk::dist::any_communicator> context_parallel = {}) {
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
    auto d = std::make_unique<maybe_killed>(tokens, s, seed);
    if (s.name == kill.stage) d->kill_at = kill.step;
    return d;
  };
  lsk::recipe::stage_evaluator eval = [](lsk::model::llama<float>& m, const lsk::model::hf_config& c,
                                         const lsk::schedule::stage_plan&) {
    return nlohmann::json{
        {"layers", m.config.num_hidden_layers}, {"theta", c.rope.theta}, {"on_host", m.memory() == nullptr}};
  };
  B be;
  std::FILE* quiet = std::fopen("/dev/null", "w");
  auto config = tiny_config();
  config.model.attention = attention;
  try {
    auto r = lsk::recipe::run(be, plan, config, make, eval,
                              {.out_dir = out,
                               .resume = true,
                               .log = quiet,
                               .init_model = init_model,
                               .parallel = {std::move(data_parallel), std::move(context_parallel)}});
    std::fclose(quiet);
    return r;
  } catch (...) {
    std::fclose(quiet);
    throw;
  }
}

// The same run on `groups` data groups of `context` context-parallel ranks each
// (threads; context 1: data parallelism alone); rank 0's results.
std::vector<lsk::recipe::stage_result> run_on_ranks(int groups, int context, const fs::path& out,
                                                    const kill_point& kill, const lsk::schedule::recipe_plan& plan,
                                                    lsk::attention::attention_kind attention) {
  std::vector<lsk::recipe::stage_result> rank0;
  lsk::dist::thread_grid grid(groups, context);
  grid.run([&](lsk::dist::thread_communicator& world, lsk::dist::thread_communicator& ctx) {
    std::optional<lsk::dist::any_communicator> sequence_ranks;
    if (context > 1) sequence_ranks.emplace(ctx);
    auto r = run(out, kill, plan, attention, {}, lsk::dist::any_communicator(world), std::move(sequence_ranks));
    if (world.rank() == 0) rank0 = std::move(r);
  });
  return rank0;
}
std::vector<lsk::recipe::stage_result> run_data_parallel(int ranks, const fs::path& out, const kill_point& kill,
                                                         const lsk::schedule::recipe_plan& plan) {
  return run_on_ranks(ranks, 1, out, kill, plan, lsk::attention::attention_kind::naive);
}
std::vector<lsk::recipe::stage_result> run_context_parallel(int groups, int context, const fs::path& out,
                                                            const kill_point& kill,
                                                            const lsk::schedule::recipe_plan& plan) {
  return run_on_ranks(groups, context, out, kill, plan, lsk::attention::attention_kind::tiled);
}

std::vector<double> losses(const fs::path& metrics) {
  std::ifstream in(metrics);
  std::vector<double> out;
  for (std::string line; std::getline(in, line);) out.push_back(nlohmann::json::parse(line)["loss"].get<double>());
  return out;
}

std::vector<float> final_weights(const fs::path& stage_final) {
  std::vector<float> out;
  lsk::model::load_hf_checkpoint<float>(stage_final)
      .weights.for_each([&](const std::string&, const lsk::tensor<float>& t) {
        out.insert(out.end(), t.values().begin(), t.values().end());
      });
  return out;
}
}  // namespace

TEST_CASE("recipe runner: stages train, outputs exist, kill and resume give the same result", "[recipe]") {
  const auto attention = GENERATE(lsk::attention::attention_kind::naive, lsk::attention::attention_kind::tiled);
  // Killed mid-stage (after a checkpoint) or at a stage's first step (the stage
  // starts again from the previous stage's saved weights).
  const auto kill = GENERATE(kill_point{"long", 3}, kill_point{"sft", 1});
  INFO("attention " << (attention == lsk::attention::attention_kind::tiled ? "tiled" : "naive") << ", killed at "
                    << kill.stage << " step " << kill.step);
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe";
  fs::remove_all(root);
  const auto full = run(root / "full", {}, tiny_plan(), attention);
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

  CHECK_THROWS_AS(run(root / "killed", kill, tiny_plan(), attention), killed);
  if (kill.stage == "long") CHECK(fs::exists(root / "killed" / "stages" / "long" / "checkpoints" / "latest"));
  const auto resumed = run(root / "killed", {}, tiny_plan(), attention);
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

TEST_CASE("recipe runner: on a device backend a plan trains exactly as on the cpu; kill and resume",
          "[recipe][device]") {
  using device = lsk::testing::pretend_device<lsk::backends::cpu>;
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe_device";
  fs::remove_all(root);
  const auto host = run(root / "host");
  const auto on_device = run<device>(root / "device");
  REQUIRE(on_device.size() == host.size());
  for (std::size_t i = 0; i < host.size(); ++i) {
    CHECK(on_device[i].first_loss == host[i].first_loss);
    CHECK(on_device[i].last_loss == host[i].last_loss);
    CHECK(on_device[i].eval["on_host"] == true);  // the evaluator gets a host copy
  }
  CHECK(losses(root / "device" / "metrics.jsonl") == losses(root / "host" / "metrics.jsonl"));
  for (const char* stage : {"pretrain", "long", "sft"}) {
    CHECK(final_weights(root / "device" / "stages" / stage / "final") ==
          final_weights(root / "host" / "stages" / stage / "final"));
  }
  CHECK_THROWS_AS(run<device>(root / "killed", {"long", 3}), killed);
  run<device>(root / "killed");
  CHECK(losses(root / "killed" / "metrics.jsonl") == losses(root / "host" / "metrics.jsonl"));
  CHECK(final_weights(root / "killed" / "stages" / "sft" / "final") ==
        final_weights(root / "host" / "stages" / "sft" / "final"));
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
    run(root, {}, plan);
    FAIL("resume with a changed plan was accepted");
  } catch (const lsk::config_error& e) {
    CHECK_THAT(e.what(), Catch::Contains("plan.json") && Catch::Contains("\"stages\"") && Catch::Contains("--fresh"));
  }
  auto same_training = tiny_plan().source;
  same_training["eval"] = {{"perplexity", {{"lengths", {16}}}}};  // evaluation settings may change
  CHECK_NOTHROW(run(root, {}, lsk::schedule::parse_plan(same_training)));
  fs::remove_all(root);
}

TEST_CASE("recipe runner: the first stage can start from a saved model", "[recipe]") {
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe_init";
  fs::remove_all(root);
  const auto trained = run(root / "trained");
  const auto naive = lsk::attention::attention_kind::naive;
  auto sft_only = tiny_plan().source;
  sft_only["stages"] = nlohmann::json::array({sft_only["stages"][2]});
  const auto plan = lsk::schedule::parse_plan(sft_only);
  const auto from_scratch = run(root / "scratch", {}, plan, naive);
  const fs::path init = root / "trained" / "stages" / "long" / "final";
  const auto continued = run(root / "continued", {}, plan, naive, init);
  REQUIRE(continued.size() == 1);
  // The same stage, data and seed: only the starting weights differ. The trained
  // ones start near where the three-stage run's last stage did, and keep the
  // long stage's RoPE.
  CHECK(continued[0].first_loss < from_scratch[0].first_loss - 0.5);
  CHECK(continued[0].first_loss == Approx(trained[2].first_loss).margin(0.1));
  const auto saved = lsk::model::load_hf_config(root / "continued" / "stages" / "sft" / "final" / "config.json");
  CHECK(saved.rope.theta == Approx(trained[1].eval["theta"].get<double>()));
  CHECK(lsk::position::load_json_file(root / "continued" / "plan.json")["init"] == init.string());
  CHECK_THROWS_AS(run(root / "continued", {}, plan), lsk::config_error);  // resumed without the same init
  fs::remove_all(root);
}

TEST_CASE("recipe runner: 2 data-parallel ranks train as one rank on the whole batch; kill and resume",
          "[recipe][dist]") {
  // Every micro-batch has an even number of sequences, so the two ranks split it.
  const auto plan = lsk::schedule::parse_plan(nlohmann::json::parse(R"({
    "name": "tiny-dp", "seed": 5,
    "stages": [
      {"name": "pretrain", "seq_len": 16, "steps": 10, "batch_tokens": 64,
       "data": [{"source": "short"}], "lr": {"schedule": "cosine", "peak": 0.01, "warmup": 2}},
      {"name": "long", "seq_len": 48, "steps": 6, "batch_tokens": 192, "micro_batches": 2, "checkpoint_every": 2,
       "rope": {"change": "ntk", "target_length": 64},
       "data": [{"source": "short"}], "lr": {"schedule": "constant", "peak": 0.005}}
    ]})"));
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe_dp";
  fs::remove_all(root);
  const auto single = run(root / "single", {}, plan);
  const auto dp = run_data_parallel(2, root / "dp", {}, plan);
  REQUIRE(dp.size() == 2);
  for (std::size_t i = 0; i < 2; ++i) {
    CHECK(dp[i].eval == single[i].eval);  // rank 0 evaluated
    CHECK(dp[i].last_loss < dp[i].first_loss);
  }
  // The same losses, step by step, and the same final weights, up to the order
  // of the gradient sums.
  const auto ls = losses(root / "single" / "metrics.jsonl"), ld = losses(root / "dp" / "metrics.jsonl");
  REQUIRE(ls.size() == 16);
  REQUIRE(ld.size() == 16);
  for (std::size_t i = 0; i < ls.size(); ++i) CHECK(ld[i] == Approx(ls[i]).epsilon(1e-4));
  const auto ws = final_weights(root / "single" / "stages" / "long" / "final");
  const auto wd = final_weights(root / "dp" / "stages" / "long" / "final");
  REQUIRE(ws.size() == wd.size());
  double max_diff = 0;
  for (std::size_t i = 0; i < ws.size(); ++i) max_diff = std::max(max_diff, double(std::abs(ws[i] - wd[i])));
  CHECK(max_diff < 1e-3);
  CHECK(max_diff > 0);  // a different summation order, not the same computation
  // Killed mid-stage on every rank, resumed on 2 ranks: the uninterrupted data-parallel run, bit for bit.
  CHECK_THROWS_AS(run_data_parallel(2, root / "killed", {"long", 3}, plan), killed);
  CHECK(fs::exists(root / "killed" / "stages" / "long" / "checkpoints" / "latest"));
  const auto resumed = run_data_parallel(2, root / "killed", {}, plan);
  REQUIRE(resumed.size() == 2);
  CHECK(losses(root / "killed" / "metrics.jsonl") == ld);
  CHECK(final_weights(root / "killed" / "stages" / "long" / "final") == wd);
  // Ranks that do not divide a micro-batch's sequences: an error that says so.
  CHECK_THROWS_WITH(run_data_parallel(3, root / "three", {}, plan),
                    Catch::Contains("3 data-parallel ranks do not divide the 4 sequences"));
  fs::remove_all(root);
}

TEST_CASE("recipe runner: context parallelism (2 ranks per sequence, alone and in 2 data groups) trains as one rank",
          "[recipe][dist]") {
  const auto plan = lsk::schedule::parse_plan(nlohmann::json::parse(R"({
    "name": "tiny-cp", "seed": 5,
    "stages": [
      {"name": "pretrain", "seq_len": 16, "steps": 8, "batch_tokens": 64,
       "data": [{"source": "short"}], "lr": {"schedule": "cosine", "peak": 0.01, "warmup": 2}},
      {"name": "long", "seq_len": 48, "steps": 6, "batch_tokens": 192, "micro_batches": 2, "checkpoint_every": 2,
       "rope": {"change": "ntk", "target_length": 64},
       "data": [{"source": "short"}], "lr": {"schedule": "constant", "peak": 0.005}}
    ]})"));
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe_cp";
  fs::remove_all(root);
  const auto single = run(root / "single", {}, plan, lsk::attention::attention_kind::tiled);
  const auto ls = losses(root / "single" / "metrics.jsonl");
  REQUIRE(ls.size() == 14);
  const auto ws = final_weights(root / "single" / "stages" / "long" / "final");
  for (const int groups : {1, 2}) {
    CAPTURE(groups);
    const fs::path out = root / ("cp2x" + std::to_string(groups));
    const auto cp = run_context_parallel(groups, 2, out, {}, plan);
    REQUIRE(cp.size() == 2);
    for (std::size_t i = 0; i < 2; ++i) {
      CHECK(cp[i].eval == single[i].eval);
      CHECK(cp[i].last_loss < cp[i].first_loss);
    }
    const auto lc = losses(out / "metrics.jsonl");
    REQUIRE(lc.size() == ls.size());
    for (std::size_t i = 0; i < ls.size(); ++i) CHECK(lc[i] == Approx(ls[i]).epsilon(1e-4));
    const auto wc = final_weights(out / "stages" / "long" / "final");
    REQUIRE(wc.size() == ws.size());
    double max_diff = 0;
    for (std::size_t i = 0; i < ws.size(); ++i) max_diff = std::max(max_diff, double(std::abs(ws[i] - wc[i])));
    CHECK(max_diff < 1e-3);
    CHECK(max_diff > 0);  // ring attention and split gradient sums: another summation order
  }
  // 2 x 2 ranks killed mid-stage and resumed: the uninterrupted 2 x 2 run, bit for bit.
  CHECK_THROWS_AS(run_context_parallel(2, 2, root / "killed", {"long", 3}, plan), killed);
  REQUIRE(run_context_parallel(2, 2, root / "killed", {}, plan).size() == 2);
  CHECK(losses(root / "killed" / "metrics.jsonl") == losses(root / "cp2x2" / "metrics.jsonl"));
  CHECK(final_weights(root / "killed" / "stages" / "long" / "final") ==
        final_weights(root / "cp2x2" / "stages" / "long" / "final"));
  // Context ranks without the communicator of all ranks: an error that says what is needed.
  lsk::dist::thread_world pair(2);
  CHECK_THROWS_WITH(pair.run([&](lsk::dist::thread_communicator& comm) {
    run(root / "no-world", {}, plan, lsk::attention::attention_kind::tiled, {}, {}, lsk::dist::any_communicator(comm));
  }),
                    Catch::Contains("context parallelism over 2 ranks needs data_parallel to be the communicator of "
                                    "all ranks"));
  // 3 ranks per sequence do not split 16 tokens: an error that says so.
  CHECK_THROWS_WITH(run_context_parallel(1, 3, root / "three", {}, plan),
                    Catch::Contains("3 context-parallel ranks need sequence lengths that are multiples of 6") &&
                        Catch::Contains("has 16 tokens"));
  fs::remove_all(root);
}

TEST_CASE("recipe runner: sequence-length and batch-size warmups are followed, logged, and resumed exactly",
          "[recipe]") {
  const auto plan = lsk::schedule::parse_plan(nlohmann::json::parse(R"({
    "name": "tiny-warmup", "seed": 5,
    "stages": [
      {"name": "pretrain", "seq_len": 32, "steps": 10, "batch_tokens": 128, "micro_batches": 2, "checkpoint_every": 2,
       "seq_len_warmup": {"start": 8, "steps": 6}, "batch_tokens_warmup": {"start": 64, "steps": 4},
       "data": [{"source": "short"}], "lr": {"schedule": "cosine", "peak": 0.01, "warmup": 2}}
    ]})"));
  const fs::path root = fs::temp_directory_path() / "lsk_test_recipe_warmup";
  fs::remove_all(root);
  const auto r = run(root / "whole", {}, plan);
  REQUIRE(r.size() == 1);
  CHECK(r[0].last_loss < r[0].first_loss);
  std::ifstream in(root / "whole" / "metrics.jsonl");
  std::vector<std::int64_t> lengths, tokens;
  for (std::string line; std::getline(in, line);) {
    const auto j = nlohmann::json::parse(line);
    lengths.push_back(j["seq_len"].get<std::int64_t>());
    tokens.push_back(j["tokens"].get<std::int64_t>());
  }
  // Length 8, 16, 32 in thirds of 6 steps; tokens 64 then 128 in halves of 4 steps (every token bears loss).
  CHECK(lengths == std::vector<std::int64_t>{8, 8, 16, 16, 32, 32, 32, 32, 32, 32});
  CHECK(tokens == std::vector<std::int64_t>{64, 64, 128, 128, 128, 128, 128, 128, 128, 128});
  // Killed inside the warmup and resumed: the uninterrupted run, bit for bit.
  CHECK_THROWS_AS(run(root / "killed", {"pretrain", 3}, plan), killed);
  run(root / "killed", {}, plan);
  CHECK(losses(root / "killed" / "metrics.jsonl") == losses(root / "whole" / "metrics.jsonl"));
  CHECK(final_weights(root / "killed" / "stages" / "pretrain" / "final") ==
        final_weights(root / "whole" / "stages" / "pretrain" / "final"));
  fs::remove_all(root);
}

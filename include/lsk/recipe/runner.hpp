// lsk/recipe/runner.hpp: runs a stage plan end to end on a backend.
//
// For each stage in order: start from the previous stage's final weights (or a
// seeded random init for the first), apply the stage's RoPE change (recorded in
// the saved config.json), train `steps` optimizer steps on batches from the
// stage's data source with the stage's schedule, checkpointing every
// `checkpoint_every` steps, save the final weights as a Hugging Face
// directory, evaluate, and mark the stage done.
// Output directory:
//   plan.json                       the plan as run
//   metrics.jsonl                   one line per step: stage, step, loss, lr, grad_norm, tokens, tokens/s, seq_len
//                                   (the step's length and tokens under a stage's warmups)
//   stages/NAME/checkpoints/        training checkpoints (lsk/train/checkpoint.hpp)
//   stages/NAME/final/              config.json + model.safetensors after the stage
//   stages/NAME/done.json           stage summary and evaluation; written last
// The first stage starts from run_options::init_model (a Hugging Face directory)
// when given: continual training of an existing model.
// Resume: run() again with the same directory skips stages with done.json and
// continues the current stage from its newest checkpoint; metric lines past the
// checkpoint are dropped first, so the file reads as one uninterrupted run.
// Data parallel (run_options::parallel.data_parallel): every rank calls run() with the
// same plan, directory and data factory and its own backend and communicator;
// each stage trains with lsk/train/trainer.hpp's data parallelism (the ranks
// split every micro-batch's rows). Rank 0 alone writes the directory, logs,
// and evaluates; the other ranks keep the same weights in memory.
// Context parallel (run_options::parallel.context_parallel, with data_parallel the
// communicator of all ranks): each stage trains with the trainer's context
// parallelism (every sequence split over the P ranks of a data group, ring
// attention); evaluation is rank 0's, on whole sequences.
// Device backends (DeviceMemory, e.g. lsk::cuda::backend): each stage's model
// trains in the backend's memory (weights, gradients, optimizer moments,
// activations); checkpoints, the final weights and the stage evaluator get
// host copies (the evaluator runs the model with its own host backend).
#pragma once

#include <chrono>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/position/rope.hpp"
#include "lsk/position/rope_edit.hpp"
#include "lsk/recipe/progress.hpp"
#include "lsk/schedule/stage_plan.hpp"
#include "lsk/train/trainer.hpp"

namespace lsk::recipe {

// The batches of one stage: micro-batch `micro` of optimizer step `step`, a pure
// function of its arguments (and of the seed the factory was given).
class stage_data {
 public:
  virtual ~stage_data() = default;
  virtual model::token_batch batch(std::int64_t step, index_t micro) = 0;
};

using data_factory = std::function<std::unique_ptr<stage_data>(const schedule::stage_plan&, std::uint64_t seed)>;
// Called after each stage with the trained model; returns the stage's metrics.
using stage_evaluator =
    std::function<nlohmann::json(model::llama<float>&, const model::hf_config&, const schedule::stage_plan&)>;

struct run_options {
  std::filesystem::path out_dir = "out";
  bool resume = true;
  std::FILE* log = stdout;
  std::filesystem::path init_model;  // empty: the first stage starts from a seeded random init
  train::parallelism parallel;       // the ranks that train together (empty: this one alone)
};

struct stage_result {
  std::string name;
  std::int64_t steps = 0;
  double first_loss = 0, last_loss = 0, seconds = 0;
  nlohmann::json eval = nlohmann::json::object();
};

namespace detail {
inline position::rope_config apply_rope_change(const schedule::stage_plan& s, position::rope_config rope) {
  switch (s.rope) {
    case schedule::rope_change::none:
      return rope;
    case schedule::rope_change::base:
      return position::with_base(rope, s.rope_theta);
    case schedule::rope_change::ntk:
      return position::with_ntk_scaling(rope, s.rope_target_length);
    case schedule::rope_change::linear:
      return position::with_linear_scaling(rope, s.rope_target_length);
    case schedule::rope_change::yarn:
      return position::with_yarn(rope, s.rope_target_length);
  }
  return rope;
}

// Keeps the metric lines of stages before `stage` and of `stage` up to `step`.
inline void truncate_metrics(const std::filesystem::path& path, const std::vector<std::string>& earlier_stages,
                             const std::string& stage, std::int64_t step) {
  std::ifstream in(path);
  if (!in) return;
  std::string kept, line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (j.is_discarded()) continue;  // a torn last line from a kill
    const std::string name = j.value("stage", "");
    const bool earlier = std::find(earlier_stages.begin(), earlier_stages.end(), name) != earlier_stages.end();
    if (earlier || (name == stage && j.value("step", std::int64_t{0}) <= step)) kept += line + "\n";
  }
  io::atomic_write(path, [&](io::atomic_file& f) { f.write(kept); });
}
// The loss logged for step 1 of `stage` (0 when absent).
inline double first_logged_loss(const std::filesystem::path& path, const std::string& stage) {
  std::ifstream in(path);
  std::string line;
  while (std::getline(in, line)) {
    const auto j = nlohmann::json::parse(line, nullptr, false);
    if (!j.is_discarded() && j.value("stage", "") == stage && j.value("step", std::int64_t{0}) == 1) {
      return j.value("loss", 0.0);
    }
  }
  return 0.0;
}
// A resumed run must train what the finished stages were trained with: the
// seed, the model, the stages and the initial weights recorded in OUT/plan.json (evaluation
// settings may change). Records without stages (older runs) are not checked.
inline void check_same_plan(const std::filesystem::path& recorded, const nlohmann::json& current) {
  if (!std::filesystem::exists(recorded)) return;
  const auto before = position::load_json_file(recorded);
  if (!before.contains("stages")) return;
  for (const char* key : {"seed", "model", "stages", "init"}) {
    if (before.value(key, nlohmann::json()) != current.value(key, nlohmann::json())) {
      raise<config_error>(recorded.string(), ": this output directory was made by a plan with a different \"", key,
                          "\"; resuming would mix the two (start over with --fresh, or choose another output "
                          "directory)");
    }
  }
}
}  // namespace detail

template <Backend B>
std::vector<stage_result> run(B& be, const schedule::recipe_plan& plan, model::hf_config config,
                              const data_factory& make_data, const stage_evaluator& evaluate,
                              const run_options& options) {
  namespace fs = std::filesystem;
  const bool writer =
      !options.parallel.data_parallel || options.parallel.data_parallel->rank() == 0;  // writes files and logs
  std::FILE* const log = writer ? options.log : nullptr;
  if (writer) fs::create_directories(options.out_dir);
  nlohmann::json plan_record = {{"name", plan.name}, {"seed", plan.seed}, {"model", plan.model}};
  if (plan.source.contains("stages")) plan_record["stages"] = plan.source["stages"];
  if (!options.init_model.empty()) plan_record["init"] = options.init_model.string();
  if (options.resume) detail::check_same_plan(options.out_dir / "plan.json", plan_record);
  const fs::path metrics_path = options.out_dir / "metrics.jsonl";
  if (writer) {
    io::atomic_write(options.out_dir / "plan.json", [&](io::atomic_file& f) { f.write(plan_record.dump(1) + "\n"); });
    if (!options.resume) fs::remove(metrics_path);
  }

  [[maybe_unused]] auto device = [&] {
    if constexpr (DeviceMemory<B>) {
      return backend_memory<B>(be);
    } else {
      return 0;
    }
  }();
  std::vector<stage_result> results;
  std::vector<std::string> finished;
  std::optional<model::hf_checkpoint<float>> previous;  // the weights the next stage starts from
  for (std::size_t si = 0; si < plan.stages.size(); ++si) {
    const auto& stage = plan.stages[si];
    const fs::path stage_dir = options.out_dir / "stages" / stage.name;
    if (options.resume && fs::exists(stage_dir / "done.json")) {
      const auto done = position::load_json_file(stage_dir / "done.json");
      results.push_back({stage.name, done.value("steps", std::int64_t{0}), done.value("first_loss", 0.0),
                         done.value("last_loss", 0.0), done.value("seconds", 0.0),
                         done.value("eval", nlohmann::json::object())});
      previous = model::load_hf_checkpoint<float>(stage_dir / "final");
      finished.push_back(stage.name);
      if (log)
        std::fprintf(log, "%s: done earlier, loss %.4f -> %.4f\n", stage.name.c_str(), results.back().first_loss,
                     results.back().last_loss);
      continue;
    }
    // Weights and configuration at the start of the stage.
    model::hf_checkpoint<float> start;
    if (previous) {
      start = std::move(*previous);
    } else if (!options.init_model.empty()) {
      start = model::load_hf_checkpoint<float>(options.init_model);
      if (log) std::fprintf(log, "%s: starting from %s\n", stage.name.c_str(), options.init_model.string().c_str());
    } else {
      start.config = config;
      start.weights = model::llama_weights<float>(config.model);
      rng g(plan.seed);
      start.weights.init(g);
    }
    start.config.model.attention = config.model.attention;  // runtime choices, not saved with the weights
    start.config.model.recompute_activations = config.model.recompute_activations;
    start.config.model.head_chunk_tokens = config.model.head_chunk_tokens;
    start.config.rope.head_dim = start.config.model.head_size();
    start.config.rope.max_position_embeddings = start.config.model.max_position_embeddings;
    start.config.rope = detail::apply_rope_change(stage, start.config.rope);
    start.config.model.max_position_embeddings =
        std::max(start.config.rope.max_position_embeddings, start.config.model.max_position_embeddings);
    if (stage.rope != schedule::rope_change::none && log) {
      std::fprintf(log, "%s: rope changed to %s, theta %.6g, max_position_embeddings %lld\n", stage.name.c_str(),
                   std::string(position::name(start.config.rope.scaling)).c_str(), start.config.rope.theta,
                   static_cast<long long>(start.config.model.max_position_embeddings));
    }
    model::llama<float> m(start.config.model, std::move(start.weights));
    m.set_position_encoding(position::rope(start.config.rope),
                            std::max(stage.seq_len, m.config.max_position_embeddings));
    if constexpr (DeviceMemory<B>) m.to(&device);

    train::trainer_options to;
    to.micro_batches = stage.micro_batches;
    to.max_grad_norm = stage.max_grad_norm;
    to.adamw = {.lr = stage.lr.peak(), .beta1 = 0.9, .beta2 = 0.95, .eps = 1e-8, .weight_decay = stage.weight_decay};
    to.learning_rate = [lr = stage.lr](std::int64_t step) { return lr.lr(step); };
    to.checkpoint_dir = stage_dir / "checkpoints";
    to.checkpoint_every = stage.checkpoint_every;
    to.parallel = options.parallel;
    train::trainer t(m, start.config, to);
    if (options.resume && t.resume() && log) {
      std::fprintf(log, "%s: resumed at step %lld\n", stage.name.c_str(), static_cast<long long>(t.steps_done()));
    }
    if (writer) detail::truncate_metrics(metrics_path, finished, stage.name, t.steps_done());
    auto data = make_data(stage, plan.seed * 1000003u + si);

    stage_result r;
    r.name = stage.name;
    if (t.steps_done() > 0) r.first_loss = detail::first_logged_loss(metrics_path, stage.name);
    progress_line bar(stage.name, stage.steps, log);
    const auto stage_start = std::chrono::steady_clock::now();
    std::ofstream metrics;
    if (writer) metrics.open(metrics_path, std::ios::app);
    while (t.steps_done() < stage.steps) {
      const auto rec = t.step(be, [&](std::int64_t step, index_t micro) { return data->batch(step, micro); });
      if (rec.step == 1) r.first_loss = rec.loss;
      r.last_loss = rec.loss;
      const double elapsed = std::chrono::duration<double>(std::chrono::steady_clock::now() - stage_start).count();
      const double tps = static_cast<double>(stage.batch_tokens_at(rec.step - 1)) / std::max(rec.seconds, 1e-9);
      nlohmann::json line = {{"stage", stage.name},        {"step", rec.step},
                             {"loss", rec.loss},           {"lr", rec.lr},
                             {"grad_norm", rec.grad_norm}, {"tokens", rec.tokens},
                             {"tokens_per_s", tps},        {"seq_len", stage.seq_len_at(rec.step - 1)}};
      if (writer) metrics << line.dump() << "\n" << std::flush;
      bar.update(rec.step, rec.loss, rec.lr, tps, elapsed);
    }
    r.steps = stage.steps;
    r.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - stage_start).count();
    m.to(nullptr);  // the evaluator and the next stage get the model on the host
    if (writer) {
      model::save_hf_checkpoint(stage_dir / "final", start.config, m.weights);
      r.eval = evaluate ? evaluate(m, start.config, stage) : nlohmann::json::object();
      const nlohmann::json done = {{"stage", stage.name},      {"steps", r.steps},     {"first_loss", r.first_loss},
                                   {"last_loss", r.last_loss}, {"seconds", r.seconds}, {"eval", r.eval}};
      io::atomic_write(stage_dir / "done.json", [&](io::atomic_file& f) { f.write(done.dump(1) + "\n"); });
    }
    results.push_back(r);
    finished.push_back(stage.name);
    previous = model::hf_checkpoint<float>{start.config, std::move(m.weights)};
  }
  return results;
}

}  // namespace lsk::recipe

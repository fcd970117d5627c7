// lsk train --plan FILE --text PATH... [--heldout FILE] [--out DIR] [--tokenizer byte|FILE.model]
//           [--attention naive|tiled] [--recompute-activations] [--head-chunk-tokens N] [--fresh]
//           [--init MODEL_DIR] [--data-parallel N]
//           [--context-parallel P] [--launcher threads|mpi] [--backend cpu|cuda] [--matmul f32|tf32|bf16]
// Runs every stage of the plan with lsk::recipe::run on the cpu backend (with
// --backend cuda, lsk built with LSK_ENABLE_CUDA: training on the GPU, its
// matmuls in --matmul precision, the evaluations on the cpu; under --launcher
// mpi, one GPU per process, gradients summed over NCCL, and with
// --context-parallel the device ring attention over NCCL); with
// --data-parallel N, on N ranks (threads of this process, each with 1/N of the
// OpenMP threads) that split every micro-batch's rows and sum their gradients
// (lsk/train/trainer.hpp), rank 0 writing the output and evaluating; with
// --context-parallel P, every sequence is split over P ranks too (N * P
// threads; ring attention, lsk/attention/context_parallel.hpp). With
// --launcher mpi (lsk built with MPI), the ranks are the processes of
// `mpirun -np N lsk train ...` on one host or many: N / P data groups of P
// context-parallel ranks (--data-parallel, when given, must be N / P); rank 0
// prints, writes and evaluates; an error on one rank aborts the job. The
// --text files (or directories of .txt files) are the corpus every data source
// of the plan draws from (lsk/recipe/plan_data.hpp). After each stage, as the
// plan's "eval" object asks (settings in evaluation.hpp):
//   "eval": {"perplexity": {"lengths": [64, 128], "windows": 4},
//            "needle": {"lengths": [128, 512], "depths": [0, 0.5, 1], "samples": 2, ...needle config keys},
//            "synl": {"samples": 12, "target_tokens": 512, ...synl config keys}}
// perplexity by length and the needle grid on the --heldout text (defaults:
// perplexity at powers of two up to the model's length, no needles), and
// exact-match accuracy on held-out SynL tables by family and length (none
// without "synl"). Each stage's grid is written as stages/NAME/needle.svg, every
// needle and SynL question's answer as stages/NAME/{needle,synl}_answers.jsonl; the
// results go to stages/NAME/done.json ("eval") and report.md sums up.
// The model is the plan's "model" object (Hugging Face LlamaConfig fields) over
// defaults for a tiny model; vocab_size comes from the tokenizer. With --init
// the first stage starts from that model's weights and configuration instead.
#include "train_command.hpp"

#include <cstdio>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#if defined(_OPENMP)
#include <omp.h>
#endif

#include "evaluation.hpp"
#include "lsk/backends/cpu/backend.hpp"
#if defined(LSK_CLI_HAS_CUDA)
#include "lsk/backends/cuda/backend.hpp"
#endif
#include "lsk/dist/thread_communicator.hpp"
#if defined(LSK_CLI_HAS_MPI)
#include "lsk/dist/mpi_communicator.hpp"
#endif
#if defined(LSK_CLI_HAS_NCCL)
#include "lsk/dist/nccl_bootstrap.hpp"
#endif
#include "lsk/recipe/plan_data.hpp"
#include "lsk/recipe/text_corpus.hpp"

namespace {
struct train_args {
  std::string plan, out = "out/train", tokenizer = "byte", heldout, attention = "naive", init;
  std::string backend = "cpu";  // where the stages train (evaluation runs on the cpu)
  std::string matmul = "f32";   // --backend cuda: f32, tf32 or bf16 tensor-core matmuls
  std::vector<std::string> text;
  bool fresh = false;
  bool recompute = false;                       // keep one layer's activations, recompute the others in backward
  lsk::index_t head_chunk = 0;                  // LM head and cross-entropy over chunks of this many tokens (0: all)
  int data_parallel = 0, context_parallel = 1;  // data_parallel 0: not given (1 with threads, N / P with MPI)
  std::string launcher = "threads";
};

nlohmann::json default_model_json() {
  return {{"model_type", "llama"},    {"hidden_size", 128},
          {"intermediate_size", 352}, {"num_hidden_layers", 4},
          {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"rms_norm_eps", 1e-5},     {"max_position_embeddings", 128},
          {"rope_theta", 10000.0},    {"tie_word_embeddings", true}};
}

// Report rows from a stage's evaluation JSON (so stages done in an earlier,
// resumed run are reported too).
std::string needle_report_row(const std::string& stage, const nlohmann::json& e) {
  if (!e.contains("needle_mean")) return {};
  return "| " + stage + " |" + lsk::cli::percent_cell(e.value("needle_mean", -1.0)) +
         lsk::cli::percent_cell(e.value("needle_mean_base", -1.0)) +
         lsk::cli::percent_cell(e.value("needle_mean_beyond", -1.0)) + "\n";
}

std::string synl_report_header(const std::vector<std::size_t>& lengths) {
  std::string head = "| stage | SynL all |", rule = "|---|---|";
  for (const auto& f : lsk::eval::synl_families()) {
    head += " " + lsk::eval::synl_family_title(f) + " |";
    rule += "---|";
  }
  for (auto l : lengths) {
    head += " " + std::to_string(l) + " tokens |";
    rule += "---|";
  }
  return head + "\n" + rule + "\n";
}

std::string synl_report_row(const std::string& stage, const nlohmann::json& e,
                            const std::vector<std::size_t>& lengths) {
  if (!e.contains("synl")) return {};
  const auto& j = e["synl"];
  auto at = [&](const char* group, const std::string& key) {
    return j.contains(group) && j[group].contains(key) ? j[group][key].get<double>() : -1.0;
  };
  std::string row = "| " + stage + " |" + lsk::cli::percent_cell(j.value("accuracy", -1.0));
  for (const auto& f : lsk::eval::synl_families()) row += lsk::cli::percent_cell(at("by_family", f));
  for (auto l : lengths) row += lsk::cli::percent_cell(at("by_length", std::to_string(l)));
  return row + "\n";
}

// A SynL source of the plan with the same explicit seed as the evaluation would
// train on the evaluation's tables.
void check_synl_heldout(const lsk::schedule::recipe_plan& plan, std::uint64_t seed, const std::string& where) {
  for (const auto& stage : plan.stages) {
    for (std::size_t i = 0; i < stage.data.size(); ++i) {
      const auto& e = stage.data[i];
      if (e.source == lsk::schedule::data_source::synl && e.config.contains("seed") &&
          e.config["seed"].is_number_unsigned() && e.config["seed"].get<std::uint64_t>() == seed) {
        lsk::raise<lsk::config_error>(where, ".eval.synl.seed: ", seed, " is also the seed of stage '", stage.name,
                                      "' data[", i, "]; held-out tables need a distinct seed");
      }
    }
  }
}

template <lsk::Tokenizer Tok>
void run_train(const train_args& a, std::shared_ptr<const Tok> tok, const lsk::train::parallelism& mpi) {
  const auto plan = lsk::schedule::parse_plan(lsk::position::load_json_file(a.plan), a.plan);
  lsk::recipe::validate_plan_data(plan, a.plan);  // every stage's data config, before any training
  nlohmann::json model_json = default_model_json();
  for (const auto& [k, v] : plan.model.items()) model_json[k] = v;
  if (!model_json.contains("vocab_size")) model_json["vocab_size"] = tok->vocab_size();
  model_json["bos_token_id"] = tok->bos_id();
  model_json["eos_token_id"] = tok->eos_id();
  auto config = lsk::model::parse_hf_config(model_json, a.plan + ": model");
  if (config.model.vocab_size < tok->vocab_size()) {
    lsk::raise<lsk::config_error>(a.plan, ": model.vocab_size ", config.model.vocab_size,
                                  " is smaller than the tokenizer's ", tok->vocab_size());
  }
  const long long base_length = config.model.max_position_embeddings;

  // Evaluation settings first, so a bad "eval" entry fails before training.
  std::optional<lsk::cli::needle_settings> needles;
  if (plan.eval.contains("needle"))
    needles = lsk::cli::needle_settings_from_json(plan.eval["needle"], a.plan + ".eval.needle");
  lsk::cli::perplexity_settings ppl;
  if (plan.eval.contains("perplexity"))
    ppl = lsk::cli::perplexity_settings_from_json(plan.eval["perplexity"], a.plan + ".eval.perplexity");
  std::optional<lsk::cli::synl_settings> synl;
  std::vector<lsk::eval::synl_case> synl_cases;
  if (plan.eval.contains("synl")) {
    synl = lsk::cli::synl_settings_from_json(plan.eval["synl"], a.plan + ".eval.synl");
    check_synl_heldout(plan, synl->config.seed, a.plan);
    synl_cases = lsk::eval::make_synl_cases(*tok, synl->config, synl->lengths, synl->samples);
  }

  auto corpus = std::make_shared<lsk::recipe::plan_corpus>();
  for (const auto& f : lsk::recipe::text_files({a.text.begin(), a.text.end()})) {
    corpus->documents.push_back({f.string(), lsk::recipe::read_text(f)});
  }
  corpus->tokens = lsk::data::tokenized_corpus::from_documents(*tok, corpus->documents);
  std::printf("train: %zu documents, %zu tokens; model %lld parameters\n", corpus->documents.size(),
              corpus->tokens.total_tokens(), static_cast<long long>(config.model.parameter_count()));

  std::string heldout_text;
  std::vector<std::int32_t> heldout;
  if (!a.heldout.empty()) {
    heldout_text = lsk::recipe::read_text(a.heldout);
    heldout = tok->encode(heldout_text);
  }
  std::unique_ptr<lsk::data::needle_synthesizer<Tok>> needle_synth;
  if (needles) {
    if (heldout_text.empty())
      lsk::raise<lsk::config_error>(a.plan, ": eval.needle needs --heldout text (the haystack)");
    needle_synth = std::make_unique<lsk::data::needle_synthesizer<Tok>>(*tok, heldout_text, needles->config);
  }

  lsk::backends::cpu be;
  lsk::recipe::stage_evaluator evaluate = [&](lsk::model::llama<float>& m, const lsk::model::hf_config& c,
                                              const lsk::schedule::stage_plan& s) {
    nlohmann::json out = nlohmann::json::object();
    lsk::index_t rows = c.model.max_position_embeddings;
    if (needle_synth) rows = std::max(rows, needles->rows());
    for (auto l : ppl.lengths) rows = std::max(rows, l);
    if (synl) rows = std::max(rows, lsk::eval::synl_rows_needed(synl_cases, synl->slack));
    m.set_position_encoding(lsk::position::rope(c.rope), rows);
    const std::string label = "  " + s.name + ": ";
    if (!heldout.empty()) {
      std::vector<lsk::index_t> lengths = ppl.lengths;
      if (lengths.empty()) {
        for (lsk::index_t L = std::max<lsk::index_t>(s.seq_len / 4, 8); L <= c.model.max_position_embeddings; L *= 2)
          lengths.push_back(L);
      }
      std::printf("%sperplexity on the held-out text\n", label.c_str());
      out["perplexity"] = lsk::cli::run_perplexity(be, m, heldout, lengths, ppl.windows, "  ");
    }
    if (needle_synth) {
      const auto svg = std::filesystem::path(a.out) / "stages" / s.name / "needle.svg";
      const auto grid = lsk::cli::run_needles(be, m, *tok, *needle_synth, *needles, svg,
                                              "needle exact match after stage '" + s.name + "'", label,
                                              svg.parent_path() / "needle_answers.jsonl");
      out.update(lsk::cli::needle_json(grid, base_length));
    }
    if (synl) {
      const auto scores = lsk::cli::run_synl(be, m, *tok, synl_cases, synl->slack, label,
                                             std::filesystem::path(a.out) / "stages" / s.name / "synl_answers.jsonl");
      out["synl"] = scores.to_json();
    }
    return out;
  };
  lsk::recipe::run_options options;
  options.out_dir = a.out;
  options.resume = !a.fresh;
  options.init_model = a.init;
  if (!a.init.empty()) {
    const auto init_config = lsk::model::load_hf_config(std::filesystem::path(a.init) / "config.json");
    if (init_config.model.vocab_size < tok->vocab_size())
      lsk::raise<lsk::config_error>(a.init, ": vocab_size ", init_config.model.vocab_size,
                                    " is smaller than the tokenizer's ", tok->vocab_size());
  }
  config.model.attention =
      a.attention == "tiled" ? lsk::attention::attention_kind::tiled : lsk::attention::attention_kind::naive;
  config.model.recompute_activations = a.recompute;
  config.model.head_chunk_tokens = a.head_chunk;
  const auto make_data = lsk::recipe::make_plan_data(tok, corpus);
  std::vector<lsk::recipe::stage_result> results;
  const int ranks = std::max(a.data_parallel, 1) * a.context_parallel;
  // Launched by mpirun, this process is one rank (mpi holds the ranks); rank 0 alone evaluates.
  auto rank_options = options;
  rank_options.parallel = mpi;
  const bool first = !mpi.data_parallel || mpi.data_parallel->rank() == 0;
  const lsk::recipe::stage_evaluator rank_evaluate = first ? evaluate : lsk::recipe::stage_evaluator{};
  if (a.backend == "cuda") {
    if (ranks > 1 && !mpi.data_parallel)
      lsk::raise<lsk::config_error>("--backend cuda: several GPUs train under --launcher mpi (threads share no GPU)");
#if defined(LSK_CLI_HAS_CUDA)
    lsk::cuda::backend_options gpu_options;
    gpu_options.matmul = a.matmul == "bf16"   ? lsk::cuda::matmul_precision::bf16
                         : a.matmul == "tf32" ? lsk::cuda::matmul_precision::tf32
                                              : lsk::cuda::matmul_precision::f32;
    lsk::cuda::backend gpu(gpu_options);  // on the current device (under mpi: the NCCL rank's)
    std::printf("backend: cuda (training, %s matmuls), cpu (evaluation)\n", a.matmul.c_str());
    results = lsk::recipe::run(gpu, plan, config, make_data, rank_evaluate, rank_options);
#endif
  } else if (mpi.data_parallel || ranks <= 1) {
    results = lsk::recipe::run(be, plan, config, make_data, rank_evaluate, rank_options);
  } else {  // ranks as threads of this process
    int threads = 1;
#if defined(_OPENMP)
    threads = std::max(1, omp_get_max_threads() / ranks);
#endif
    std::printf(
        "data parallel: %d rank(s), context parallel: %d rank(s) per sequence; %d threads, %d OpenMP "
        "thread(s) each\n",
        std::max(a.data_parallel, 1), a.context_parallel, ranks, threads);
    lsk::dist::thread_grid grid(std::max(a.data_parallel, 1), a.context_parallel, threads);
    grid.run([&](lsk::dist::thread_communicator& world, lsk::dist::thread_communicator& context) {
      lsk::backends::cpu rank_backend;
      auto thread_options = options;
      thread_options.parallel.data_parallel.emplace(world);
      if (a.context_parallel > 1) thread_options.parallel.context_parallel.emplace(context);
      auto r = lsk::recipe::run(rank_backend, plan, config, make_data,
                                world.rank() == 0 ? evaluate : lsk::recipe::stage_evaluator{}, thread_options);
      if (world.rank() == 0) results = std::move(r);
    });
  }
  if (!first) return;
  std::string summary = "\n| stage | steps | loss first | loss last | seconds |\n|---|---|---|---|---|\n";
  std::string needle_report =
      "| stage | needle mean | up to " + std::to_string(base_length) + " | beyond |\n|---|---|---|---|\n";
  std::string synl_report = synl ? synl_report_header(synl->lengths) : std::string();
  for (const auto& r : results) {
    needle_report += needle_report_row(r.name, r.eval);
    if (synl) synl_report += synl_report_row(r.name, r.eval, synl->lengths);
    char line[200];
    std::snprintf(line, sizeof line, "| %s | %lld | %.4f | %.4f | %.1f |\n", r.name.c_str(),
                  static_cast<long long>(r.steps), r.first_loss, r.last_loss, r.seconds);
    summary += line;
  }
  std::string tables = summary;
  if (needle_synth) tables += "\n" + needle_report;
  if (synl)
    tables +=
        "\nSynL held-out exact match (" + std::to_string(synl->samples) + " questions per length)\n\n" + synl_report;
  std::printf("%s", tables.c_str());
  const auto report_path = std::filesystem::path(a.out) / "report.md";
  lsk::io::atomic_write(report_path, [&](lsk::io::atomic_file& f) { f.write("# " + plan.name + "\n" + tables); });
  std::printf("report: %s\n", report_path.string().c_str());
}
// --backend cuda: refused before any data is read when this lsk has no CUDA or the machine no GPU.
void require_cuda_backend() {
#if defined(LSK_CLI_HAS_CUDA)
  if (const auto why = lsk::cuda::backend::unavailable(); !why.empty())
    lsk::raise<lsk::config_error>("--backend cuda: ", why);
#else
  lsk::raise<lsk::config_error>(
      "--backend cuda: this lsk was built without CUDA (configure with -DLSK_ENABLE_CUDA=ON)");
#endif
}

void train(const train_args& a) {
  if (a.backend == "cuda") require_cuda_backend();
  const auto run_with = [&](const lsk::train::parallelism& mpi) {
    lsk::cli::with_tokenizer(a.tokenizer, "--tokenizer", [&](auto tok) { run_train(a, std::move(tok), mpi); });
  };
  if (a.launcher != "mpi") return run_with({});
#if defined(LSK_CLI_HAS_MPI)
  lsk::dist::mpi_environment env(lsk::dist::mpi_threads::multiple);
  lsk::dist::mpi_communicator world;
  const int n = world.size(), p = a.context_parallel;
  if (n % p != 0 || (a.data_parallel > 0 && a.data_parallel * p != n)) {
    lsk::raise<lsk::config_error>("--launcher mpi: ", n, " processes do not form ",
                                  a.data_parallel > 0 ? std::to_string(a.data_parallel) : std::string("whole"),
                                  " data group(s) of --context-parallel ", p, " ranks");
  }
  auto context = world.split(world.rank() / p, world.rank());
  if (world.rank() != 0 && std::freopen("/dev/null", "w", stdout) == nullptr)
    lsk::raise<lsk::error>("--launcher mpi: cannot silence rank ", world.rank(), "'s output");
  if (world.rank() == 0) {
    std::printf("mpi: %d processes, %d data group(s) of %d context-parallel rank(s)%s\n", n, n / p, p,
                env.multiple_threads() ? "" : "; MPI_THREAD_MULTIPLE not available, gradients reduced after backward");
  }
  lsk::train::parallelism ranks;  // MPI_THREAD_MULTIPLE lets the gradient all-reduce run on a worker thread
#if defined(LSK_CLI_HAS_NCCL)
  std::optional<lsk::dist::nccl_communicator> gpus, context_gpus;  // --backend cuda: one GPU per process
#endif
  if (a.backend == "cuda") {
#if defined(LSK_CLI_HAS_NCCL)
    gpus.emplace(lsk::dist::nccl_from_mpi(world));  // selects this process's GPU (local rank) for the backend
    ranks.data_parallel.emplace(*gpus);
    if (p > 1) {  // the device ring of each data group, on the same GPU
      context_gpus.emplace(lsk::dist::nccl_from_mpi(context, gpus->device()));
      ranks.context_parallel.emplace(*context_gpus);
    }
    ranks.overlap_gradient_reduction = false;  // NCCL and the device copies stay on the GPU's thread
#else
    lsk::raise<lsk::config_error>("--backend cuda --launcher mpi: this lsk was built without NCCL");
#endif
  } else {
    ranks.data_parallel.emplace(world);
    if (p > 1) ranks.context_parallel.emplace(context);
    ranks.overlap_gradient_reduction = env.multiple_threads();
  }
  try {
    run_with(ranks);
  } catch (const std::exception& e) {
    if (n == 1) throw;
    std::fprintf(stderr, "error on rank %d: %s\n", world.rank(), e.what());
    MPI_Abort(MPI_COMM_WORLD, 1);  // the other ranks may be waiting in a collective
  }
#else
  lsk::raise<lsk::config_error>("--launcher mpi: this lsk was built without MPI (install libopenmpi-dev and rebuild)");
#endif
}
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<train_args>();
  CLI::App* cmd = app.add_subcommand("train", "Run a stage plan on the cpu backend");
  cmd->add_option("--plan", args->plan, "stage plan (JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--text", args->text, "training corpus: .txt files or directories")->required();
  cmd->add_option("--heldout", args->heldout, "held-out text: perplexity and needle haystack")
      ->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "output directory (resumed when it exists)");
  cmd->add_option("--tokenizer", args->tokenizer, "'byte' or a SentencePiece .model");
  cmd->add_option("--attention", args->attention, "naive or tiled")->check(CLI::IsMember({"naive", "tiled"}));
  cmd->add_option("--backend", args->backend, "cpu, or cuda (a build with LSK_ENABLE_CUDA; one GPU per process)")
      ->check(CLI::IsMember({"cpu", "cuda"}));
  cmd->add_option("--matmul", args->matmul,
                  "--backend cuda: f32 matmuls, or tf32 / bf16 tensor cores (f32 accumulation and weights; "
                  "bf16 rounds the operands to bf16 copies first)")
      ->check(CLI::IsMember({"f32", "tf32", "bf16"}));
  cmd->add_flag("--recompute-activations", args->recompute,
                "keep one layer's activations in training and recompute each layer's in backward (less memory, one "
                "more forward of the layers per step, the same results)");
  cmd->add_option("--head-chunk-tokens", args->head_chunk,
                  "run the LM head and cross-entropy over chunks of N tokens, recomputing each chunk's logits in "
                  "backward (logits memory of N tokens instead of all; 0: all at once)")
      ->check(CLI::NonNegativeNumber);
  cmd->add_flag("--fresh", args->fresh, "start over instead of resuming");
  cmd->add_option("--init", args->init, "start the first stage from this Hugging Face model directory")
      ->check(CLI::ExistingDirectory);
  cmd->add_option("--data-parallel", args->data_parallel,
                  "train on N data-parallel ranks (threads) that split each micro-batch's sequences")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--context-parallel", args->context_parallel,
                  "split every sequence over P ranks (threads; ring attention); sequence lengths must be multiples "
                  "of 2P")
      ->check(CLI::Range(1, 64));
  cmd->add_option("--launcher", args->launcher,
                  "threads: the ranks are threads of this process; mpi: the processes of mpirun (each prints "
                  "nothing but rank 0)")
      ->check(CLI::IsMember({"threads", "mpi"}));
  cmd->callback([args] { train(*args); });
}

// lsk train --plan FILE --text PATH... [--heldout FILE] [--out DIR] [--tokenizer byte|FILE.model]
//           [--attention naive|tiled] [--fresh]
// Runs every stage of the plan with lsk::recipe::run on the cpu backend. The
// --text files (or directories of .txt files) are the corpus every data source
// of the plan draws from (lsk/recipe/plan_data.hpp). After each stage, on the
// --heldout text: perplexity by length and the needle grid, as the plan's
// "eval" object asks:
//   "eval": {"perplexity": {"lengths": [64, 128], "windows": 4},
//            "needle": {"lengths": [128, 512], "depths": [0, 0.5, 1], "samples": 2, ...needle config keys}}
// (defaults: perplexity at powers of two up to the model's length, no needles).
// Each stage's grid is written as stages/NAME/needle.svg; report.md sums up.
// The model is the plan's "model" object (Hugging Face LlamaConfig fields) over
// defaults for a tiny model; vocab_size comes from the tokenizer.
#include "train_command.hpp"

#include <cstdio>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/needle.hpp"
#include "lsk/eval/heatmap.hpp"
#include "lsk/eval/needle_eval.hpp"
#include "lsk/eval/perplexity.hpp"
#include "lsk/recipe/plan_data.hpp"
#include "lsk/recipe/text_corpus.hpp"
#include "model_loading.hpp"

namespace {
struct train_args {
  std::string plan, out = "out/train", tokenizer = "byte", heldout, attention = "naive";
  std::vector<std::string> text;
  bool fresh = false;
};

nlohmann::json default_model_json() {
  return {{"model_type", "llama"},    {"hidden_size", 128},
          {"intermediate_size", 352}, {"num_hidden_layers", 4},
          {"num_attention_heads", 4}, {"num_key_value_heads", 2},
          {"rms_norm_eps", 1e-5},     {"max_position_embeddings", 128},
          {"rope_theta", 10000.0},    {"tie_word_embeddings", true}};
}

struct needle_settings {
  lsk::data::needle_config config;
  std::uint64_t samples = 0;
};

needle_settings read_needle_settings(const nlohmann::json& eval, const std::string& where) {
  needle_settings s;
  if (!eval.contains("needle")) return s;
  nlohmann::json j = eval["needle"];
  const std::uint64_t per_cell = j.value("samples", std::uint64_t{1});
  j.erase("samples");
  s.config = lsk::data::needle_config::from_json(j, where + ".eval.needle");
  const std::size_t cells =
      std::max<std::size_t>(s.config.lengths.size(), 1) * std::max<std::size_t>(s.config.depths.size(), 1);
  s.samples = per_cell * cells;
  return s;
}

std::string report_row(const std::string& stage, const lsk::eval::needle_grid& g, long long base_length) {
  char buffer[160];
  std::snprintf(buffer, sizeof buffer, "| %s | %.0f%% | %.0f%% | %.0f%% |\n", stage.c_str(), 100 * g.mean(),
                100 * g.mean(0, base_length), 100 * g.mean(base_length + 1));
  return buffer;
}

template <lsk::Tokenizer Tok>
void run_train(const train_args& a, std::shared_ptr<const Tok> tok) {
  const auto plan = lsk::schedule::parse_plan(lsk::position::load_json_file(a.plan), a.plan);
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
  const needle_settings needles = read_needle_settings(plan.eval, a.plan);
  std::unique_ptr<lsk::data::needle_synthesizer<Tok>> needle_synth;
  if (needles.samples > 0) {
    if (heldout_text.empty())
      lsk::raise<lsk::config_error>(a.plan, ": eval.needle needs --heldout text (the haystack)");
    needle_synth = std::make_unique<lsk::data::needle_synthesizer<Tok>>(*tok, heldout_text, needles.config);
  }
  std::vector<lsk::index_t> ppl_lengths;
  lsk::index_t ppl_windows = 4;
  if (plan.eval.contains("perplexity")) {
    ppl_lengths = plan.eval["perplexity"].value("lengths", std::vector<lsk::index_t>{});
    ppl_windows = plan.eval["perplexity"].value("windows", lsk::index_t{4});
  }

  lsk::backends::cpu be;
  std::string report =
      "| stage | needle mean | up to " + std::to_string(base_length) + " | beyond |\n|---|---|---|---|\n";
  lsk::recipe::stage_evaluator evaluate = [&](lsk::model::llama<float>& m, const lsk::model::hf_config& c,
                                              const lsk::schedule::stage_plan& s) {
    nlohmann::json out = nlohmann::json::object();
    lsk::index_t rows = c.model.max_position_embeddings;
    if (needle_synth) {
      for (auto l : needles.config.lengths) rows = std::max<lsk::index_t>(rows, static_cast<lsk::index_t>(l) + 64);
    }
    for (auto l : ppl_lengths) rows = std::max(rows, l);
    m.set_position_encoding(lsk::position::rope(c.rope), rows);
    if (!heldout.empty()) {
      std::vector<lsk::index_t> lengths = ppl_lengths;
      if (lengths.empty()) {
        for (lsk::index_t L = std::max<lsk::index_t>(s.seq_len / 4, 8); L <= c.model.max_position_embeddings; L *= 2)
          lengths.push_back(L);
      }
      for (const auto& p : lsk::eval::perplexity_by_length(be, m, heldout, lengths, ppl_windows)) {
        out["perplexity"].push_back({{"length", p.length}, {"ppl", p.ppl()}, {"ppl_second_half", p.ppl_second_half()}});
        std::printf("  %s: perplexity at length %lld: %.3f (second half %.3f)\n", s.name.c_str(),
                    static_cast<long long>(p.length), p.ppl(), p.ppl_second_half());
      }
    }
    if (needle_synth) {
      const auto grid = lsk::eval::evaluate_needles(be, m, *tok, *needle_synth, needles.samples);
      const std::string title = "needle exact match after stage '" + s.name + "'";
      const auto svg = std::filesystem::path(a.out) / "stages" / s.name / "needle.svg";
      lsk::eval::write_needle_heatmap(svg, grid, title);
      std::printf("  %s: needle grid (exact match %%), mean %.0f%%, heatmap %s\n%s", s.name.c_str(), 100 * grid.mean(),
                  svg.string().c_str(), lsk::eval::needle_grid_text(grid).c_str());
      out["needle_mean"] = grid.mean();
      out["needle_mean_base"] = grid.mean(0, base_length);
      out["needle_mean_beyond"] = grid.mean(base_length + 1);
      out["needle_grid"] = lsk::eval::needle_grid_text(grid);
      report += report_row(s.name, grid, base_length);
    }
    return out;
  };
  lsk::recipe::run_options options;
  options.out_dir = a.out;
  options.resume = !a.fresh;
  config.model.attention =
      a.attention == "tiled" ? lsk::attention::attention_kind::tiled : lsk::attention::attention_kind::naive;
  const auto results = lsk::recipe::run(be, plan, config, lsk::recipe::make_plan_data(tok, corpus), evaluate, options);
  std::string summary = "\n| stage | steps | loss first | loss last | seconds |\n|---|---|---|---|---|\n";
  for (const auto& r : results) {
    char line[200];
    std::snprintf(line, sizeof line, "| %s | %lld | %.4f | %.4f | %.1f |\n", r.name.c_str(),
                  static_cast<long long>(r.steps), r.first_loss, r.last_loss, r.seconds);
    summary += line;
  }
  std::printf("%s", summary.c_str());
  if (needle_synth) std::printf("\n%s", report.c_str());
  const auto report_path = std::filesystem::path(a.out) / "report.md";
  lsk::io::atomic_write(report_path, [&](lsk::io::atomic_file& f) {
    f.write("# " + plan.name + "\n" + summary + (needle_synth ? "\n" + report : std::string()));
  });
  std::printf("report: %s\n", report_path.string().c_str());
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
  cmd->add_flag("--fresh", args->fresh, "start over instead of resuming");
  cmd->callback([args] {
    if (args->tokenizer == "byte") {
      run_train(*args, std::make_shared<const lsk::data::byte_tokenizer>());
    } else {
#if defined(LSK_HAS_SENTENCEPIECE)
      run_train(*args, std::make_shared<const lsk::data::sentencepiece_tokenizer>(args->tokenizer));
#else
      lsk::raise<lsk::config_error>("--tokenizer ", args->tokenizer, ": this lsk was built without SentencePiece");
#endif
    }
  });
}

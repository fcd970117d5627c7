// lsk eval needle --model PATH --text FILE [--lengths L,...] [--depths D,...] [--samples N] [--seed S]
//                 [--config FILE] [--svg PATH] [--answers FILE]
// lsk eval synl   --model PATH [--samples N] [--target-tokens T,...] [--seed S] [--slack K] [--config FILE]
//                 [--answers FILE]
// lsk eval ppl    --model PATH --text FILE [--lengths L,...] [--windows N]
// Common options: --tokenizer byte|FILE.model (default: a .model beside the
// model), --attention naive|tiled.
// The same evaluations `lsk train` runs after each stage (evaluation.hpp), on
// a saved model (a Hugging Face directory such as OUT/stages/NAME/final, or a
// llama2.c .bin file), on the cpu backend:
//   needle: the needle-in-a-haystack grid with --text as the haystack, printed
//           and written as an SVG heatmap (--svg, default needle.svg); samples
//           per (length, depth) cell; --config: a JSON object of needle config
//           keys and "samples", as in a plan's "eval.needle" (options override it);
//           --answers: every question's expected and generated text as JSON Lines.
//   synl:   exact match on held-out SynL tables (seed distinct from training),
//           by task family and length (target tokens); --samples per length;
//           --config as a plan's "eval.synl"; --answers as for needle (with
//           family, task and length).
//   ppl:    perplexity on --text by context length (default: powers of two
//           from 16 up to the model's max_position_embeddings).
#include "eval_command.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "evaluation.hpp"
#include "lsk/backends/cpu/backend.hpp"
#include "lsk/recipe/text_corpus.hpp"
#include "model_loading.hpp"

namespace {
struct eval_args {
  std::string model, tokenizer, attention = "naive", text, config, svg = "needle.svg", answers;
  std::vector<std::size_t> lengths, target_tokens;
  std::vector<double> depths;
  std::vector<lsk::index_t> ppl_lengths;
  std::uint64_t samples = 0, seed = 0;
  bool seed_given = false;
  lsk::index_t windows = 4, slack = -1;
};

// The JSON object of --config (empty without it).
nlohmann::json config_object(const eval_args& a) {
  if (a.config.empty()) return nlohmann::json::object();
  const auto j = lsk::position::load_json_file(a.config);
  if (!j.is_object())
    lsk::raise<lsk::config_error>("--config ", a.config, ": expected a JSON object, got ", j.type_name());
  return j;
}

std::string config_where(const eval_args& a, const char* command) {
  return a.config.empty() ? std::string("lsk eval ") + command : a.config;
}

// The checkpoint at --model with the attention kind of --attention.
lsk::model::hf_checkpoint<float> load(const eval_args& a) {
  auto ck = lsk::cli::load_checkpoint(a.model);
  ck.config.model.attention =
      a.attention == "tiled" ? lsk::attention::attention_kind::tiled : lsk::attention::attention_kind::naive;
  return ck;
}

// Calls fn(tok, checkpoint) with the tokenizer of --tokenizer (or the one beside the model).
template <class Fn>
void with_model(const eval_args& a, Fn&& fn) {
  const std::string tokenizer =
      a.tokenizer.empty() ? lsk::cli::find_tokenizer(a.model, a.tokenizer).string() : a.tokenizer;
  auto ck = load(a);
  lsk::cli::with_tokenizer(tokenizer, "--tokenizer", [&](auto tok) {
    if (tok->vocab_size() > ck.config.model.vocab_size) {
      lsk::raise<lsk::config_error>("--tokenizer ", tokenizer, ": ", tok->vocab_size(), " ids, more than the ",
                                    ck.config.model.vocab_size, " of the model at --model ", a.model);
    }
    fn(*tok, std::move(ck));
  });
}

void run_needle(const eval_args& a) {
  nlohmann::json j = config_object(a);
  for (auto l : a.lengths) {
    if (l < 64) lsk::raise<lsk::config_error>("--lengths: every length must be at least 64, got ", l);
  }
  for (double d : a.depths) {
    if (!(d >= 0 && d <= 1)) lsk::raise<lsk::config_error>("--depths: every depth must be in [0, 1], got ", d);
  }
  if (!a.lengths.empty()) j["lengths"] = a.lengths;
  if (!a.depths.empty()) j["depths"] = a.depths;
  if (a.samples > 0) j["samples"] = a.samples;
  if (a.seed_given) j["seed"] = a.seed;
  with_model(a, [&](const auto& tok, lsk::model::hf_checkpoint<float> ck) {
    if (!j.contains("lengths") && !j.contains("context_tokens"))
      j["lengths"] = std::vector<lsk::index_t>{std::max<lsk::index_t>(ck.config.model.max_position_embeddings, 64)};
    if (!j.contains("depths")) j["depths"] = std::vector<double>{0.0, 0.5, 1.0};
    const auto settings = lsk::cli::needle_settings_from_json(j, config_where(a, "needle"));
    const std::string haystack = lsk::recipe::read_text(a.text);
    using Tok = std::remove_cvref_t<decltype(tok)>;
    const lsk::data::needle_synthesizer<Tok> synth(tok, haystack, settings.config);
    const lsk::index_t rows = std::max(settings.rows(), ck.config.model.max_position_embeddings);
    auto m = lsk::cli::make_model(std::move(ck), rows);
    lsk::backends::cpu be;
    lsk::cli::run_needles(be, m, tok, synth, settings, a.svg, "needle exact match: " + a.model, "", a.answers);
  });
}

void run_synl(const eval_args& a) {
  nlohmann::json j = config_object(a);
  for (auto l : a.target_tokens) {
    if (l < 64) lsk::raise<lsk::config_error>("--target-tokens: every length must be at least 64, got ", l);
  }
  if (!a.target_tokens.empty()) j["target_tokens"] = a.target_tokens;
  if (a.samples > 0) j["samples"] = a.samples;
  if (a.seed_given) j["seed"] = a.seed;
  if (a.slack >= 0) j["slack"] = a.slack;
  with_model(a, [&](const auto& tok, lsk::model::hf_checkpoint<float> ck) {
    if (!j.contains("target_tokens"))
      j["target_tokens"] = std::max<lsk::index_t>(ck.config.model.max_position_embeddings / 2, 64);
    const auto settings = lsk::cli::synl_settings_from_json(j, config_where(a, "synl"));
    const auto cases = lsk::eval::make_synl_cases(tok, settings.config, settings.lengths, settings.samples);
    const lsk::index_t rows =
        std::max(lsk::eval::synl_rows_needed(cases, settings.slack), ck.config.model.max_position_embeddings);
    auto m = lsk::cli::make_model(std::move(ck), rows);
    lsk::backends::cpu be;
    std::printf("SynL seed %llu\n", static_cast<unsigned long long>(settings.config.seed));
    const auto scores = lsk::cli::run_synl(be, m, tok, cases, settings.slack, "", a.answers);
    std::printf("by task:");
    for (const auto& t : scores.tasks()) std::printf(" %s %.0f%%", t.c_str(), 100 * scores.task_accuracy(t));
    std::printf("\n");
  });
}

void run_ppl(const eval_args& a) {
  for (auto l : a.ppl_lengths) {
    if (l < 2) lsk::raise<lsk::config_error>("--lengths: every length must be at least 2, got ", l);
  }
  if (a.windows < 1) lsk::raise<lsk::config_error>("--windows: must be at least 1, got ", a.windows);
  with_model(a, [&](const auto& tok, lsk::model::hf_checkpoint<float> ck) {
    std::vector<lsk::index_t> lengths = a.ppl_lengths;
    if (lengths.empty()) {
      for (lsk::index_t L = 16; L <= ck.config.model.max_position_embeddings; L *= 2) lengths.push_back(L);
    }
    const auto tokens = tok.encode(lsk::recipe::read_text(a.text));
    lsk::index_t rows = ck.config.model.max_position_embeddings;
    for (auto l : lengths) {
      rows = std::max(rows, l);
      if (static_cast<std::size_t>(l) + 1 > tokens.size()) {
        lsk::raise<lsk::config_error>("--lengths: ", l, " needs ", l + 1, " tokens of --text ", a.text, ", which has ",
                                      tokens.size());
      }
    }
    auto m = lsk::cli::make_model(std::move(ck), rows);
    lsk::backends::cpu be;
    std::printf("perplexity of %s on %s (%zu tokens)\n", a.model.c_str(), a.text.c_str(), tokens.size());
    lsk::cli::run_perplexity(be, m, tokens, lengths, a.windows, "");
  });
}

CLI::App* add_common(CLI::App& eval, const char* name, const char* description, std::shared_ptr<eval_args> args) {
  CLI::App* cmd = eval.add_subcommand(name, description);
  cmd->add_option("--model", args->model, "Hugging Face directory (e.g. OUT/stages/NAME/final) or llama2.c .bin")
      ->required()
      ->check(CLI::ExistingPath);
  cmd->add_option("--tokenizer", args->tokenizer, "'byte' or a SentencePiece .model (default: beside the model)");
  cmd->add_option("--attention", args->attention, "naive or tiled")->check(CLI::IsMember({"naive", "tiled"}));
  return cmd;
}
}  // namespace

void add_eval_command(CLI::App& app) {
  auto args = std::make_shared<eval_args>();
  CLI::App* eval = app.add_subcommand("eval", "Evaluate a saved model: needle grid, SynL accuracy, perplexity");
  eval->require_subcommand(1);

  CLI::App* needle = add_common(*eval, "needle", "Needle-in-a-haystack grid and its SVG heatmap", args);
  needle->add_option("--text", args->text, "haystack text (held out from training)")
      ->required()
      ->check(CLI::ExistingFile);
  needle->add_option("--lengths", args->lengths, "context lengths in tokens (default: the model's length)")
      ->delimiter(',');
  needle->add_option("--depths", args->depths, "needle depths in [0, 1] (default: 0,0.5,1)")->delimiter(',');
  needle->add_option("--samples", args->samples, "samples per (length, depth) cell (default 1)")
      ->check(CLI::PositiveNumber);
  needle->add_option("--config", args->config, "JSON: needle config keys and samples")->check(CLI::ExistingFile);
  needle->add_option("--svg", args->svg, "heatmap output (default needle.svg)");
  needle->add_option("--answers", args->answers, "JSON Lines output: each question's expected and generated answer");
  needle->add_option("--seed", args->seed, "needle seed")->each([args](const std::string&) {
    args->seed_given = true;
  });
  needle->callback([args] { run_needle(*args); });

  CLI::App* synl = add_common(*eval, "synl", "Exact match on held-out SynL tables by family and length", args);
  synl->add_option("--samples", args->samples, "questions per length (default 12)")->check(CLI::PositiveNumber);
  synl->add_option("--target-tokens", args->target_tokens,
                   "prompt lengths in tokens (default: half the model's length)")
      ->delimiter(',');
  synl->add_option("--seed", args->seed, "table seed (default: the held-out seed)")->each([args](const std::string&) {
    args->seed_given = true;
  });
  synl->add_option("--slack", args->slack, "tokens generated beyond the answer's length (default 8)")
      ->check(CLI::NonNegativeNumber);
  synl->add_option("--config", args->config, "JSON: synl config keys, samples, target_tokens, slack")
      ->check(CLI::ExistingFile);
  synl->add_option("--answers", args->answers, "JSON Lines output: each question's expected and generated answer");
  synl->callback([args] { run_synl(*args); });

  CLI::App* ppl = add_common(*eval, "ppl", "Perplexity on a held-out text by context length", args);
  ppl->add_option("--text", args->text, "held-out text")->required()->check(CLI::ExistingFile);
  ppl->add_option("--lengths", args->ppl_lengths, "context lengths (default: 16, 32, ... up to the model's length)")
      ->delimiter(',');
  ppl->add_option("--windows", args->windows, "windows per length (default 4)");
  ppl->callback([args] { run_ppl(*args); });
}

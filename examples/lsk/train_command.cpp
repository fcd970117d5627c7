// lsk train --plan FILE --text PATH... [--heldout FILE] [--out DIR] [--tokenizer byte|FILE.model]
//           [--attention naive|tiled] [--fresh]
// Runs every stage of the plan with lsk::recipe::run on the cpu backend and
// evaluates perplexity by length on the held-out text after each stage.
// Data sources served here: "short" and "natural_long" (windows of the token
// stream of the --text files). The model is the plan's "model" object (Hugging
// Face LlamaConfig fields) over defaults for a tiny model; vocab_size comes
// from the tokenizer.
#include "train_command.hpp"

#include <cstdio>
#include <memory>
#include <string>
#include <vector>

#include "lsk/backends/cpu/backend.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/eval/perplexity.hpp"
#include "lsk/recipe/stream_data.hpp"
#include "lsk/recipe/text_corpus.hpp"
#include "model_loading.hpp"

namespace {
struct train_args {
  std::string plan, out = "out/train", tokenizer = "byte", heldout, attention = "naive";
  std::vector<std::string> text;
  bool fresh = false;
};

nlohmann::json default_model_json() {
  return {{"model_type", "llama"},        {"hidden_size", 128},         {"intermediate_size", 352},
          {"num_hidden_layers", 4},       {"num_attention_heads", 4},   {"num_key_value_heads", 2},
          {"rms_norm_eps", 1e-5},         {"max_position_embeddings", 128}, {"rope_theta", 10000.0},
          {"tie_word_embeddings", true}};
}

struct codec {
  std::int32_t vocab, bos, eos;
  std::function<std::vector<std::int32_t>(const std::string&)> encode;
};

codec make_codec(const std::string& spec) {
  if (spec == "byte") {
    auto tok = std::make_shared<lsk::data::byte_tokenizer>();
    return {lsk::data::byte_tokenizer::size, lsk::data::byte_tokenizer::bos, lsk::data::byte_tokenizer::eos,
            [tok](const std::string& s) { return tok->encode(s); }};
  }
#if defined(LSK_HAS_SENTENCEPIECE)
  auto tok = std::make_shared<lsk::data::sentencepiece_tokenizer>(spec);
  return {static_cast<std::int32_t>(tok->vocab_size()), tok->bos_id(), tok->eos_id(),
          [tok](const std::string& s) { return tok->encode(s); }};
#else
  lsk::raise<lsk::config_error>("--tokenizer ", spec, ": this lsk was built without SentencePiece");
#endif
}

void run_train(const train_args& a) {
  const auto plan = lsk::schedule::parse_plan(lsk::position::load_json_file(a.plan), a.plan);
  const codec tok = make_codec(a.tokenizer);
  nlohmann::json model_json = default_model_json();
  for (const auto& [k, v] : plan.model.items()) model_json[k] = v;
  if (!model_json.contains("vocab_size")) model_json["vocab_size"] = tok.vocab;
  model_json["bos_token_id"] = tok.bos;
  model_json["eos_token_id"] = tok.eos;
  auto config = lsk::model::parse_hf_config(model_json, a.plan + ": model");
  if (config.model.vocab_size < tok.vocab) {
    lsk::raise<lsk::config_error>(a.plan, ": model.vocab_size ", config.model.vocab_size, " is smaller than the tokenizer's ",
                                  tok.vocab);
  }

  std::vector<std::filesystem::path> paths(a.text.begin(), a.text.end());
  auto stream = std::make_shared<const std::vector<std::int32_t>>(
      lsk::recipe::token_stream(tok, lsk::recipe::text_files(paths), tok.eos));
  std::printf("train: %zu tokens of text, model %lld parameters\n", stream->size(),
              static_cast<long long>(config.model.parameter_count()));
  std::vector<std::int32_t> heldout;
  if (!a.heldout.empty()) heldout = tok.encode(lsk::recipe::read_text(a.heldout));

  lsk::recipe::data_factory make_data = [&](const lsk::schedule::stage_plan& s, std::uint64_t seed)
      -> std::unique_ptr<lsk::recipe::stage_data> {
    for (const auto& d : s.data) {
      if (d.source != lsk::schedule::data_source::short_docs && d.source != lsk::schedule::data_source::natural_long) {
        lsk::raise<lsk::config_error>("stage '", s.name, "': lsk train serves the sources 'short' and 'natural_long'; '",
                                      lsk::schedule::name(d.source), "' needs a synthesizer");
      }
    }
    return std::make_unique<lsk::recipe::stream_data>(stream, s.seq_len, s.sequences_per_step() / s.micro_batches, seed);
  };
  lsk::backends::cpu be;
  lsk::recipe::stage_evaluator evaluate = [&](lsk::model::llama<float>& m, const lsk::model::hf_config& c,
                                              const lsk::schedule::stage_plan& s) {
    nlohmann::json out = nlohmann::json::object();
    if (heldout.empty()) return out;
    std::vector<lsk::index_t> lengths;
    for (lsk::index_t L = std::max<lsk::index_t>(s.seq_len / 4, 8); L <= c.model.max_position_embeddings; L *= 2)
      lengths.push_back(L);
    m.set_position_encoding(lsk::position::rope(c.rope), c.model.max_position_embeddings);
    for (const auto& p : lsk::eval::perplexity_by_length(be, m, heldout, lengths, 4)) {
      out["perplexity"].push_back({{"length", p.length}, {"ppl", p.ppl()}, {"ppl_second_half", p.ppl_second_half()}});
      std::printf("  %s: perplexity at length %lld: %.3f (second half %.3f)\n", s.name.c_str(),
                  static_cast<long long>(p.length), p.ppl(), p.ppl_second_half());
    }
    return out;
  };
  lsk::recipe::run_options options;
  options.out_dir = a.out;
  options.resume = !a.fresh;
  config.model.attention = a.attention == "tiled" ? lsk::attention::attention_kind::tiled
                                                  : lsk::attention::attention_kind::naive;
  const auto results = lsk::recipe::run(be, plan, config, make_data, evaluate, options);
  for (const auto& r : results) {
    std::printf("%-12s %6lld steps  loss %.4f -> %.4f  %.1f s\n", r.name.c_str(), static_cast<long long>(r.steps),
                r.first_loss, r.last_loss, r.seconds);
  }
}
}  // namespace

void add_train_command(CLI::App& app) {
  auto args = std::make_shared<train_args>();
  CLI::App* cmd = app.add_subcommand("train", "Run a stage plan on the cpu backend");
  cmd->add_option("--plan", args->plan, "stage plan (JSON)")->required()->check(CLI::ExistingFile);
  cmd->add_option("--text", args->text, "training text: .txt files or directories")->required();
  cmd->add_option("--heldout", args->heldout, "held-out text for perplexity by length")->check(CLI::ExistingFile);
  cmd->add_option("--out", args->out, "output directory (resumed when it exists)");
  cmd->add_option("--tokenizer", args->tokenizer, "'byte' or a SentencePiece .model");
  cmd->add_option("--attention", args->attention, "naive or tiled")->check(CLI::IsMember({"naive", "tiled"}));
  cmd->add_flag("--fresh", args->fresh, "start over instead of resuming");
  cmd->callback([args] { run_train(*args); });
}

// lsk synth: generates synthetic samples (CIP, SynL, needle, SFT) and writes
// them as JSON Lines for inspection, timing the generation.
//
//   lsk synth cip|synl|needle|sft --config FILE.json --count N [--out FILE.jsonl]
//             [--first I] [--ids] [--pack]
//
// The config is one JSON object:
//   "tokenizer": "byte" (default) or the path of a SentencePiece .model
//   "corpus":    a directory of .txt files or a .jsonl file (cip, sft)
//   "haystack":  a text file of held-out text (needle)
//   "cip" / "synl" / "needle" / "sft": that synthesizer's config (see
//                lsk/data/<name>.hpp; unknown keys are errors naming the key)
//   "packing":   the packing config used by --pack
// Relative paths are taken from the current directory. Sample i of the output
// is generate(first + i): the same config and seed give the same file.
// Each output line: {"index", "kind", "tokens", "targets", "text"} and, for
// SynL / needle / SFT, "prompt" and "answer" (plus SynL's family, task and
// format, needle's length, depth and key); --ids adds the token ids, loss mask,
// document ids and positions. The file is replaced atomically.
// On stderr: samples, tokens and the generation rate in tokens/s on one
// thread (JSON and text rendering excluded); with --pack, also the rate of
// packing the samples into batches.
#include "synth_command.hpp"

#include <chrono>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <string>
#include <variant>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/cip.hpp"
#include "lsk/data/corpus.hpp"
#include "lsk/data/needle.hpp"
#include "lsk/data/packing.hpp"
#include "lsk/data/sft.hpp"
#include "lsk/data/synl.hpp"
#include "lsk/data/tokenized_corpus.hpp"
#include "lsk/io/atomic_write.hpp"
#if defined(LSK_HAS_SENTENCEPIECE)
#include "lsk/data/sentencepiece_tokenizer.hpp"
#endif

namespace {
namespace data = lsk::data;
using json = nlohmann::json;
using clock_type = std::chrono::steady_clock;

struct synth_options {
  std::string kind, config_path, out_path;
  std::uint64_t count = 10, first = 0;
  bool ids = false, pack = false;
};

json load_json(const std::string& path) {
  std::ifstream in(path);
  if (!in) lsk::raise<lsk::io_error>("--config: cannot open '", path, "'");
  try {
    return json::parse(in);
  } catch (const json::parse_error& e) {
    lsk::raise<lsk::format_error>(path, ": not valid JSON: ", e.what());
  }
}

std::string string_key(const json& config, const char* key, const std::string& fallback = {}) {
  if (!config.contains(key)) {
    if (fallback.empty()) lsk::raise<lsk::config_error>(key, ": missing (needed by this synthesizer)");
    return fallback;
  }
  if (!config[key].is_string()) lsk::raise<lsk::config_error>(key, ": expected a string");
  return config[key].get<std::string>();
}

const json& section(const json& config, const char* key) {
  static const json empty = json::object();
  return config.contains(key) ? config[key] : empty;
}

std::string read_text_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) lsk::raise<lsk::io_error>("haystack: cannot open '", path, "'");
  return std::string((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

template <class Tok>
json sample_json(const Tok& tok, const data::sample& s, std::uint64_t index, bool ids) {
  json j;
  j["index"] = index;
  j["kind"] = s.kind;
  j["tokens"] = s.size();
  j["targets"] = s.target_count();
  std::vector<std::int32_t> text_ids;
  for (const auto id : s.tokens)
    if (id >= 0 && id < tok.vocab_size()) text_ids.push_back(id);
  std::string text = tok.decode(text_ids);
  std::string fixed;
  data::utf8::append_replacing_invalid(text, fixed);  // a chunk boundary may cut a character
  j["text"] = fixed;
  if (!s.prompt.empty() || !s.answer.empty()) {
    j["prompt"] = s.prompt;
    j["answer"] = s.answer;
  }
  if (ids) {
    j["ids"] = s.tokens;
    j["loss_mask"] = s.loss_mask;
    j["doc_ids"] = s.doc_ids;
    j["positions"] = s.positions;
  }
  return j;
}

struct timing {
  double seconds = 0;
  std::size_t tokens = 0;
};

// Generates the samples, timing generate() alone, and writes the JSON lines.
template <class Tok, class Synth, class Extra>
void run(const synth_options& o, const Tok& tok, const Synth& synth, const json& config, Extra&& extra) {
  std::vector<json> lines;
  std::vector<data::sample> kept;
  timing t;
  for (std::uint64_t i = 0; i < o.count; ++i) {
    const auto start = clock_type::now();
    data::sample s = synth.generate(o.first + i);
    t.seconds += std::chrono::duration<double>(clock_type::now() - start).count();
    t.tokens += s.size();
    if (!o.out_path.empty()) {
      json j = sample_json(tok, s, o.first + i, o.ids);
      extra(j, o.first + i);
      lines.push_back(std::move(j));
    }
    if (o.pack) kept.push_back(std::move(s));
  }
  std::fprintf(stderr, "lsk synth %s: %llu samples, %zu tokens, generated in %.3f s: %.0f tokens/s (1 thread)\n",
               o.kind.c_str(), static_cast<unsigned long long>(o.count), t.tokens, t.seconds,
               t.seconds > 0 ? static_cast<double>(t.tokens) / t.seconds : 0.0);
  if (o.pack) {
    const auto pc = data::packing_config::from_json(section(config, "packing"));
    const auto start = clock_type::now();
    auto p = data::make_packer(kept, pc, tok.pad_id() >= 0 ? tok.pad_id() : tok.eos_id());
    std::size_t batches = 0;
    while (auto b = p.next()) ++batches;
    const double secs = std::chrono::duration<double>(clock_type::now() - start).count();
    std::fprintf(stderr, "lsk synth %s: packed into %zu batches of %zu x %zu in %.3f s: %.0f tokens/s (1 thread)\n",
                 o.kind.c_str(), batches, pc.batch_size, pc.seq_len, secs,
                 secs > 0 ? static_cast<double>(p.stats().tokens) / secs : 0.0);
  }
  if (!o.out_path.empty()) {
    lsk::io::atomic_write(o.out_path, [&](lsk::io::atomic_file& f) {
      for (const auto& j : lines) {
        std::string line = j.dump(-1, ' ', false, json::error_handler_t::replace);
        line += '\n';
        f.write(line);
      }
    });
  }
}

template <class Tok>
void run_kind(const synth_options& o, const Tok& tok, const json& config) {
  const auto no_extra = [](json&, std::uint64_t) {};
  if (o.kind == "cip") {
    const auto docs = data::read_corpus(string_key(config, "corpus"));
    const auto corpus = data::tokenized_corpus::from_documents(tok, docs);
    const data::cip_synthesizer synth(corpus, data::cip_config::from_json(section(config, "cip")),
                                      data::special_tokens::of(tok));
    run(o, tok, synth, config, no_extra);
  } else if (o.kind == "synl") {
    const data::synl_synthesizer synth(tok, data::synl_config::from_json(section(config, "synl")));
    run(o, tok, synth, config, [&](json& j, std::uint64_t i) {
      const auto item = synth.generate_item(i);
      j["family"] = item.family;
      j["task"] = item.task;
      j["format"] = item.format;
      j["rows"] = item.rows;
    });
  } else if (o.kind == "needle") {
    const std::string hay = read_text_file(string_key(config, "haystack"));
    const data::needle_synthesizer synth(tok, hay, data::needle_config::from_json(section(config, "needle")));
    run(o, tok, synth, config, [&](json& j, std::uint64_t i) {
      const auto item = synth.generate_item(i);
      j["length"] = item.length;
      j["depth"] = item.depth;
      j["key"] = item.key;
      j["needle_offset_tokens"] = item.needle_offset_tokens;
      j["haystack_tokens"] = item.haystack_tokens;
    });
  } else {
    const auto docs = data::read_corpus(string_key(config, "corpus"));
    const data::sft_synthesizer synth(tok, docs, data::sft_config::from_json(section(config, "sft")));
    run(o, tok, synth, config, no_extra);
  }
}

void run_synth(const synth_options& o) {
  const json config = load_json(o.config_path);
  lsk::data::json_config::check_keys(config, "",
                                     {"tokenizer", "corpus", "haystack", "cip", "synl", "needle", "sft", "packing"});
  if (!o.out_path.empty() && std::filesystem::exists(o.out_path) && !std::filesystem::is_regular_file(o.out_path)) {
    lsk::raise<lsk::io_error>("--out: '", o.out_path, "' exists and is not a regular file");
  }
  const std::string tokenizer = string_key(config, "tokenizer", "byte");
  if (tokenizer == "byte") {
    run_kind(o, data::byte_tokenizer{}, config);
    return;
  }
#if defined(LSK_HAS_SENTENCEPIECE)
  run_kind(o, data::sentencepiece_tokenizer(tokenizer), config);
#else
  lsk::raise<lsk::config_error>("tokenizer: '", tokenizer, "' needs SentencePiece, and this lsk was built without it");
#endif
}
}  // namespace

void add_synth_command(CLI::App& app) {
  auto opts = std::make_shared<synth_options>();
  CLI::App* cmd = app.add_subcommand("synth", "Generate CIP, SynL, needle or SFT samples as JSON Lines");
  cmd->add_option("kind", opts->kind, "cip, synl, needle or sft")
      ->required()
      ->check(CLI::IsMember({"cip", "synl", "needle", "sft"}));
  cmd->add_option("--config", opts->config_path, "JSON config (tokenizer, corpus/haystack, per-synthesizer section)")
      ->required();
  cmd->add_option("--count", opts->count, "number of samples")->check(CLI::PositiveNumber);
  cmd->add_option("--first", opts->first, "index of the first sample");
  cmd->add_option("--out", opts->out_path, "output .jsonl (omit to only time the generation)");
  cmd->add_flag("--ids", opts->ids, "also write token ids, loss mask, document ids and positions");
  cmd->add_flag("--pack", opts->pack, "also pack the samples into batches (config \"packing\") and time it");
  cmd->callback([opts] { run_synth(*opts); });
}

// The evaluations `lsk train` runs after each stage and `lsk eval` runs on a
// saved model: perplexity by length, the needle grid and held-out SynL
// accuracy. Settings come from JSON objects (a plan's "eval" entries, or an
// `lsk eval --config` file) with command-line overrides; each run prints its
// table and returns its results as JSON.
//   "perplexity": {"lengths": [64, 128], "windows": 4}
//   "needle": {"lengths": [128, 512], "depths": [0, 0.5, 1], "samples": 2, ...needle config keys}
//             samples: per (length, depth) cell
//   "synl": {"samples": 12, "target_tokens": 512 or [256, 512], "slack": 8, ...synl config keys}
//             samples: per length; seed defaults to lsk::eval::synl_heldout_seed
#pragma once

#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/core/error.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/needle.hpp"
#include "lsk/data/synl.hpp"
#include "lsk/eval/heatmap.hpp"
#include "lsk/eval/needle_eval.hpp"
#include "lsk/eval/perplexity.hpp"
#include "lsk/eval/synl_eval.hpp"
#include "lsk/io/atomic_write.hpp"
#if defined(LSK_HAS_SENTENCEPIECE)
#include "lsk/data/sentencepiece_tokenizer.hpp"
#endif

namespace lsk::cli {

// Calls fn(std::shared_ptr<const Tok>) with the byte tokenizer ("byte") or the
// SentencePiece model at `name`; `option` names the option in errors.
template <class Fn>
void with_tokenizer(const std::string& name, const std::string& option, Fn&& fn) {
  if (name == "byte") {
    fn(std::make_shared<const data::byte_tokenizer>());
    return;
  }
#if defined(LSK_HAS_SENTENCEPIECE)
  if (!std::filesystem::exists(name)) raise<io_error>(option, " ", name, ": no such file");
  fn(std::make_shared<const data::sentencepiece_tokenizer>(name));
#else
  raise<config_error>(option, " ", name, ": this lsk was built without SentencePiece (use 'byte')");
#endif
}

struct perplexity_settings {
  std::vector<index_t> lengths;  // empty: the caller's default
  index_t windows = 4;
};

inline perplexity_settings perplexity_settings_from_json(const nlohmann::json& j, const std::string& where) {
  data::json_config::check_keys(j, where, {"lengths", "windows"});
  perplexity_settings s;
  data::json_config::read(j, where, "lengths", s.lengths);
  data::json_config::read(j, where, "windows", s.windows);
  for (auto l : s.lengths) data::json_config::require(l >= 2, where, "lengths", "every length must be >= 2, got ", l);
  data::json_config::require(s.windows >= 1, where, "windows", "must be >= 1, got ", s.windows);
  return s;
}

struct needle_settings {
  data::needle_config config;
  std::uint64_t per_cell = 1;
  std::uint64_t samples() const {
    return per_cell * std::max<std::size_t>(config.lengths.size(), 1) * std::max<std::size_t>(config.depths.size(), 1);
  }
  // Positions a model needs for the longest prompt and its answer.
  index_t rows() const {
    std::size_t longest = config.lengths.empty() ? config.context_tokens : 0;
    for (auto l : config.lengths) longest = std::max(longest, l);
    return static_cast<index_t>(longest) + 64;
  }
};

inline needle_settings needle_settings_from_json(nlohmann::json j, const std::string& where) {
  if (!j.is_object()) raise<config_error>(where, ": expected an object, got ", j.type_name());
  needle_settings s;
  data::json_config::read(j, where, "samples", s.per_cell);
  data::json_config::require(s.per_cell >= 1, where, "samples", "must be >= 1");
  j.erase("samples");
  s.config = data::needle_config::from_json(j, where);
  return s;
}

struct synl_settings {
  data::synl_config config;  // target_tokens: the first length
  std::vector<std::size_t> lengths;
  std::uint64_t samples = 12;  // per length
  index_t slack = 8;
};

inline synl_settings synl_settings_from_json(nlohmann::json j, const std::string& where) {
  if (!j.is_object()) raise<config_error>(where, ": expected an object, got ", j.type_name());
  synl_settings s;
  data::json_config::read(j, where, "samples", s.samples);
  data::json_config::require(s.samples >= 1, where, "samples", "must be >= 1");
  data::json_config::read(j, where, "slack", s.slack);
  data::json_config::require(s.slack >= 0, where, "slack", "must be >= 0");
  if (j.contains("target_tokens") && j["target_tokens"].is_array()) {
    data::json_config::read(j, where, "target_tokens", s.lengths);
    data::json_config::require(!s.lengths.empty(), where, "target_tokens", "must not be empty");
    j["target_tokens"] = s.lengths.front();
  }
  j.erase("samples");
  j.erase("slack");
  if (!j.contains("seed")) j["seed"] = eval::synl_heldout_seed;
  s.config = data::synl_config::from_json(j, where);
  if (s.lengths.empty()) s.lengths = {s.config.target_tokens};
  for (auto l : s.lengths) {
    data::json_config::require(l >= 64, where, "target_tokens", "every length must be at least 64, got ", l);
  }
  return s;
}

// Perplexity by length on `tokens`, printed as a table whose lines start with `indent`.
template <Backend B>
nlohmann::json run_perplexity(B& be, model::llama<float>& m, std::span<const std::int32_t> tokens,
                              const std::vector<index_t>& lengths, index_t windows, const std::string& indent) {
  nlohmann::json out = nlohmann::json::array();
  std::printf("%s| length | windows | perplexity | second half |\n%s|---|---|---|---|\n", indent.c_str(),
              indent.c_str());
  for (const auto& p : eval::perplexity_by_length(be, m, tokens, lengths, windows)) {
    out.push_back({{"length", p.length}, {"ppl", p.ppl()}, {"ppl_second_half", p.ppl_second_half()}});
    std::printf("%s| %lld | %lld | %.3f | %.3f |\n", indent.c_str(), static_cast<long long>(p.length),
                static_cast<long long>(p.windows), p.ppl(), p.ppl_second_half());
  }
  return out;
}

// Every needle question's answer as JSON Lines: index, length, depth (percent),
// expected, generated, correct.
inline void write_needle_answers(const std::filesystem::path& path, const std::vector<eval::needle_answer>& answers) {
  std::string text;
  for (const auto& a : answers) {
    // Generated bytes may end inside a UTF-8 sequence: replace invalid bytes in the JSON.
    text += nlohmann::json{{"index", a.index},       {"length", a.length},       {"depth", a.depth_percent},
                           {"expected", a.expected}, {"generated", a.generated}, {"correct", a.correct}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  io::atomic_write(path, [&](io::atomic_file& f) { f.write(text); });
}

// The needle grid, printed and written as an SVG heatmap at `svg` (and every
// answer as JSON Lines at `answers` unless it is empty).
template <Backend B, Tokenizer Tok>
eval::needle_grid run_needles(B& be, model::llama<float>& m, const Tok& tok, const data::needle_synthesizer<Tok>& synth,
                              const needle_settings& s, const std::filesystem::path& svg, const std::string& title,
                              const std::string& label, const std::filesystem::path& answers = {}) {
  std::vector<eval::needle_answer> generated;
  const auto grid = eval::evaluate_needles(be, m, tok, synth, s.samples(), 2, &generated);
  if (!answers.empty()) write_needle_answers(answers, generated);
  eval::write_needle_heatmap(svg, grid, title);
  std::printf("%sneedle grid (exact match %%), mean %.0f%%, heatmap %s\n%s", label.c_str(), 100 * grid.mean(),
              svg.string().c_str(), eval::needle_grid_text(grid).c_str());
  return grid;
}

inline nlohmann::json needle_json(const eval::needle_grid& grid, long long base_length) {
  return {{"needle_mean", grid.mean()},
          {"needle_mean_base", grid.mean(0, base_length)},
          {"needle_mean_beyond", grid.mean(base_length + 1)},
          {"needle_grid", eval::needle_grid_text(grid)}};
}

// Every SynL question's answer as JSON Lines: family, task, length (target
// tokens), expected, generated, correct.
inline void write_synl_answers(const std::filesystem::path& path, const std::vector<eval::synl_answer>& answers) {
  std::string text;
  for (const auto& a : answers) {
    text += nlohmann::json{{"family", a.family},     {"task", a.task},           {"length", a.length},
                           {"expected", a.expected}, {"generated", a.generated}, {"correct", a.correct}}
                .dump(-1, ' ', false, nlohmann::json::error_handler_t::replace);
    text += '\n';
  }
  io::atomic_write(path, [&](io::atomic_file& f) { f.write(text); });
}

// Held-out SynL accuracy on prepared cases, printed as a table (and every
// answer as JSON Lines at `answers` unless it is empty).
template <Backend B, Tokenizer Tok>
eval::synl_scores run_synl(B& be, model::llama<float>& m, const Tok& tok, const std::vector<eval::synl_case>& cases,
                           index_t slack, const std::string& label, const std::filesystem::path& answers = {}) {
  std::vector<eval::synl_answer> generated;
  const auto scores = eval::evaluate_synl(be, m, tok, cases, slack, &generated);
  if (!answers.empty()) write_synl_answers(answers, generated);
  std::printf("%sSynL held-out exact match, %lld questions, by family and length (target tokens)\n%s", label.c_str(),
              static_cast<long long>(scores.count()), scores.table().c_str());
  return scores;
}

// "| 42% |" cells for report tables ("-" when nothing was asked).
inline std::string percent_cell(double v) {
  if (v < 0) return " - |";
  char buffer[32];
  std::snprintf(buffer, sizeof buffer, " %.0f%% |", 100 * v);
  return buffer;
}

}  // namespace lsk::cli

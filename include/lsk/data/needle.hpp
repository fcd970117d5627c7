// lsk/data/needle.hpp: needle-in-a-haystack samples over a grid of context
// lengths and depths, with RULER-style multi-key / multi-value variants.
//
// Haystack: the sentences of held-out text (split_sentences), each encoded
// once with a leading space at construction. Grid: sample i is cell
// i mod (lengths x depths), lengths major; an empty grid means the single
// cell (context_tokens, depth).
// Sample i in cell (L, d), rng r = sample_rng(seed, i):
//  1. keys: distinct "<adjective>-<noun>" pairs; values: value_digits-digit
//     numbers. The asked key gets values_per_key values (multi-value); every
//     other key (needles - 1 more, plus distractors) gets one value; other
//     keys are never asked (multi-key).
//  2. needle sentences: needle_template with {key} and {value} filled in.
//  3. haystack: consecutive sentences from a random start (wrapping around),
//     as many as fit in L minus the tokens of the needles, the instruction
//     and the question.
//  4. placement at sentence boundaries, measured in haystack tokens: the
//     asked key's first needle at the boundary nearest d * haystack_tokens
//     (d = 0: before the first sentence, d = 1: after the last), every other
//     needle at a uniformly drawn boundary.
//  5. prompt = instruction + haystack (sentences joined by spaces) +
//     "\n\nQuestion: " + question; answer = the value, or the values in
//     document order joined by ", " (multi-value); rendered with the chat
//     template (loss on the answer).
// needle_item reports where the asked needle landed (haystack tokens before
// it and in all), so tests and the evaluation heatmap read the true depth.
#pragma once

#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/concepts/synthesizer.hpp"
#include "lsk/concepts/tokenizer.hpp"
#include "lsk/data/chat.hpp"
#include "lsk/data/json_config.hpp"
#include "lsk/data/synthesis.hpp"

namespace lsk::data {

struct needle_config {
  std::uint64_t seed = 0;
  std::size_t context_tokens = 4096;  // the whole prompt, instruction and question included
  double depth = 0.5;                 // 0 = start of the haystack, 1 = end
  std::vector<std::size_t> lengths;   // grid (optional): context lengths
  std::vector<double> depths;         // grid (optional): depths in [0, 1]
  std::size_t needles = 1;            // keys with a needle (one is asked)
  std::size_t values_per_key = 1;     // needles for the asked key
  std::size_t distractors = 0;        // further keys with a needle, never asked
  std::size_t value_digits = 7;
  std::string needle_template = "The special magic number for {key} is {value}.";
  std::string question_template = "What is the special magic number for {key}?";
  std::string multi_value_question_template =
      "What are all the special magic numbers for {key}? List them in the order they appear.";
  std::string instruction = "Read the text below and answer the question after it.\n\n";
  chat_template chat;

  void validate(std::string_view where = "needle") const {
    using json_config::require;
    require(context_tokens >= 64, where, "context_tokens", "must be at least 64, got ", context_tokens);
    require(depth >= 0 && depth <= 1, where, "depth", "must be in [0, 1], got ", depth);
    for (const auto l : lengths) require(l >= 64, where, "lengths", "every length must be at least 64, got ", l);
    for (const auto d : depths) require(d >= 0 && d <= 1, where, "depths", "every depth must be in [0, 1], got ", d);
    require(needles >= 1 && needles <= 64, where, "needles", "must be in [1, 64]");
    require(values_per_key >= 1 && values_per_key <= 64, where, "values_per_key", "must be in [1, 64]");
    require(distractors <= 64, where, "distractors", "must be at most 64");
    require(value_digits >= 1 && value_digits <= 18, where, "value_digits", "must be in [1, 18]");
    require(needle_template.find("{key}") != std::string::npos && needle_template.find("{value}") != std::string::npos,
            where, "needle_template", "must contain {key} and {value}");
    require(question_template.find("{key}") != std::string::npos, where, "question_template", "must contain {key}");
  }

  static needle_config from_json(const json_config::json& j, std::string_view where = "needle") {
    json_config::check_keys(j, where,
                            {"seed", "context_tokens", "depth", "lengths", "depths", "needles", "values_per_key",
                             "distractors", "value_digits", "needle_template", "question_template",
                             "multi_value_question_template", "instruction", "chat"});
    needle_config c;
    json_config::read(j, where, "seed", c.seed);
    json_config::read(j, where, "context_tokens", c.context_tokens);
    json_config::read(j, where, "depth", c.depth);
    json_config::read(j, where, "lengths", c.lengths);
    json_config::read(j, where, "depths", c.depths);
    json_config::read(j, where, "needles", c.needles);
    json_config::read(j, where, "values_per_key", c.values_per_key);
    json_config::read(j, where, "distractors", c.distractors);
    json_config::read(j, where, "value_digits", c.value_digits);
    json_config::read(j, where, "needle_template", c.needle_template);
    json_config::read(j, where, "question_template", c.question_template);
    json_config::read(j, where, "multi_value_question_template", c.multi_value_question_template);
    json_config::read(j, where, "instruction", c.instruction);
    if (j.contains("chat")) c.chat = chat_template::from_json(j["chat"], json_config::key_path(where, "chat"));
    c.validate(where);
    return c;
  }
};

struct needle_item {
  std::size_t length = 0;  // the cell's context length
  double depth = 0;        // the cell's depth
  std::string key;         // the asked key
  std::vector<std::string> values;
  std::string prompt, question, answer;
  std::size_t haystack_tokens = 0;       // sentence tokens of the haystack, needles excluded
  std::size_t needle_offset_tokens = 0;  // haystack tokens before the asked key's first needle
  std::size_t needle_count = 0;          // needle sentences placed
};

namespace needle_detail {
inline constexpr std::array<std::string_view, 32> adjectives = {
    "amber",  "brave",  "calm",   "dusty", "eager", "fuzzy", "gentle", "hollow", "icy",    "jolly", "keen",
    "lively", "mellow", "narrow", "olive", "proud", "quiet", "rapid",  "silent", "tidy",   "upper", "vivid",
    "wild",   "young",  "zesty",  "bold",  "crisp", "deep",  "faint",  "grand",  "humble", "lunar"};
inline constexpr std::array<std::string_view, 32> nouns = {
    "falcon", "harbor", "lantern", "meadow", "orchid", "pebble",  "quarry",  "river",  "saddle",  "thistle", "umbrella",
    "valley", "willow", "anchor",  "beacon", "canyon", "dolphin", "ember",   "fjord",  "glacier", "hermit",  "island",
    "jigsaw", "kettle", "ladder",  "marble", "nectar", "oyster",  "pilgrim", "quiver", "rocket",  "sparrow"};

}  // namespace needle_detail

template <Tokenizer Tok>
class needle_synthesizer {
 public:
  // `haystack_text`: held-out text (e.g. Moby Dick), split into sentences here.
  needle_synthesizer(const Tok& tok, std::string_view haystack_text, needle_config config)
      : tok_(&tok), config_(std::move(config)) {
    config_.validate();
    sentences_ = split_sentences(haystack_text, 2);
    if (sentences_.size() < 2) raise<config_error>("needle: the haystack text has fewer than 2 sentences");
    sentence_tokens_.reserve(sentences_.size());
    for (const auto& s : sentences_) {
      std::string spaced(1, ' ');
      spaced += s;
      sentence_tokens_.push_back(tok.encode(spaced).size());
    }
    if (config_.lengths.empty()) config_.lengths = {config_.context_tokens};
    if (config_.depths.empty()) config_.depths = {config_.depth};
  }

  const needle_config& config() const { return config_; }
  std::size_t cells() const { return config_.lengths.size() * config_.depths.size(); }
  std::size_t length_of(std::uint64_t index) const {
    return config_.lengths[(index % cells()) / config_.depths.size()];
  }
  double depth_of(std::uint64_t index) const { return config_.depths[(index % cells()) % config_.depths.size()]; }

  needle_item generate_item(std::uint64_t index) const {
    using namespace needle_detail;
    rng r = sample_rng(config_.seed, index);
    needle_item item;
    item.length = length_of(index);
    item.depth = depth_of(index);
    // 1-2. keys, values, needle sentences
    const std::size_t nkeys = config_.needles + config_.distractors;
    std::vector<std::string> keys;
    while (keys.size() < nkeys) {
      std::string k(adjectives[r.below(32)]);
      k += '-';
      k += nouns[r.below(32)];
      if (std::find(keys.begin(), keys.end(), k) == keys.end()) keys.push_back(std::move(k));
    }
    auto value = [&] {
      std::string v(1, static_cast<char>('1' + r.below(9)));
      while (v.size() < config_.value_digits) v += static_cast<char>('0' + r.below(10));
      return v;
    };
    item.key = keys[0];
    struct placed {
      std::string text;
      bool asked_first;
      std::size_t boundary;
    };
    std::vector<placed> needles;
    for (std::size_t v = 0; v < config_.values_per_key; ++v) {
      item.values.push_back(value());
      needles.push_back({fill_key_value(config_.needle_template, keys[0], item.values.back()), v == 0, 0});
    }
    for (std::size_t k = 1; k < nkeys; ++k)
      needles.push_back({fill_key_value(config_.needle_template, keys[k], value()), false, 0});
    item.question = fill_key_value(
        config_.values_per_key > 1 ? config_.multi_value_question_template : config_.question_template, item.key, "");
    // 3. the haystack budget
    std::size_t fixed =
        tok_->encode(config_.instruction).size() + tok_->encode("\n\nQuestion: " + item.question).size();
    fixed += chat_overhead();
    for (const auto& n : needles) fixed += tok_->encode(" " + n.text).size();
    const std::size_t budget = item.length > fixed ? item.length - fixed : 0;
    const std::size_t start = r.below(static_cast<std::uint32_t>(sentences_.size()));
    std::vector<std::size_t> picked;
    std::size_t total = 0;
    for (std::size_t k = 0; k < sentences_.size(); ++k) {
      const std::size_t s = (start + k) % sentences_.size();
      if (total + sentence_tokens_[s] > budget && !picked.empty()) break;
      if (total + sentence_tokens_[s] > budget) break;
      picked.push_back(s);
      total += sentence_tokens_[s];
    }
    item.haystack_tokens = total;
    // 4. placement: boundary b = before picked[b] (b = picked.size(): at the end)
    std::vector<std::size_t> offsets(picked.size() + 1, 0);
    for (std::size_t b = 0; b < picked.size(); ++b) offsets[b + 1] = offsets[b] + sentence_tokens_[picked[b]];
    const double target = item.depth * static_cast<double>(total);
    std::size_t best = 0;
    for (std::size_t b = 1; b < offsets.size(); ++b)
      if (std::abs(static_cast<double>(offsets[b]) - target) < std::abs(static_cast<double>(offsets[best]) - target))
        best = b;
    for (auto& n : needles) {
      n.boundary = n.asked_first ? best : r.below(static_cast<std::uint32_t>(offsets.size()));
    }
    item.needle_offset_tokens = offsets[best];
    item.needle_count = needles.size();
    // 5. the text: needles at a boundary keep their generation order, except
    // that the asked key's values stay in order (first value first).
    std::string hay;
    auto add = [&hay](const std::string& s) {
      if (!hay.empty()) hay += ' ';
      hay += s;
    };
    std::vector<std::string> answer_values;
    for (std::size_t b = 0; b <= picked.size(); ++b) {
      for (const auto& n : needles) {
        if (n.boundary != b) continue;
        add(n.text);
      }
      if (b < picked.size()) add(sentences_[picked[b]]);
    }
    // multi-value answers list the values in the order they appear in the text
    for (std::size_t pos = 0;;) {
      std::size_t found = std::string::npos, which = 0;
      for (std::size_t v = 0; v < item.values.size(); ++v) {
        const auto at = hay.find(fill_key_value(config_.needle_template, item.key, item.values[v]), pos);
        if (at < found) {
          found = at;
          which = v;
        }
      }
      if (found == std::string::npos) break;
      answer_values.push_back(item.values[which]);
      pos = found + 1;
    }
    for (std::size_t v = 0; v < answer_values.size(); ++v) {
      if (v) item.answer += ", ";
      item.answer += answer_values[v];
    }
    item.prompt = config_.instruction;
    item.prompt += hay;
    item.prompt += "\n\nQuestion: ";
    item.prompt += item.question;
    return item;
  }

  sample generate(std::uint64_t index) const {
    const needle_item item = generate_item(index);
    sample s = render_chat(*tok_, config_.chat, item.prompt, item.answer, 0);
    s.kind = "needle";
    return s;
  }

  auto samples(std::uint64_t count) const { return sample_view(*this, count); }

 private:
  std::size_t chat_overhead() const {
    const auto& t = config_.chat;
    return (t.add_bos ? 1u : 0u) + tok_->encode(t.user_prefix).size() + tok_->encode(t.assistant_prefix).size();
  }

  const Tok* tok_;
  needle_config config_;
  std::vector<std::string> sentences_;
  std::vector<std::size_t> sentence_tokens_;
};

}  // namespace lsk::data

// lsk/data/sft.hpp: short SFT samples generated from the corpus, so that the
// standard SFT stage has data without human annotation.
//
// Source: the sentences (split_sentences) of the given documents with
// min_words..max_words words, kept with their order (sentence k and k+1 of
// one document are consecutive). Sample i, rng r = sample_rng(seed, i):
// a task drawn from `tasks`, a random sentence s (and its neighbours), then
// turns_per_sample question-answer turns rendered with the chat template
// (loss on the assistant's tokens only). Tasks, each with an exact answer:
//   copy        "Repeat this sentence exactly:\n<s>"             -> s
//   next        "Which sentence comes next in the text?\n<s>"     -> the following sentence
//   count_words "How many words are in this sentence?\n<s>"       -> its word count
//   last_word   "What is the last word of this sentence?\n<s>"    -> last word, outer punctuation stripped
//   uppercase   "Rewrite this sentence in capital letters:\n<s>"  -> s with a-z mapped to A-Z
// and two in-context retrieval tasks over a passage P of random sentences
// (at least n words, n = passage_words, or drawn uniformly from
// passage_words..passage_words_max when that is set), the question after the
// passage so that the answer has to be looked up in it:
//   lookup      "<P>\n\nWhich two words follow \"<a b>\" in the text above?" -> the next two words
//               (a b: a word pair that occurs once in P)
//   recall      P with 1..recall_facts facts "<Name>'s code is <digits>." inserted at sentence
//               boundaries (distinct names, recall_digits digits), then
//               "\n\nWhat is <Name>'s code?" about one of them -> its digits.
//               Optional variety: recall_phrasings, a list of {fact, question}
//               templates ({key}, {value}), one drawn per sample for all its facts
//               (default: the one above); recall_keys, the keys used in place of the
//               built-in first names.
// (words: runs of non-space bytes).
#pragma once

#include <array>
#include <cstdint>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsk/concepts/synthesizer.hpp"
#include "lsk/concepts/tokenizer.hpp"
#include "lsk/data/chat.hpp"
#include "lsk/data/corpus.hpp"
#include "lsk/data/json_config.hpp"
#include "lsk/data/synthesis.hpp"

namespace lsk::data {

namespace sft_detail {
// The people of the recall task's facts.
inline constexpr std::array<std::string_view, 24> recall_names = {
    "Alma", "Boris", "Clara", "Dmitri", "Edith", "Felix", "Greta", "Hugo", "Ines", "Jonas", "Kira",  "Lars",
    "Mona", "Nils",  "Olga",  "Pablo",  "Rosa",  "Sven",  "Tara",  "Ugo",  "Vera", "Walt",  "Yusuf", "Zelda"};
}  // namespace sft_detail

// How the recall task states a fact and asks for it: templates with {key}
// (fact and question) and {value} (fact only).
struct recall_phrasing {
  std::string fact = "{key}'s code is {value}.";
  std::string question = "What is {key}'s code?";
};

struct sft_config {
  std::uint64_t seed = 0;
  std::vector<std::string> tasks = {"copy", "next", "count_words", "last_word", "uppercase"};
  std::size_t min_words = 4, max_words = 40;
  std::size_t turns_per_sample = 1;
  std::size_t passage_words = 60;     // lookup / recall: words of the passage at least
  std::size_t passage_words_max = 0;  // if set: each passage's length drawn from passage_words..this
  std::size_t recall_facts = 3;       // recall: facts in the passage at most (one is asked)
  std::size_t recall_digits = 4;      // recall: digits of a code
  std::vector<recall_phrasing> recall_phrasings = {recall_phrasing{}};  // recall: one drawn per sample
  std::vector<std::string> recall_keys;  // recall: the keys (empty: sft_detail::recall_names)
  chat_template chat;

  std::size_t recall_key_count() const {
    return recall_keys.empty() ? sft_detail::recall_names.size() : recall_keys.size();
  }

  void validate(std::string_view where = "sft") const {
    using json_config::require;
    require(!tasks.empty(), where, "tasks", "must not be empty");
    for (const auto& t : tasks)
      json_config::require_choice(t, where, "tasks",
                                  {"copy", "next", "count_words", "last_word", "uppercase", "lookup", "recall"});
    require(min_words >= 1, where, "min_words", "must be at least 1");
    require(max_words >= min_words, where, "max_words", "must be at least min_words");
    require(turns_per_sample >= 1 && turns_per_sample <= 64, where, "turns_per_sample", "must be in [1, 64]");
    require(passage_words >= 4 && passage_words <= 100000, where, "passage_words", "must be in [4, 100000]");
    require(passage_words_max == 0 || (passage_words_max >= passage_words && passage_words_max <= 100000), where,
            "passage_words_max", "must be 0 (unset) or in [passage_words, 100000]");
    require(recall_facts >= 1 && recall_facts <= recall_key_count(), where, "recall_facts", "must be in [1, ",
            recall_key_count(), "] (the number of recall keys)");
    require(recall_digits >= 1 && recall_digits <= 18, where, "recall_digits", "must be in [1, 18]");
    require(!recall_phrasings.empty(), where, "recall_phrasings", "must not be empty");
    for (std::size_t i = 0; i < recall_phrasings.size(); ++i) {
      const auto& ph = recall_phrasings[i];
      const std::string at = "recall_phrasings[" + std::to_string(i) + "]";
      require(ph.fact.find("{key}") != std::string::npos && ph.fact.find("{value}") != std::string::npos, where,
              at + ".fact", "must contain {key} and {value}, got \"", ph.fact, "\"");
      require(ph.question.find("{key}") != std::string::npos, where, at + ".question", "must contain {key}, got \"",
              ph.question, "\"");
    }
    for (std::size_t i = 0; i < recall_keys.size(); ++i) {
      require(!recall_keys[i].empty(), where, "recall_keys[" + std::to_string(i) + "]", "must not be empty");
      for (std::size_t k = 0; k < i; ++k)
        require(recall_keys[k] != recall_keys[i], where, "recall_keys[" + std::to_string(i) + "]", "repeats \"",
                recall_keys[i], "\"");
    }
  }

  static sft_config from_json(const json_config::json& j, std::string_view where = "sft") {
    json_config::check_keys(
        j, where,
        {"seed", "tasks", "min_words", "max_words", "turns_per_sample", "passage_words", "passage_words_max",
         "recall_facts", "recall_digits", "recall_phrasings", "recall_keys", "chat"});
    sft_config c;
    json_config::read(j, where, "seed", c.seed);
    json_config::read(j, where, "tasks", c.tasks);
    json_config::read(j, where, "min_words", c.min_words);
    json_config::read(j, where, "max_words", c.max_words);
    json_config::read(j, where, "turns_per_sample", c.turns_per_sample);
    json_config::read(j, where, "passage_words", c.passage_words);
    json_config::read(j, where, "passage_words_max", c.passage_words_max);
    json_config::read(j, where, "recall_facts", c.recall_facts);
    json_config::read(j, where, "recall_digits", c.recall_digits);
    json_config::read(j, where, "recall_keys", c.recall_keys);
    if (const auto it = j.find("recall_phrasings"); it != j.end()) {
      const std::string path = json_config::key_path(where, "recall_phrasings");
      if (!it->is_array()) raise<config_error>(path, ": expected an array of {fact, question}, got ", it->type_name());
      c.recall_phrasings.clear();
      for (std::size_t i = 0; i < it->size(); ++i) {
        const std::string at = path + "[" + std::to_string(i) + "]";
        const auto& e = (*it)[i];
        if (!e.is_object()) raise<config_error>(at, ": expected an object {fact, question}, got ", e.type_name());
        json_config::check_keys(e, at, {"fact", "question"});
        if (!e.contains("fact") || !e.contains("question")) raise<config_error>(at, ": needs both fact and question");
        recall_phrasing ph;
        json_config::read(e, at, "fact", ph.fact);
        json_config::read(e, at, "question", ph.question);
        c.recall_phrasings.push_back(std::move(ph));
      }
    }
    if (j.contains("chat")) c.chat = chat_template::from_json(j["chat"], json_config::key_path(where, "chat"));
    c.validate(where);
    return c;
  }
};

namespace sft_detail {
inline std::vector<std::string_view> words(std::string_view s) {
  std::vector<std::string_view> out;
  std::size_t i = 0;
  while (i < s.size()) {
    while (i < s.size() && s[i] == ' ') ++i;
    const std::size_t j = s.find(' ', i);
    const std::size_t end = j == std::string_view::npos ? s.size() : j;
    if (end > i) out.push_back(s.substr(i, end - i));
    i = end;
  }
  return out;
}
// The word without leading/trailing ASCII punctuation (UTF-8 bytes are kept).
inline std::string_view strip_punct(std::string_view w) {
  const auto punct = [](char c) {
    const auto u = static_cast<unsigned char>(c);
    return u < 0x80 && !((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9'));
  };
  while (!w.empty() && punct(w.front())) w.remove_prefix(1);
  while (!w.empty() && punct(w.back())) w.remove_suffix(1);
  return w;
}
}  // namespace sft_detail

template <Tokenizer Tok>
class sft_synthesizer {
 public:
  sft_synthesizer(const Tok& tok, std::span<const document> docs, sft_config config)
      : tok_(&tok), config_(std::move(config)) {
    config_.validate();
    for (const document& d : docs) {
      const auto sentences = split_sentences(d.text, 2);
      for (std::size_t k = 0; k < sentences.size(); ++k) {
        const auto n = sft_detail::words(sentences[k]).size();
        if (n < config_.min_words || n > config_.max_words) continue;
        const bool has_next = k + 1 < sentences.size();
        entries_.push_back({sentences[k], has_next ? sentences[k + 1] : std::string()});
        if (has_next) with_next_.push_back(entries_.size() - 1);
      }
    }
    if (entries_.empty())
      raise<config_error>("sft: no sentence of ", config_.min_words, "..", config_.max_words,
                          " words in the documents");
  }

  const sft_config& config() const { return config_; }
  std::size_t sentences() const { return entries_.size(); }

  // One (task, question, answer) turn for sample index and turn t.
  chat_turn make_turn(rng& r, std::string* task_out = nullptr) const {
    std::string task = pick(r, config_.tasks);
    if (task == "next" && with_next_.empty()) task = "copy";
    const entry& e = task == "next" ? entries_[pick(r, with_next_)] : pick(r, entries_);
    chat_turn turn;
    if (task == "copy") {
      turn.user = "Repeat this sentence exactly:\n" + e.sentence;
      turn.assistant = e.sentence;
    } else if (task == "next") {
      turn.user = "Which sentence comes next in the text?\n" + e.sentence;
      turn.assistant = e.next;
    } else if (task == "count_words") {
      turn.user = "How many words are in this sentence?\n" + e.sentence;
      turn.assistant = std::to_string(sft_detail::words(e.sentence).size());
    } else if (task == "last_word") {
      turn.user = "What is the last word of this sentence?\n" + e.sentence;
      const auto w = sft_detail::words(e.sentence);
      turn.assistant = std::string(sft_detail::strip_punct(w.back()));
      if (turn.assistant.empty()) turn.assistant = std::string(w.back());
    } else if (task == "lookup") {
      make_lookup(r, turn);
    } else if (task == "recall") {
      make_recall(r, turn);
    } else {
      turn.user = "Rewrite this sentence in capital letters:\n" + e.sentence;
      turn.assistant = e.sentence;
      for (char& c : turn.assistant)
        if (c >= 'a' && c <= 'z') c = static_cast<char>(c - 'a' + 'A');
    }
    if (task_out) *task_out = task;
    return turn;
  }

  sample generate(std::uint64_t index) const {
    rng r = sample_rng(config_.seed, index);
    std::vector<chat_turn> turns;
    for (std::size_t t = 0; t < config_.turns_per_sample; ++t) turns.push_back(make_turn(r));
    sample s = render_chat(*tok_, config_.chat, turns, 0);
    s.kind = "sft";
    return s;
  }

  auto samples(std::uint64_t count) const { return sample_view(*this, count); }

 private:
  struct entry {
    std::string sentence, next;
  };
  // Random sentences with at least passage_words words in all (or a length
  // drawn from passage_words..passage_words_max).
  std::vector<std::string> passage(rng& r) const {
    std::size_t length = config_.passage_words;
    if (config_.passage_words_max > config_.passage_words)
      length += r.below(static_cast<std::uint32_t>(config_.passage_words_max - config_.passage_words + 1));
    std::vector<std::string> out;
    std::size_t n = 0;
    while (n < length) {
      out.push_back(pick(r, entries_).sentence);
      n += sft_detail::words(out.back()).size();
    }
    return out;
  }
  static std::string join(const std::vector<std::string>& sentences) {
    std::string text;
    for (const auto& s : sentences) text += (text.empty() ? "" : " ") + s;
    return text;
  }
  void make_lookup(rng& r, chat_turn& turn) const {
    for (;;) {
      const std::string text = join(passage(r));
      const auto w = sft_detail::words(text);
      // Positions j whose pair (w[j-1], w[j]) occurs once and is followed by two words.
      std::map<std::pair<std::string_view, std::string_view>, std::size_t> pair_count;
      for (std::size_t k = 1; k < w.size(); ++k) ++pair_count[{w[k - 1], w[k]}];
      std::vector<std::size_t> unique;
      for (std::size_t j = 1; j + 2 < w.size(); ++j)
        if (pair_count[{w[j - 1], w[j]}] == 1) unique.push_back(j);
      if (unique.empty()) continue;
      const std::size_t j = pick(r, unique);
      turn.user = text + "\n\nWhich two words follow \"" + std::string(w[j - 1]) + " " + std::string(w[j]) +
                  "\" in the text above?";
      turn.assistant = std::string(w[j + 1]) + " " + std::string(w[j + 2]);
      return;
    }
  }
  void make_recall(rng& r, chat_turn& turn) const {
    auto sentences = passage(r);
    const std::size_t facts = 1 + r.below(static_cast<std::uint32_t>(config_.recall_facts));
    // No draw with a single phrasing, so plans without recall_phrasings keep their sample streams.
    const recall_phrasing& phrasing =
        config_.recall_phrasings.size() == 1 ? config_.recall_phrasings[0] : pick(r, config_.recall_phrasings);
    std::vector<std::string_view> names;
    if (config_.recall_keys.empty())
      names.assign(sft_detail::recall_names.begin(), sft_detail::recall_names.end());
    else
      names.assign(config_.recall_keys.begin(), config_.recall_keys.end());
    std::vector<std::string> codes;
    for (std::size_t f = 0; f < facts; ++f) {
      std::swap(names[f], names[f + r.below(static_cast<std::uint32_t>(names.size() - f))]);
      std::string code;
      for (std::size_t d = 0; d < config_.recall_digits; ++d)
        code += static_cast<char>(d == 0 ? '1' + r.below(9) : '0' + r.below(10));
      codes.push_back(code);
      const std::size_t at = r.below(static_cast<std::uint32_t>(sentences.size() + 1));
      sentences.insert(sentences.begin() + static_cast<std::ptrdiff_t>(at),
                       fill_key_value(phrasing.fact, names[f], code));
    }
    const std::size_t asked = r.below(static_cast<std::uint32_t>(facts));
    turn.user = join(sentences) + "\n\n" + fill_key_value(phrasing.question, names[asked], "");
    turn.assistant = codes[asked];
  }
  const Tok* tok_;
  sft_config config_;
  std::vector<entry> entries_;
  std::vector<std::size_t> with_next_;
};

}  // namespace lsk::data

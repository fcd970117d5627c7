// lsk/eval/synl_eval.hpp: held-out SynL accuracy of a model, by task family
// and by length.
//
// Cases: items of a SynL synthesizer (lsk/data/synl.hpp) rendered with its
// chat template; the prompt is the tokens before the first loss-bearing token
// (BOS, user marker, intro, table, question, assistant marker), as in the
// needle evaluation. Use a seed distinct from the training sources' seeds
// (synl_heldout_seed) so the tables are unseen.
// Generation: greedy, up to the expected answer's token count + `slack` tokens,
// stopping at EOS.
// Scoring (synl_answer_correct): exact match after trimming white space and
// one trailing '.':
//   retrieval / global answers are one line: the first line of the generated
//     text must equal the expected answer ("R10007, R23456" is wrong for a
//     five-id answer, and so is a sixth id appended);
//   reasoning answers are worked steps ending "Answer: X": only X is scored,
//     against the text after the last "Answer:" of the generated text (up to
//     its line end); no "Answer:" is wrong.
// Families: retrieval (information retrieval: cell, row, find), reasoning
// (chain-of-thought reasoning: filter_sum, filter_max), global (global
// understanding: count, max, min, sort, group_sum). Length bucket: the
// synthesizer's target_tokens (every prompt is within it).
#pragma once

#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <map>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/concepts/tokenizer.hpp"
#include "lsk/core/error.hpp"
#include "lsk/data/chat.hpp"
#include "lsk/data/synl.hpp"
#include "lsk/model/generate.hpp"

namespace lsk::eval {

// The default seed of held-out SynL tables ("SYNLEVAL" as bytes); training
// sources derive theirs from the plan seed.
inline constexpr std::uint64_t synl_heldout_seed = 0x53594E4C4556414CULL;

// The families in report order, and their titles.
inline const std::vector<std::string>& synl_families() {
  static const std::vector<std::string> f = {"retrieval", "reasoning", "global"};
  return f;
}
inline std::string synl_family_title(std::string_view family) {
  if (family == "retrieval") return "information retrieval";
  if (family == "reasoning") return "chain-of-thought reasoning";
  if (family == "global") return "global understanding";
  return std::string(family);
}

namespace synl_eval_detail {
inline std::string_view trim(std::string_view s) {
  auto space = [](char c) { return c == ' ' || c == '\t' || c == '\n' || c == '\r'; };
  while (!s.empty() && space(s.front())) s.remove_prefix(1);
  while (!s.empty() && space(s.back())) s.remove_suffix(1);
  return s;
}
inline std::string_view first_line(std::string_view s) {
  s = trim(s);
  return s.substr(0, s.find('\n'));
}
inline std::string_view normalized(std::string_view s) {
  s = trim(s);
  if (!s.empty() && s.back() == '.') s.remove_suffix(1);
  return trim(s);
}
}  // namespace synl_eval_detail

// What is scored of an answer: the text after the last "Answer:" for
// reasoning answers (empty when there is none), the first line otherwise.
inline std::string_view synl_final_answer(std::string_view answer, std::string_view family) {
  using namespace synl_eval_detail;
  if (family == "reasoning") {
    const auto at = answer.rfind("Answer:");
    if (at == std::string_view::npos) return {};
    return normalized(first_line(answer.substr(at + 7)));
  }
  return normalized(first_line(answer));
}

inline bool synl_answer_correct(std::string_view generated, std::string_view expected, std::string_view family) {
  const auto want = synl_final_answer(expected, family);
  return !want.empty() && synl_final_answer(generated, family) == want;
}

// One held-out question: the prompt ids and what the answer must be.
struct synl_case {
  std::vector<std::int32_t> prompt;
  std::string answer, family, task;
  std::size_t length = 0;  // the synthesizer's target_tokens
  index_t answer_tokens = 0;
};

template <Tokenizer Tok>
synl_case make_synl_case(const Tok& tok, const data::synl_synthesizer<Tok>& synth, std::uint64_t index) {
  const data::synl_item item = synth.generate_item(index);
  const data::sample s = data::render_chat(tok, synth.config().chat, item.prompt, item.answer, 0);
  const auto first = std::find(s.loss_mask.begin(), s.loss_mask.end(), std::uint8_t{1}) - s.loss_mask.begin();
  if (first <= 0 || first >= static_cast<std::ptrdiff_t>(s.tokens.size())) {
    raise<format_error>("synl evaluation: sample ", index, " has no prompt/answer split");
  }
  synl_case c;
  c.prompt.assign(s.tokens.begin(), s.tokens.begin() + first);
  c.answer = item.answer;
  c.family = item.family;
  c.task = item.task;
  c.length = synth.config().target_tokens;
  c.answer_tokens = static_cast<index_t>(tok.encode(item.answer).size());
  return c;
}

// `samples` cases per length: `config` with target_tokens set to each length
// (the seed and every other field as given).
template <Tokenizer Tok>
std::vector<synl_case> make_synl_cases(const Tok& tok, const data::synl_config& config,
                                       const std::vector<std::size_t>& lengths, std::uint64_t samples) {
  std::vector<synl_case> out;
  for (const std::size_t length : lengths) {
    data::synl_config c = config;
    c.target_tokens = length;
    const data::synl_synthesizer<Tok> synth(tok, c);
    for (std::uint64_t i = 0; i < samples; ++i) out.push_back(make_synl_case(tok, synth, i));
  }
  return out;
}

// Positions the model must cover to answer every case.
inline index_t synl_rows_needed(const std::vector<synl_case>& cases, index_t slack) {
  index_t rows = 0;
  for (const auto& c : cases) rows = std::max(rows, static_cast<index_t>(c.prompt.size()) + c.answer_tokens + slack);
  return rows;
}

// Correct / total per family, per length, and per (family, length) and task.
class synl_scores {
 public:
  void add(const std::string& family, const std::string& task, std::size_t length, bool correct) {
    for (auto* cell : {&family_[family], &length_[length], &cells_[{family, length}], &task_[task], &all_}) {
      cell->first += correct ? 1 : 0;
      cell->second += 1;
    }
  }
  // Fractions correct (-1 when nothing was asked).
  double accuracy() const { return fraction(all_); }
  double family_accuracy(const std::string& family) const { return fraction(find(family_, family)); }
  double length_accuracy(std::size_t length) const { return fraction(find(length_, length)); }
  double accuracy(const std::string& family, std::size_t length) const {
    return fraction(find(cells_, std::pair{family, length}));
  }
  double task_accuracy(const std::string& task) const { return fraction(find(task_, task)); }
  std::int64_t count() const { return all_.second; }
  std::int64_t family_count(const std::string& family) const { return find(family_, family).second; }
  std::vector<std::size_t> lengths() const {
    std::vector<std::size_t> out;
    for (const auto& [k, v] : length_) out.push_back(k);
    return out;
  }
  std::vector<std::string> tasks() const {
    std::vector<std::string> out;
    for (const auto& [k, v] : task_) out.push_back(k);
    return out;
  }

  // Rows: the families and "all"; columns: the lengths and "all"; percent
  // correct (count asked), "-" where nothing was asked.
  std::string table() const {
    std::string out = "| family |";
    std::string rule = "|---|";
    for (auto l : lengths()) {
      out += " " + std::to_string(l) + " |";
      rule += "---|";
    }
    out += " all |\n" + rule + "---|\n";
    auto cell = [](const std::pair<std::int64_t, std::int64_t>& v) {
      if (v.second == 0) return std::string(" - |");
      char buffer[48];
      std::snprintf(buffer, sizeof buffer, " %.0f%% (%lld) |", 100.0 * double(v.first) / double(v.second),
                    static_cast<long long>(v.second));
      return std::string(buffer);
    };
    for (const auto& f : synl_families()) {
      out += "| " + synl_family_title(f) + " |";
      for (auto l : lengths()) out += cell(find(cells_, std::pair{f, l}));
      out += cell(find(family_, f)) + "\n";
    }
    out += "| all |";
    for (auto l : lengths()) out += cell(find(length_, l));
    out += cell(all_) + "\n";
    return out;
  }

  nlohmann::json to_json() const {
    nlohmann::json j = {{"accuracy", accuracy()}, {"samples", count()}};
    for (const auto& [k, v] : family_) j["by_family"][k] = fraction(v);
    for (const auto& [k, v] : length_) j["by_length"][std::to_string(k)] = fraction(v);
    for (const auto& [k, v] : task_) j["by_task"][k] = fraction(v);
    return j;
  }

 private:
  using tally = std::pair<std::int64_t, std::int64_t>;
  static double fraction(const tally& t) { return t.second == 0 ? -1.0 : double(t.first) / double(t.second); }
  template <class Map, class Key>
  static tally find(const Map& m, const Key& k) {
    const auto it = m.find(k);
    return it == m.end() ? tally{} : it->second;
  }
  std::map<std::string, tally> family_, task_;
  std::map<std::size_t, tally> length_;
  std::map<std::pair<std::string, std::size_t>, tally> cells_;
  tally all_;
};

// One question's record: what was asked for, what came back, and its score.
struct synl_answer {
  std::string family, task;
  std::size_t length = 0;  // the case's target tokens
  std::string expected, generated;
  bool correct = false;
};

// Scores `cases` with `answer_of(prompt, max_new_tokens)` -> generated text;
// every answer is appended to `answers` when given.
template <class AnswerFn>
synl_scores score_synl_cases(const std::vector<synl_case>& cases, AnswerFn&& answer_of, index_t slack = 8,
                             std::vector<synl_answer>* answers = nullptr) {
  synl_scores scores;
  for (const auto& c : cases) {
    std::string generated = answer_of(c.prompt, c.answer_tokens + slack);
    const bool correct = synl_answer_correct(generated, c.answer, c.family);
    scores.add(c.family, c.task, c.length, correct);
    if (answers) answers->push_back({c.family, c.task, c.length, c.answer, std::move(generated), correct});
  }
  return scores;
}

// The model's greedy answers to `cases`; its rotary tables must cover
// synl_rows_needed(cases, slack) positions.
template <Backend B, Tokenizer Tok>
synl_scores evaluate_synl(B& be, model::llama<float>& m, const Tok& tok, const std::vector<synl_case>& cases,
                          index_t slack = 8, std::vector<synl_answer>* answers = nullptr) {
  const index_t rows = synl_rows_needed(cases, slack);
  if (m.rotary.rows() < rows) {
    raise<config_error>("evaluate_synl: rotary tables have ", m.rotary.rows(), " rows; the cases need ", rows);
  }
  return score_synl_cases(
      cases,
      [&](const std::vector<std::int32_t>& prompt, index_t max_new) {
        model::generation_options options;
        options.max_new_tokens = max_new;
        rng g(0);
        auto ids = model::generate(be, m, prompt, options, g);
        if (!ids.empty() && ids.back() == tok.eos_id()) ids.pop_back();
        return tok.decode(ids);
      },
      slack, answers);
}

}  // namespace lsk::eval

// lsk/eval/needle_eval.hpp: the needle-in-a-haystack grid of a model.
//
// For sample i of a needle synthesizer (lsk/data/needle.hpp): the prompt is
// the sample's tokens before its first loss-bearing token (BOS, chat markers,
// instruction, haystack with the needle, question, assistant marker); the
// model continues it greedily for the answer's token count + `slack` tokens
// (stopping at EOS), and the decoded text is scored by exact_match against the
// sample's answer. Cell = (the sample's context length, its depth in percent).
// When `answers` is given, every sample's generated text is appended to it.
#pragma once

#include <algorithm>
#include <string>
#include <vector>

#include "lsk/concepts/tokenizer.hpp"
#include "lsk/eval/needle_score.hpp"
#include "lsk/model/generate.hpp"

namespace lsk::eval {

// One needle question: where it was, what was asked for and what came back.
struct needle_answer {
  std::uint64_t index = 0;
  long long length = 0;
  double depth_percent = 0;
  std::string expected, generated;
  bool correct = false;
};

template <Backend B, Tokenizer Tok, class NeedleSynth>
needle_grid evaluate_needles(B& be, model::llama<float>& m, const Tok& tok, const NeedleSynth& synth,
                             std::uint64_t samples, index_t slack = 2, std::vector<needle_answer>* answers = nullptr) {
  needle_grid grid;
  for (std::uint64_t i = 0; i < samples; ++i) {
    const auto s = synth.generate(i);
    const auto first_target = std::find(s.loss_mask.begin(), s.loss_mask.end(), std::uint8_t{1}) - s.loss_mask.begin();
    if (first_target <= 0 || first_target >= static_cast<std::ptrdiff_t>(s.tokens.size())) {
      raise<format_error>("evaluate_needles: sample ", i, " has no prompt/answer split");
    }
    const std::vector<std::int32_t> prompt(s.tokens.begin(), s.tokens.begin() + first_target);
    const auto answer_tokens = static_cast<index_t>(tok.encode(s.answer).size());
    model::generation_options options;
    options.max_new_tokens = answer_tokens + slack;
    if (m.rotary.rows() < static_cast<index_t>(prompt.size()) + options.max_new_tokens) {
      raise<config_error>("evaluate_needles: rotary tables have ", m.rotary.rows(), " rows; sample ", i, " needs ",
                          prompt.size() + static_cast<std::size_t>(options.max_new_tokens));
    }
    rng g(i);
    auto ids = model::generate(be, m, prompt, options, g);
    if (!ids.empty() && ids.back() == tok.eos_id()) ids.pop_back();
    const auto length = static_cast<long long>(synth.length_of(i));
    const double depth = synth.depth_of(i) * 100.0;
    const std::string generated = tok.decode(ids);
    const bool correct = exact_match(generated, s.answer);
    grid.add(length, depth, correct);
    if (answers) answers->push_back({i, length, depth, s.answer, generated, correct});
  }
  return grid;
}

}  // namespace lsk::eval

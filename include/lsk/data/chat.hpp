// lsk/data/chat.hpp: the chat template that SFT, SynL and needle samples are
// rendered with, and the loss mask that trains on assistant tokens only.
//
// Rendering of turns (user u1, assistant a1, user u2, assistant a2, ...):
//   [BOS] user_prefix u1 assistant_prefix a1 [EOS] turn_separator
//         user_prefix u2 assistant_prefix a2 [EOS] ...
// BOS when add_bos; EOS closes every assistant turn (eos_after_assistant).
// Every piece is encoded with the tokenizer separately and the ids are
// concatenated; the markers ("<|user|>", "<|assistant|>") are plain text to the
// byte tokenizer and single user-defined pieces to the SentencePiece models
// lsk trains (sentencepiece_trainer.hpp adds them).
// loss_mask: 1 on assistant text and its EOS; 0 on BOS, markers and user text.
// doc_ids: the given document id on every token; positions 0..n-1.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsk/concepts/tokenizer.hpp"
#include "lsk/core/error.hpp"
#include "lsk/data/json_config.hpp"
#include "lsk/data/sample.hpp"

namespace lsk::data {

struct chat_template {
  std::string user_prefix = "<|user|>\n";
  std::string assistant_prefix = "\n<|assistant|>\n";
  std::string turn_separator = "\n";
  bool add_bos = true;
  bool eos_after_assistant = true;

  static chat_template from_json(const json_config::json& j, std::string_view where = "chat") {
    json_config::check_keys(j, where,
                            {"user_prefix", "assistant_prefix", "turn_separator", "add_bos", "eos_after_assistant"});
    chat_template t;
    json_config::read(j, where, "user_prefix", t.user_prefix);
    json_config::read(j, where, "assistant_prefix", t.assistant_prefix);
    json_config::read(j, where, "turn_separator", t.turn_separator);
    json_config::read(j, where, "add_bos", t.add_bos);
    json_config::read(j, where, "eos_after_assistant", t.eos_after_assistant);
    return t;
  }

  // The markers as pieces a SentencePiece trainer should keep whole.
  std::vector<std::string> marker_pieces() const { return {"<|user|>", "<|assistant|>"}; }
};

struct chat_turn {
  std::string user, assistant;
};

// Renders the turns as one sample (see the header for the layout).
template <Tokenizer Tok>
sample render_chat(const Tok& tok, const chat_template& t, const std::vector<chat_turn>& turns, std::int32_t doc = 0) {
  sample s;
  if (t.add_bos) s.append(tok.bos_id(), 0, doc);
  for (std::size_t i = 0; i < turns.size(); ++i) {
    std::string user;
    if (i > 0) user += t.turn_separator;
    user += t.user_prefix;
    user += turns[i].user;
    user += t.assistant_prefix;
    s.append(tok.encode(user), 0, doc);
    s.append(tok.encode(turns[i].assistant), 1, doc);
    if (t.eos_after_assistant) s.append(tok.eos_id(), 1, doc);
  }
  if (!turns.empty()) {
    s.prompt = turns.back().user;
    s.answer = turns.back().assistant;
  }
  return s;
}

template <Tokenizer Tok>
sample render_chat(const Tok& tok, const chat_template& t, std::string prompt, std::string answer,
                   std::int32_t doc = 0) {
  return render_chat(tok, t, std::vector<chat_turn>{{std::move(prompt), std::move(answer)}}, doc);
}

}  // namespace lsk::data

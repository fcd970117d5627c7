// lsk/concepts/tokenizer.hpp: what a tokenizer must provide.
//
// A tokenizer maps text (bytes, normally UTF-8) to token ids and back. The
// data pipeline (corpus -> tokenizer -> synthesizer -> packer) and generation
// depend on nothing else, so a byte-level tokenizer, SentencePiece, or a user's
// own all plug in the same way.
//
// Semantic requirements (not checkable by the compiler; tests check them for
// each tokenizer lsk ships):
//  1. encode(text) returns ids in [0, vocab_size()) and never adds BOS or EOS:
//     callers add them explicitly (as llama2.c prepends BOS).
//  2. decode(ids) produces no text for bos_id(), eos_id() and pad_id(), and
//     throws lsk::index_error, naming the position, for an id outside
//     [0, vocab_size()).
//  3. decode(encode(text)) == text for every text the tokenizer represents
//     losslessly: any byte string for a byte-level tokenizer; for SentencePiece,
//     text its normalizer leaves unchanged.
//  4. bos_id() and eos_id() are distinct ids in [0, vocab_size()); pad_id() is
//     such an id or -1 when the vocabulary has none (pack, or mask the fill).
//  5. vocab_size() is the number of rows the model's embedding table needs.
//  6. encode and decode are const, deterministic and safe to call concurrently
//     on one object.
#pragma once

#include <concepts>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

namespace lsk {

template <class T>
concept Tokenizer = requires(const T& tok, std::string_view text, std::span<const std::int32_t> ids) {
  { tok.encode(text) } -> std::same_as<std::vector<std::int32_t>>;
  { tok.decode(ids) } -> std::same_as<std::string>;
  { tok.vocab_size() } -> std::same_as<std::int32_t>;
  { tok.bos_id() } -> std::same_as<std::int32_t>;
  { tok.eos_id() } -> std::same_as<std::int32_t>;
  { tok.pad_id() } -> std::same_as<std::int32_t>;
};

}  // namespace lsk

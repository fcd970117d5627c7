// lsk/data/sentencepiece_trainer.hpp: trains a SentencePiece BPE model on a
// corpus with the SentencePiece trainer library (Debian: libsentencepiece-dev
// ships libsentencepiece_train.so and sentencepiece_trainer.h; CMake target
// lsk::sentencepiece_train, which defines LSK_HAS_SENTENCEPIECE_TRAINER).
//
// Algorithm: the library's BPE (model_type=bpe): start from characters (those
// covering character_coverage of the text), repeatedly merge the most frequent
// adjacent pair until vocab_size pieces. Training sentences are the lines of
// the documents (fed through a SentenceIterator, never a temporary file),
// lines longer than max_sentence_length bytes are skipped by the library.
// Defaults follow the Llama tokenizer: byte fallback (<0x00>..<0xFF>, so no
// text is unknown), split digits (each digit its own piece: numbers in SynL
// tables tokenize predictably), identity normalization, no dummy prefix and no
// whitespace folding (newlines and indentation of tables survive), ids
// unk 0, bos 1, eos 2, pad 3, and the chat markers as user-defined pieces.
// Determinism: the library's random generator is seeded (seed) and one thread
// is used by default; the vocabulary repeats for a fixed seed and corpus but
// the .model bytes may not, so compare vocabularies, not file hashes.
#pragma once

#if !__has_include(<sentencepiece_trainer.h>)
#error "lsk/data/sentencepiece_trainer.hpp needs libsentencepiece-dev: link lsk::sentencepiece_train"
#endif

#include <sentencepiece_processor.h>
#include <sentencepiece_trainer.h>

#include <cstdint>
#include <filesystem>
#include <span>
#include <string>
#include <string_view>
#include <unordered_map>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/data/corpus.hpp"
#include "lsk/data/json_config.hpp"
#include "lsk/io/atomic_write.hpp"

namespace lsk::data {

struct sentencepiece_train_config {
  std::size_t vocab_size = 8000;
  std::string model_type = "bpe";
  bool byte_fallback = true;
  bool split_digits = true;
  std::uint32_t seed = 1234;
  std::size_t num_threads = 1;
  double character_coverage = 0.9995;
  std::size_t max_sentence_length = 16384;
  std::size_t input_sentence_size = 0;  // 0: every line; else a seeded sample of that many
  std::vector<std::string> user_defined_symbols = {"<|user|>", "<|assistant|>"};

  void validate(std::string_view where = "tokenizer") const {
    json_config::require(vocab_size >= 300 && vocab_size <= 1000000, where, "vocab_size", "must be in [300, 1e6]");
    json_config::require_choice(model_type, where, "model_type", {"bpe", "unigram"});
    json_config::require(num_threads >= 1, where, "num_threads", "must be at least 1");
    json_config::require(character_coverage > 0 && character_coverage <= 1, where, "character_coverage",
                         "must be in (0, 1]");
  }

  static sentencepiece_train_config from_json(const json_config::json& j, std::string_view where = "tokenizer") {
    json_config::check_keys(
        j, where,
        {"vocab_size", "model_type", "byte_fallback", "split_digits", "seed", "num_threads", "character_coverage",
         "max_sentence_length", "input_sentence_size", "user_defined_symbols"});
    sentencepiece_train_config c;
    json_config::read(j, where, "vocab_size", c.vocab_size);
    json_config::read(j, where, "model_type", c.model_type);
    json_config::read(j, where, "byte_fallback", c.byte_fallback);
    json_config::read(j, where, "split_digits", c.split_digits);
    json_config::read(j, where, "seed", c.seed);
    json_config::read(j, where, "num_threads", c.num_threads);
    json_config::read(j, where, "character_coverage", c.character_coverage);
    json_config::read(j, where, "max_sentence_length", c.max_sentence_length);
    json_config::read(j, where, "input_sentence_size", c.input_sentence_size);
    json_config::read(j, where, "user_defined_symbols", c.user_defined_symbols);
    c.validate(where);
    return c;
  }
};

namespace spm_detail {
// The non-blank lines of the documents, one at a time.
class line_iterator : public sentencepiece::SentenceIterator {
 public:
  explicit line_iterator(std::span<const document> docs) : docs_(docs) { advance(); }
  bool done() const override { return done_; }
  void Next() override { advance(); }
  const std::string& value() const override { return line_; }
  sentencepiece::util::Status status() const override { return {}; }
  std::size_t lines() const { return lines_; }

 private:
  void advance() {
    for (;;) {
      if (doc_ >= docs_.size()) {
        done_ = true;
        return;
      }
      const std::string& text = docs_[doc_].text;
      if (pos_ >= text.size()) {
        ++doc_;
        pos_ = 0;
        continue;
      }
      std::size_t end = text.find('\n', pos_);
      if (end == std::string::npos) end = text.size();
      line_.assign(text, pos_, end - pos_);
      pos_ = end + 1;
      if (line_.find_first_not_of(" \t\r") != std::string::npos) {
        ++lines_;
        return;
      }
    }
  }
  std::span<const document> docs_;
  std::size_t doc_ = 0, pos_ = 0, lines_ = 0;
  std::string line_;
  bool done_ = false;
};
}  // namespace spm_detail

// Trains a model on the documents and returns its serialized bytes (the
// contents of a .model file). Throws config_error for a bad config and
// lsk::error with the library's message when training fails.
inline std::string train_sentencepiece(std::span<const document> docs, const sentencepiece_train_config& c) {
  c.validate();
  std::string symbols;
  for (const auto& s : c.user_defined_symbols) {
    if (!symbols.empty()) symbols += ',';
    symbols += s;
  }
  std::unordered_map<std::string, std::string> args = {
      {"model_type", c.model_type},
      {"vocab_size", std::to_string(c.vocab_size)},
      {"byte_fallback", c.byte_fallback ? "true" : "false"},
      {"split_digits", c.split_digits ? "true" : "false"},
      {"num_threads", std::to_string(c.num_threads)},
      {"character_coverage", std::to_string(c.character_coverage)},
      {"max_sentence_length", std::to_string(c.max_sentence_length)},
      {"input_sentence_size", std::to_string(c.input_sentence_size)},
      {"shuffle_input_sentence", "true"},
      {"normalization_rule_name", "identity"},
      {"add_dummy_prefix", "false"},
      {"remove_extra_whitespaces", "false"},
      {"allow_whitespace_only_pieces", "true"},
      {"split_by_whitespace", "true"},
      {"unk_id", "0"},
      {"bos_id", "1"},
      {"eos_id", "2"},
      {"pad_id", "3"},
      {"minloglevel", "2"},
  };
  if (!symbols.empty()) args["user_defined_symbols"] = symbols;
  sentencepiece::SetRandomGeneratorSeed(c.seed);
  spm_detail::line_iterator lines(docs);
  if (lines.done()) raise<config_error>("train_sentencepiece: the corpus has no text");
  std::string model;
  const auto status = sentencepiece::SentencePieceTrainer::Train(args, &lines, &model);
  if (!status.ok()) raise<error>("train_sentencepiece: ", status.ToString());
  return model;
}

// Trains and writes the model to `path` atomically.
inline void train_sentencepiece(std::span<const document> docs, const sentencepiece_train_config& c,
                                const std::filesystem::path& path) {
  const std::string model = train_sentencepiece(docs, c);
  io::atomic_write(path, std::as_bytes(std::span<const char>(model.data(), model.size())));
}

}  // namespace lsk::data

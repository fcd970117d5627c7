// lsk/data/sentencepiece_tokenizer.hpp: a SentencePiece model (.model) as an
// lsk::Tokenizer, through the SentencePiece C++ library (Debian:
// libsentencepiece-dev; CMake target lsk::sentencepiece, which also defines
// LSK_HAS_SENTENCEPIECE).
//
// Algorithm: whatever the model was trained as (BPE for the Llama family and
// llama2.c's tok512/tok32000, or unigram), applied by the library: the text is
// normalized by the model's rules (e.g. nmt_nfkc, spaces to U+2581 "▁", a
// dummy "▁" prefix when add_dummy_prefix is set), split into pieces, and each
// piece mapped to its id; unknown characters map to unk_id() unless the model
// has byte fallback (<0x00>..<0xFF> pieces). Decoding joins the pieces, turns
// "▁" back into spaces and drops control symbols (<s>, </s>, padding).
// encode never adds BOS/EOS (requirement 1 of lsk::Tokenizer).
//
// Loading: a missing or unreadable file is an lsk::io_error, a file that is not
// a SentencePiece model an lsk::format_error; both name the path. The loaded
// processor is shared (const, thread-safe) between copies of the tokenizer.
#pragma once

#if !__has_include(<sentencepiece_processor.h>)
#error \
    "lsk/data/sentencepiece_tokenizer.hpp needs the SentencePiece headers (libsentencepiece-dev) and library: link lsk::sentencepiece"
#endif

#include <sentencepiece_processor.h>

#include <cstdint>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <memory>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsk/concepts/tokenizer.hpp"
#include "lsk/core/error.hpp"

namespace lsk::data {

class sentencepiece_tokenizer {
 public:
  // Loads the model file at `path`.
  explicit sentencepiece_tokenizer(const std::filesystem::path& path) : source_(path.string()) {
    std::error_code ec;
    if (!std::filesystem::is_regular_file(path, ec)) {
      raise<io_error>("sentencepiece_tokenizer: '", source_, "' is not a readable file",
                      ec ? ": " + ec.message() : std::string());
    }
    std::ifstream in(path, std::ios::binary);
    if (!in) raise<io_error>("sentencepiece_tokenizer: cannot open '", source_, "'");
    std::string bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
    if (in.bad()) raise<io_error>("sentencepiece_tokenizer: cannot read '", source_, "'");
    load(bytes);
  }

  // Loads a model from its serialized bytes (the contents of a .model file);
  // `source` names it in error messages.
  static sentencepiece_tokenizer from_serialized(std::string_view model_proto, std::string source = "<memory>") {
    return sentencepiece_tokenizer(model_proto, std::move(source));
  }

  const std::string& source() const { return source_; }

  std::vector<std::int32_t> encode(std::string_view text) const {
    std::vector<int> ids;
    const auto status = sp_->Encode(text, &ids);
    if (!status.ok())
      raise<encoding_error>("sentencepiece_tokenizer: ", source_, ": cannot encode text: ", status.ToString());
    return std::vector<std::int32_t>(ids.begin(), ids.end());
  }

  // The pieces encode(text) maps to ids, as strings ("▁Once", "<0x0A>", ...).
  std::vector<std::string> encode_pieces(std::string_view text) const {
    std::vector<std::string> pieces;
    const auto status = sp_->Encode(text, &pieces);
    if (!status.ok())
      raise<encoding_error>("sentencepiece_tokenizer: ", source_, ": cannot encode text: ", status.ToString());
    return pieces;
  }

  std::string decode(std::span<const std::int32_t> ids) const {
    std::vector<int> v(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      if (ids[i] < 0 || ids[i] >= vocab_size()) {
        raise<index_error>("sentencepiece_tokenizer: ", source_, ": id ", ids[i], " at position ", i,
                           " is outside the vocabulary [0, ", vocab_size(), ")");
      }
      v[i] = ids[i];
    }
    std::string text;
    const auto status = sp_->Decode(v, &text);
    if (!status.ok())
      raise<encoding_error>("sentencepiece_tokenizer: ", source_, ": cannot decode: ", status.ToString());
    return text;
  }

  std::int32_t vocab_size() const { return static_cast<std::int32_t>(sp_->GetPieceSize()); }
  std::int32_t bos_id() const { return sp_->bos_id(); }
  std::int32_t eos_id() const { return sp_->eos_id(); }
  std::int32_t pad_id() const { return sp_->pad_id(); }  // -1 when the model has none
  std::int32_t unk_id() const { return sp_->unk_id(); }

  // The piece of `id` ("<s>", "▁the", "<0x41>"); index_error when out of range.
  std::string piece(std::int32_t id) const {
    check_id(id);
    return sp_->IdToPiece(id);
  }
  // The id of `piece`, or unk_id() when the vocabulary has no such piece.
  std::int32_t piece_to_id(std::string_view piece_text) const { return sp_->PieceToId(piece_text); }
  float score(std::int32_t id) const {
    check_id(id);
    return sp_->GetScore(id);
  }
  // Control symbols (<s>, </s>, padding) decode to no text.
  bool is_control(std::int32_t id) const {
    check_id(id);
    return sp_->IsControl(id);
  }
  bool is_byte(std::int32_t id) const {
    check_id(id);
    return sp_->IsByte(id);
  }

 private:
  sentencepiece_tokenizer(std::string_view model_proto, std::string source) : source_(std::move(source)) {
    load(model_proto);
  }

  void load(std::string_view model_proto) {
    auto sp = std::make_shared<sentencepiece::SentencePieceProcessor>();
    const auto status = sp->LoadFromSerializedProto(model_proto);
    if (!status.ok()) {
      raise<format_error>("sentencepiece_tokenizer: '", source_, "' (", model_proto.size(),
                          " bytes) is not a valid SentencePiece model: ", status.ToString());
    }
    if (sp->GetPieceSize() <= 0) {
      raise<format_error>("sentencepiece_tokenizer: '", source_, "' has an empty vocabulary");
    }
    sp_ = std::move(sp);
  }

  void check_id(std::int32_t id) const {
    if (id < 0 || id >= vocab_size()) {
      raise<index_error>("sentencepiece_tokenizer: ", source_, ": id ", id, " is outside the vocabulary [0, ",
                         vocab_size(), ")");
    }
  }

  std::string source_;
  std::shared_ptr<const sentencepiece::SentencePieceProcessor> sp_;
};

static_assert(Tokenizer<sentencepiece_tokenizer>);

}  // namespace lsk::data

// lsk/data/tokenized_corpus.hpp: a corpus tokenized once, held as one flat
// token array with per-document offsets (CSR layout):
//   document d = tokens[offsets[d] .. offsets[d + 1]),  offsets.size() == documents + 1.
// The synthesizers sample windows of documents from it without re-tokenizing.
// Long documents are encoded in pieces cut at line breaks (at most
// piece_bytes each) so the tokenizer never sees one huge string; with the
// tokenizers lsk trains (no dummy prefix, identity normalization) the pieces
// concatenate to the tokenization of the whole text up to the cut points.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/concepts/tokenizer.hpp"
#include "lsk/core/error.hpp"
#include "lsk/data/corpus.hpp"

namespace lsk::data {

class tokenized_corpus {
 public:
  tokenized_corpus() { offsets_.push_back(0); }

  template <Tokenizer Tok>
  static tokenized_corpus from_documents(const Tok& tok, std::span<const document> docs,
                                         std::size_t piece_bytes = 1u << 16) {
    tokenized_corpus c;
    for (const document& d : docs) c.add(tok, d, piece_bytes);
    return c;
  }

  template <Tokenizer Tok>
  void add(const Tok& tok, const document& d, std::size_t piece_bytes = 1u << 16) {
    std::string_view text = d.text;
    while (!text.empty()) {
      std::size_t cut = text.size();
      if (cut > piece_bytes) {
        const std::size_t nl = text.rfind('\n', piece_bytes);
        cut = nl == std::string_view::npos || nl == 0 ? piece_bytes : nl + 1;
        while (cut < text.size() && (static_cast<unsigned char>(text[cut]) & 0xC0u) == 0x80u) ++cut;  // whole UTF-8
      }
      const auto ids = tok.encode(text.substr(0, cut));
      tokens_.insert(tokens_.end(), ids.begin(), ids.end());
      text.remove_prefix(cut);
    }
    offsets_.push_back(tokens_.size());
    ids_.push_back(d.id);
  }

  std::size_t documents() const { return ids_.size(); }
  std::size_t total_tokens() const { return tokens_.size(); }
  std::size_t length(std::size_t d) const { return offsets_.at(d + 1) - offsets_[d]; }
  std::span<const std::int32_t> tokens(std::size_t d) const {
    if (d >= documents()) raise<index_error>("tokenized_corpus: document ", d, " of ", documents());
    return std::span<const std::int32_t>(tokens_).subspan(offsets_[d], length(d));
  }
  const std::string& id(std::size_t d) const { return ids_.at(d); }

 private:
  std::vector<std::int32_t> tokens_;
  std::vector<std::size_t> offsets_;
  std::vector<std::string> ids_;
};

}  // namespace lsk::data

// lsk/data/cip.hpp: Chunk Interleaved Pretraining (CIP) samples, mixed with
// natural long documents and packed short documents by ratio.
//
// CIP sample (kind "cip"), for sample index i with rng r = sample_rng(seed, i):
//   1. choose k = docs_per_sample distinct documents (uniformly, preferring
//      documents at least `share` tokens long: up to 8 redraws each), where
//      share = (seq_len - BOS - EOS - separator tokens) / k;
//   2. take a window of `share` tokens of each (its start: window = "start",
//      or uniform over the document: "random"); a shorter document gives all
//      of its tokens;
//   3. split each window into chunks: chunking = "count" gives chunks_per_doc
//      near-equal chunks (chunk j = [j*n/c, (j+1)*n/c)), chunking = "tokens"
//      gives chunks of chunk_tokens (the last one shorter);
//   4. interleave round-robin: chunk 0 of every document in draw order, then
//      chunk 1, ... (A1 B1 C1 A2 B2 C2 ...), with the `separator` tokens
//      (none by default) between consecutive chunks;
//   5. BOS first and EOS last (add_bos / add_eos), then pad to seq_len with
//      the pad id (the tokenizer's, or EOS when it has none) when pad is set.
// Every document token is a target (loss_mask 1), as are EOS and separators;
// BOS and padding are not. doc_ids are corpus document indices (-1 for
// BOS/EOS/separators/padding), positions run 0..seq_len-1 without resets:
// the point of CIP is attention across the interleaved chunks.
//
// Mixing: each sample is CIP, "long" or "short" with probabilities
// proportional to cip_ratio, long_ratio and short_ratio (one draw per sample):
//   long:  BOS + a seq_len-1 token window of one document (preferring
//          documents that long), EOS when the window reaches its end, padding;
//   short: whole documents, each BOS + tokens + EOS, drawn at random and
//          packed back to back until seq_len (the last one cut), BOS and
//          EOS carrying their document's id; positions restart at each
//          document when short_reset_positions is set.
#pragma once

#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <ranges>
#include <string>
#include <vector>

#include "lsk/concepts/synthesizer.hpp"
#include "lsk/data/json_config.hpp"
#include "lsk/data/synthesis.hpp"
#include "lsk/data/tokenized_corpus.hpp"

namespace lsk::data {

// The ids a synthesizer puts around and between text; pad < 0 means "use eos".
struct special_tokens {
  std::int32_t bos = -1, eos = -1, pad = -1;
  std::int32_t fill() const { return pad >= 0 ? pad : eos; }
  template <class Tok>
  static special_tokens of(const Tok& tok) {
    return {tok.bos_id(), tok.eos_id(), tok.pad_id()};
  }
};

struct cip_config {
  std::uint64_t seed = 0;
  std::size_t seq_len = 4096;           // tokens per sample, BOS/EOS/padding included
  std::size_t docs_per_sample = 4;      // k
  std::string chunking = "count";       // "count" or "tokens"
  std::size_t chunks_per_doc = 4;       // chunking = "count"
  std::size_t chunk_tokens = 256;       // chunking = "tokens"
  std::string window = "start";         // "start" or "random"
  std::vector<std::int32_t> separator;  // token ids between chunks; none by default
  bool add_bos = true, add_eos = true, pad = true;
  double cip_ratio = 1.0, long_ratio = 0.0, short_ratio = 0.0;
  bool short_reset_positions = false;

  // Throws config_error naming the key of the first bad value.
  void validate(std::string_view where = "cip") const {
    using json_config::require;
    require(seq_len >= 8, where, "seq_len", "must be at least 8, got ", seq_len);
    require(docs_per_sample >= 1, where, "docs_per_sample", "must be at least 1");
    json_config::require_choice(chunking, where, "chunking", {"count", "tokens"});
    json_config::require_choice(window, where, "window", {"start", "random"});
    require(chunks_per_doc >= 1, where, "chunks_per_doc", "must be at least 1");
    require(chunk_tokens >= 1, where, "chunk_tokens", "must be at least 1");
    require(cip_ratio >= 0 && long_ratio >= 0 && short_ratio >= 0 && cip_ratio + long_ratio + short_ratio > 0, where,
            "cip_ratio", "the ratios (cip_ratio, long_ratio, short_ratio) must be >= 0 with a positive sum");
    const std::size_t fixed = (add_bos ? 1u : 0u) + (add_eos ? 1u : 0u);
    const std::size_t seps = chunking == "count" ? docs_per_sample * chunks_per_doc - 1 : 0;
    require(fixed + seps * separator.size() + docs_per_sample <= seq_len, where, "seq_len", seq_len,
            " tokens cannot hold ", docs_per_sample, " documents with BOS/EOS and separators");
  }

  static cip_config from_json(const json_config::json& j, std::string_view where = "cip") {
    json_config::check_keys(
        j, where,
        {"seed", "seq_len", "docs_per_sample", "chunking", "chunks_per_doc", "chunk_tokens", "window", "separator",
         "add_bos", "add_eos", "pad", "cip_ratio", "long_ratio", "short_ratio", "short_reset_positions"});
    cip_config c;
    json_config::read(j, where, "seed", c.seed);
    json_config::read(j, where, "seq_len", c.seq_len);
    json_config::read(j, where, "docs_per_sample", c.docs_per_sample);
    json_config::read(j, where, "chunking", c.chunking);
    json_config::read(j, where, "chunks_per_doc", c.chunks_per_doc);
    json_config::read(j, where, "chunk_tokens", c.chunk_tokens);
    json_config::read(j, where, "window", c.window);
    json_config::read(j, where, "separator", c.separator);
    json_config::read(j, where, "add_bos", c.add_bos);
    json_config::read(j, where, "add_eos", c.add_eos);
    json_config::read(j, where, "pad", c.pad);
    json_config::read(j, where, "cip_ratio", c.cip_ratio);
    json_config::read(j, where, "long_ratio", c.long_ratio);
    json_config::read(j, where, "short_ratio", c.short_ratio);
    json_config::read(j, where, "short_reset_positions", c.short_reset_positions);
    c.validate(where);
    return c;
  }
};

// Where each chunk of a CIP sample came from (for tests and inspection).
struct cip_chunk {
  std::int32_t doc;           // corpus document index
  std::size_t doc_offset;     // first token within the document
  std::size_t sample_offset;  // first token within the sample
  std::size_t length;
};

class cip_synthesizer {
 public:
  cip_synthesizer(const tokenized_corpus& corpus, cip_config config, special_tokens special)
      : corpus_(&corpus), config_(std::move(config)), special_(special) {
    config_.validate();
    if (corpus.documents() < config_.docs_per_sample) {
      raise<config_error>("cip.docs_per_sample: ", config_.docs_per_sample, " documents per sample but the corpus has ",
                          corpus.documents());
    }
    if (special_.bos < 0 || special_.eos < 0) raise<config_error>("cip: the tokenizer needs BOS and EOS ids");
    for (std::size_t d = 0; d < corpus.documents(); ++d) {
      if (corpus.length(d) > 0) nonempty_.push_back(d);
      if (corpus.length(d) >= config_.seq_len - 1) long_docs_.push_back(d);
    }
    if (nonempty_.size() < config_.docs_per_sample) raise<config_error>("cip: too few non-empty documents");
  }

  const cip_config& config() const { return config_; }

  sample generate(std::uint64_t index) const { return generate(index, nullptr); }

  // As generate(index), also reporting the chunks of a CIP sample.
  sample generate(std::uint64_t index, std::vector<cip_chunk>* chunks) const {
    rng r = sample_rng(config_.seed, index);
    const double total = config_.cip_ratio + config_.long_ratio + config_.short_ratio;
    const double u = r.uniform01_d() * total;
    sample s;
    if (u < config_.cip_ratio) {
      make_cip(r, s, chunks);
    } else if (u < config_.cip_ratio + config_.long_ratio) {
      make_long(r, s);
    } else {
      make_short(r, s);
    }
    return s;
  }

  auto samples(std::uint64_t count) const { return sample_view(*this, count); }

  // Document tokens a CIP sample has room for, per document.
  std::size_t share() const {
    const std::size_t fixed = (config_.add_bos ? 1u : 0u) + (config_.add_eos ? 1u : 0u);
    const std::size_t budget = config_.seq_len - fixed;
    const std::size_t k = config_.docs_per_sample;
    if (config_.chunking == "count") {
      const std::size_t seps = (k * config_.chunks_per_doc - 1) * config_.separator.size();
      return (budget - seps) / k;
    }
    // chunking by tokens: the separator count depends on the chunk count.
    std::size_t s = budget / k;
    while (s > 0) {
      const std::size_t chunks = k * ((s + config_.chunk_tokens - 1) / config_.chunk_tokens);
      if (k * s + (chunks - 1) * config_.separator.size() <= budget) break;
      --s;
    }
    return s;
  }

 private:
  std::size_t draw_doc(rng& r, std::size_t want, const std::vector<std::size_t>& taken) const {
    std::size_t best = 0;
    bool have = false;
    for (int attempt = 0; attempt < 8; ++attempt) {
      const std::size_t d = pick(r, nonempty_);
      if (std::find(taken.begin(), taken.end(), d) != taken.end()) continue;
      if (!have || corpus_->length(d) > corpus_->length(best)) {
        best = d;
        have = true;
      }
      if (corpus_->length(d) >= want) return d;
    }
    if (have) return best;
    for (;;) {  // every draw collided: any document not taken yet
      const std::size_t d = pick(r, nonempty_);
      if (std::find(taken.begin(), taken.end(), d) == taken.end()) return d;
    }
  }

  void finish(sample& s, bool eos) const {
    if (eos && config_.add_eos && s.size() < config_.seq_len) s.append(special_.eos, 1, -1);
    if (config_.pad)
      while (s.size() < config_.seq_len) s.append(special_.fill(), 0, -1);
  }

  void make_cip(rng& r, sample& s, std::vector<cip_chunk>* chunks) const {
    s.kind = "cip";
    const std::size_t k = config_.docs_per_sample, want = share();
    std::vector<std::size_t> docs;
    std::vector<std::vector<std::pair<std::size_t, std::size_t>>> pieces(k);  // per doc: (offset, length)
    std::size_t max_chunks = 0;
    for (std::size_t i = 0; i < k; ++i) {
      const std::size_t d = draw_doc(r, want, docs);
      docs.push_back(d);
      const std::size_t len = corpus_->length(d), n = std::min(len, want);
      std::size_t start = 0;
      if (config_.window == "random" && len > n)
        start = static_cast<std::size_t>(uniform_int(r, 0, static_cast<std::int64_t>(len - n)));
      if (config_.chunking == "count") {
        const std::size_t c = config_.chunks_per_doc;
        for (std::size_t j = 0; j < c; ++j) pieces[i].push_back({start + j * n / c, (j + 1) * n / c - j * n / c});
      } else {
        for (std::size_t off = 0; off < n; off += config_.chunk_tokens)
          pieces[i].push_back({start + off, std::min(config_.chunk_tokens, n - off)});
      }
      max_chunks = std::max(max_chunks, pieces[i].size());
    }
    if (config_.add_bos) s.append(special_.bos, 0, -1);
    bool first = true;
    for (std::size_t j = 0; j < max_chunks; ++j) {
      for (std::size_t i = 0; i < k; ++i) {
        if (j >= pieces[i].size()) continue;
        const auto [off, len] = pieces[i][j];
        if (len == 0) continue;
        if (!first) s.append(config_.separator, 1, -1);
        first = false;
        if (chunks) chunks->push_back({static_cast<std::int32_t>(docs[i]), off, s.size(), len});
        s.append(corpus_->tokens(docs[i]).subspan(off, len), 1, static_cast<std::int32_t>(docs[i]));
      }
    }
    finish(s, true);
  }

  void make_long(rng& r, sample& s) const {
    s.kind = "long";
    const std::size_t room = config_.seq_len - (config_.add_bos ? 1u : 0u);
    const std::size_t d = long_docs_.empty() ? draw_doc(r, room, {}) : pick(r, long_docs_);
    const std::size_t len = corpus_->length(d), n = std::min(len, room);
    const std::size_t start =
        len > n ? static_cast<std::size_t>(uniform_int(r, 0, static_cast<std::int64_t>(len - n))) : 0;
    if (config_.add_bos) s.append(special_.bos, 0, -1);
    s.append(corpus_->tokens(d).subspan(start, n), 1, static_cast<std::int32_t>(d));
    finish(s, start + n == len);
  }

  void make_short(rng& r, sample& s) const {
    s.kind = "short";
    while (s.size() < config_.seq_len) {
      const std::size_t d = pick(r, nonempty_);
      const std::size_t begin = s.size();
      const auto doc = static_cast<std::int32_t>(d);
      if (config_.add_bos) s.append(special_.bos, 0, doc);
      const std::size_t room = config_.seq_len - s.size();
      const auto toks = corpus_->tokens(d);
      s.append(toks.first(std::min(room, toks.size())), 1, doc);
      if (config_.add_eos && s.size() < config_.seq_len) s.append(special_.eos, 1, doc);
      if (config_.short_reset_positions)
        for (std::size_t t = begin; t < s.size(); ++t) s.positions[t] = static_cast<std::int32_t>(t - begin);
    }
  }

  const tokenized_corpus* corpus_;
  cip_config config_;
  special_tokens special_;
  std::vector<std::size_t> nonempty_, long_docs_;
};

static_assert(Synthesizer<cip_synthesizer>);

}  // namespace lsk::data

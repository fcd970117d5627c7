// CIP properties: every document's chunks appear in order and complete (the
// tokens of one document, read in sample order, are one contiguous window of
// it), chunks interleave round-robin, lengths are as asked (by count and by
// tokens), BOS/EOS/padding and masks, the long/short mix, same seed -> same
// samples, config errors naming the key.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/cip.hpp"

namespace {
using lsk::data::byte_tokenizer;
using lsk::data::cip_config;
using lsk::data::cip_synthesizer;
using lsk::data::document;
using lsk::data::tokenized_corpus;

// Documents of distinct, recognisable text and varied lengths.
std::vector<document> make_docs(std::size_t n) {
  std::vector<document> docs;
  for (std::size_t d = 0; d < n; ++d) {
    std::string text;
    const std::size_t words = 40 + (d * 37) % 400;
    for (std::size_t w = 0; w < words; ++w) {
      text += 'd';
      text += std::to_string(d);
      text += 'w';
      text += std::to_string(w);
      text += ' ';
    }
    docs.push_back({std::to_string(d), text});
  }
  return docs;
}

// The tokens of each document in sample order must be a contiguous slice of it.
void check_complete_in_order(const lsk::data::sample& s, const tokenized_corpus& corpus) {
  std::map<std::int32_t, std::vector<std::int32_t>> by_doc;
  for (std::size_t t = 0; t < s.size(); ++t)
    if (s.doc_ids[t] >= 0 && s.tokens[t] < 256) by_doc[s.doc_ids[t]].push_back(s.tokens[t]);
  for (const auto& [d, toks] : by_doc) {
    const auto doc = corpus.tokens(static_cast<std::size_t>(d));
    const auto it = std::search(doc.begin(), doc.end(), toks.begin(), toks.end());
    INFO("document " << d << ": " << toks.size() << " tokens");
    CHECK(it != doc.end());
  }
}

// Packed whole documents: every run of one document id (BOS/EOS aside) is a
// contiguous slice of that document, starting at its first token.
void check_runs(const lsk::data::sample& s, const tokenized_corpus& corpus) {
  std::size_t t = 0;
  while (t < s.size()) {
    if (s.doc_ids[t] < 0 || s.tokens[t] >= 256) {
      ++t;
      continue;
    }
    const auto d = s.doc_ids[t];
    std::vector<std::int32_t> run;
    for (; t < s.size() && s.doc_ids[t] == d && s.tokens[t] < 256; ++t) run.push_back(s.tokens[t]);
    const auto doc = corpus.tokens(static_cast<std::size_t>(d));
    REQUIRE(run.size() <= doc.size());
    CHECK(std::equal(run.begin(), run.end(), doc.begin()));
  }
}
}  // namespace

TEST_CASE("cip: chunks of every document are complete, in order, and interleaved round-robin", "[data][cip]") {
  const byte_tokenizer tok;
  const auto docs = make_docs(30);
  const auto corpus = tokenized_corpus::from_documents(tok, docs);
  for (const std::string window : {"start", "random"}) {
    cip_config c;
    c.seed = 5;
    c.seq_len = 1024;
    c.docs_per_sample = 3;
    c.chunks_per_doc = 4;
    c.window = window;
    const cip_synthesizer synth(corpus, c, lsk::data::special_tokens::of(tok));
    for (std::uint64_t i = 0; i < 40; ++i) {
      std::vector<lsk::data::cip_chunk> chunks;
      const auto s = synth.generate(i, &chunks);
      s.check();
      CHECK(s.kind == "cip");
      CHECK(s.size() == c.seq_len);
      CHECK(s.tokens.front() == tok.bos_id());
      CHECK(s.loss_mask.front() == 0);
      check_complete_in_order(s, corpus);
      // Round-robin: chunk j of doc k comes at position j * k + (draw order of the doc).
      std::vector<std::int32_t> order;
      for (const auto& ch : chunks)
        if (std::find(order.begin(), order.end(), ch.doc) == order.end()) order.push_back(ch.doc);
      REQUIRE(order.size() == 3);
      for (std::size_t k = 0; k < chunks.size(); ++k) CHECK(chunks[k].doc == order[k % 3]);
      // Chunks of one document are consecutive pieces of it, near-equal in size.
      std::map<std::int32_t, std::vector<lsk::data::cip_chunk>> per;
      for (const auto& ch : chunks) per[ch.doc].push_back(ch);
      for (const auto& [d, list] : per) {
        CHECK(list.size() == 4);
        std::size_t lo = list[0].length, hi = list[0].length;
        for (std::size_t j = 1; j < list.size(); ++j) {
          CHECK(list[j].doc_offset == list[j - 1].doc_offset + list[j - 1].length);
          lo = std::min(lo, list[j].length);
          hi = std::max(hi, list[j].length);
        }
        CHECK(hi - lo <= 1);
        if (window == "start") CHECK(list[0].doc_offset == 0);
      }
      // After EOS only padding, masked.
      const auto eos = std::find(s.tokens.begin() + 1, s.tokens.end(), tok.eos_id());
      REQUIRE(eos != s.tokens.end());
      for (auto t = static_cast<std::size_t>(eos - s.tokens.begin()) + 1; t < s.size(); ++t) {
        CHECK(s.tokens[t] == tok.pad_id());
        CHECK(s.loss_mask[t] == 0);
        CHECK(s.doc_ids[t] == -1);
      }
      for (std::size_t t = 0; t < s.size(); ++t) CHECK(s.positions[t] == static_cast<std::int32_t>(t));
    }
  }
}

TEST_CASE("cip: chunking by tokens, separators, and a long document fills its share", "[data][cip]") {
  const byte_tokenizer tok;
  std::vector<document> docs;
  for (int d = 0; d < 6; ++d) docs.push_back({std::to_string(d), std::string(5000, static_cast<char>('a' + d))});
  const auto corpus = tokenized_corpus::from_documents(tok, docs);
  cip_config c;
  c.seq_len = 2048;
  c.docs_per_sample = 4;
  c.chunking = "tokens";
  c.chunk_tokens = 100;
  c.separator = {10, 10};  // "\n\n" in bytes
  const cip_synthesizer synth(corpus, c, lsk::data::special_tokens::of(tok));
  std::vector<lsk::data::cip_chunk> chunks;
  const auto s = synth.generate(0, &chunks);
  CHECK(s.size() == 2048);
  const std::size_t share = synth.share();
  CHECK(share > 400);
  std::map<std::int32_t, std::size_t> total;
  for (const auto& ch : chunks) {
    CHECK(ch.length <= 100);
    total[ch.doc] += ch.length;
  }
  CHECK(total.size() == 4);
  for (const auto& [d, n] : total) CHECK(n == share);
  // Separators between consecutive chunks (not before the first), masked as targets, doc -1.
  for (std::size_t k = 1; k < chunks.size(); ++k) {
    const std::size_t at = chunks[k].sample_offset;
    CHECK(s.tokens[at - 1] == 10);
    CHECK(s.tokens[at - 2] == 10);
    CHECK(s.doc_ids[at - 1] == -1);
  }
  CHECK(s.tokens[1] != 10);
}

TEST_CASE("cip: mixing with long and short documents by ratio", "[data][cip]") {
  const byte_tokenizer tok;
  auto docs = make_docs(20);
  docs.push_back({"very-long", std::string(3000, 'z')});
  const auto corpus = tokenized_corpus::from_documents(tok, docs);
  cip_config c;
  c.seq_len = 512;
  c.cip_ratio = 1;
  c.long_ratio = 1;
  c.short_ratio = 2;
  c.short_reset_positions = true;
  const cip_synthesizer synth(corpus, c, lsk::data::special_tokens::of(tok));
  std::map<std::string, int> kinds;
  for (std::uint64_t i = 0; i < 400; ++i) {
    const auto s = synth.generate(i);
    ++kinds[s.kind];
    CHECK(s.size() == 512);
    if (s.kind == "long") {
      CHECK(corpus.length(static_cast<std::size_t>(s.doc_ids[1])) >= 511);  // a document long enough
      CHECK(s.doc_ids[511] == s.doc_ids[1]);
      check_complete_in_order(s, corpus);
    }
    if (s.kind == "short") {
      check_runs(s, corpus);
      // positions restart at each BOS
      for (std::size_t t = 0; t < s.size(); ++t)
        if (s.tokens[t] == tok.bos_id()) CHECK(s.positions[t] == 0);
    }
  }
  CHECK(kinds["cip"] > 60);
  CHECK(kinds["long"] > 60);
  CHECK(kinds["short"] > 150);
}

TEST_CASE("cip: same seed same samples, other seed other samples; lazy view", "[data][cip]") {
  const byte_tokenizer tok;
  const auto docs = make_docs(25);
  const auto corpus = tokenized_corpus::from_documents(tok, docs);
  cip_config c;
  c.seq_len = 256;
  const cip_synthesizer a(corpus, c, lsk::data::special_tokens::of(tok)),
      b(corpus, c, lsk::data::special_tokens::of(tok));
  c.seed = 1;
  const cip_synthesizer other(corpus, c, lsk::data::special_tokens::of(tok));
  std::size_t k = 0, differ = 0;
  for (const auto& s : a.samples(20)) {
    CHECK(s.tokens == b.generate(k).tokens);
    CHECK(s.doc_ids == b.generate(k).doc_ids);
    differ += s.tokens != other.generate(k).tokens;
    ++k;
  }
  CHECK(k == 20);
  CHECK(differ >= 18);
  // generate(i) does not depend on what was generated before
  CHECK(a.generate(7).tokens == b.generate(7).tokens);
}

TEST_CASE("cip: config from JSON; errors name the key", "[data][cip][config]") {
  using json = nlohmann::json;
  const auto c = cip_config::from_json(json{{"seq_len", 8192}, {"docs_per_sample", 8}, {"separator", {13}}});
  CHECK(c.seq_len == 8192);
  CHECK(c.docs_per_sample == 8);
  CHECK(c.separator == std::vector<std::int32_t>{13});
  CHECK_THROWS_WITH(cip_config::from_json(json{{"chunking", "words"}}), Catch::Contains("cip.chunking"));
  CHECK_THROWS_WITH(cip_config::from_json(json{{"seq_len", -4}}), Catch::Contains("cip.seq_len"));
  CHECK_THROWS_WITH(cip_config::from_json(json{{"separator", {"x"}}}), Catch::Contains("cip.separator[0]"));
  CHECK_THROWS_WITH(cip_config::from_json(json{{"cip_ratio", 0}}), Catch::Contains("cip.cip_ratio"));
  CHECK_THROWS_WITH(cip_config::from_json(json{{"docs", 3}}),
                    Catch::Contains("cip.docs") && Catch::Contains("unknown"));
  CHECK_THROWS_WITH(cip_config::from_json(json{{"seq_len", 16}, {"docs_per_sample", 20}}),
                    Catch::Contains("cip.seq_len"));
}

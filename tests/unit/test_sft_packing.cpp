// SFT and packing: the chat template trains on assistant tokens only; the
// corpus-made SFT tasks have the exact answers they claim; packing into
// fixed-length token_batches keeps every sample token exactly once (split) or
// keeps samples whole (whole), with document and segment ids, position resets
// and masks that follow the samples' loss masks.
#include <catch2/catch.hpp>

#include <algorithm>
#include <map>
#include <memory>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/data/any_synthesizer.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/cip.hpp"
#include "lsk/data/packing.hpp"
#include "lsk/data/sft.hpp"

using namespace lsk::data;

namespace {
std::vector<document> docs() {
  return {{"a",
           "The cat sat on the mat. It was a sunny day! Birds sang in the tall trees.\n\nA new paragraph "
           "starts here and it goes on. Short one."},
          {"b", "Ships sail the wide sea at dawn. Sailors sing their old songs loudly. The end is near now."}};
}
std::string masked_text(const byte_tokenizer& tok, const sample& s, bool trained) {
  std::vector<std::int32_t> ids;
  for (std::size_t t = 0; t < s.size(); ++t)
    if ((s.loss_mask[t] != 0) == trained) ids.push_back(s.tokens[t]);
  return tok.decode(ids);
}
}  // namespace

TEST_CASE("chat template: loss on assistant tokens and EOS only", "[data][sft]") {
  const byte_tokenizer tok;
  const chat_template t;
  const auto s = render_chat(tok, t, std::vector<chat_turn>{{"Q1?", "A1."}, {"Q2?", "A2."}}, 4);
  s.check();
  CHECK(s.tokens.front() == tok.bos_id());
  CHECK(masked_text(tok, s, true) == "A1.A2.");  // EOS decodes to nothing
  CHECK(masked_text(tok, s, false) == "<|user|>\nQ1?\n<|assistant|>\n\n<|user|>\nQ2?\n<|assistant|>\n");
  std::size_t eos = 0;
  for (std::size_t i = 0; i < s.size(); ++i)
    if (s.tokens[i] == tok.eos_id()) {
      ++eos;
      CHECK(s.loss_mask[i] == 1);
    }
  CHECK(eos == 2);
  for (const auto d : s.doc_ids) CHECK(d == 4);
  CHECK(s.prompt == "Q2?");
  CHECK(s.answer == "A2.");
}

TEST_CASE("sft: corpus tasks with exact answers; reproducible", "[data][sft]") {
  const byte_tokenizer tok;
  sft_config c;
  c.seed = 2;
  c.min_words = 2;
  const auto d = docs();
  const sft_synthesizer synth(tok, d, c);
  CHECK(synth.sentences() == 8);
  std::map<std::string, int> seen;
  for (std::uint64_t i = 0; i < 200; ++i) {
    lsk::rng r = sample_rng(c.seed, i);
    std::string task;
    const auto turn = synth.make_turn(r, &task);
    ++seen[task];
    const std::string sentence = turn.user.substr(turn.user.find('\n') + 1);
    if (task == "copy") CHECK(turn.assistant == sentence);
    if (task == "count_words") {
      std::size_t n = 0;
      bool in = false;
      for (const char ch : sentence) {
        if (ch != ' ' && !in) ++n;
        in = ch != ' ';
      }
      CHECK(turn.assistant == std::to_string(n));
    }
    if (task == "last_word") CHECK(sentence.find(turn.assistant) != std::string::npos);
    if (task == "uppercase") CHECK(turn.assistant.size() == sentence.size());
    if (task == "next") {
      bool found = false;
      for (const auto& doc : d) found = found || doc.text.find(sentence) < doc.text.find(turn.assistant);
      CHECK(found);
    }
  }
  CHECK(seen.size() == 5);
  const auto a = synth.generate(3), b = sft_synthesizer(tok, d, c).generate(3);
  CHECK(a.tokens == b.tokens);
  CHECK(a.kind == "sft");
  CHECK(masked_text(tok, a, true) == a.answer);
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json{{"tasks", {"copy", "poem"}}}), Catch::Contains("sft.tasks"));
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json{{"max_words", 1}}), Catch::Contains("sft.max_words"));
}

TEST_CASE("sft: lookup and recall answers are found in the passage, after what the question names", "[data][sft]") {
  const byte_tokenizer tok;
  sft_config c;
  c.seed = 4;
  c.min_words = 2;
  c.tasks = {"lookup", "recall"};
  c.passage_words = 30;
  c.recall_facts = 3;
  c.recall_digits = 5;
  const auto d = docs();
  const sft_synthesizer synth(tok, d, c);
  std::map<std::string, int> seen;
  std::map<std::size_t, int> facts_seen;
  for (std::uint64_t i = 0; i < 200; ++i) {
    lsk::rng r = sample_rng(c.seed, i);
    std::string task;
    const auto turn = synth.make_turn(r, &task);
    ++seen[task];
    const auto split = turn.user.rfind("\n\n");
    REQUIRE(split != std::string::npos);
    const std::string text = turn.user.substr(0, split), question = turn.user.substr(split + 2);
    INFO(text << " | " << question << " -> " << turn.assistant);
    if (task == "lookup") {
      const auto open = question.find('"'), close = question.rfind('"');
      const std::string pair = question.substr(open + 1, close - open - 1);
      // The pair occurs once in the passage (as whole words), the answer right after it.
      const std::string padded = " " + text + " ";
      const auto at = padded.find(" " + pair + " ");
      REQUIRE(at != std::string::npos);
      CHECK(padded.find(" " + pair + " ", at + 1) == std::string::npos);
      CHECK(padded.substr(at + pair.size() + 2, turn.assistant.size() + 1) == turn.assistant + " ");
      CHECK(std::count(turn.assistant.begin(), turn.assistant.end(), ' ') == 1);
    } else {
      const std::string name = question.substr(8, question.find("'s code?") - 8);
      CHECK(text.find(name + "'s code is " + turn.assistant + ".") != std::string::npos);
      CHECK(turn.assistant.size() == 5);
      CHECK(turn.assistant.front() != '0');
      std::size_t facts = 0;
      for (auto p = text.find("'s code is "); p != std::string::npos; p = text.find("'s code is ", p + 1)) ++facts;
      CHECK(facts >= 1);
      CHECK(facts <= 3);
      ++facts_seen[facts];
    }
  }
  CHECK(seen.size() == 2);
  CHECK(facts_seen.size() == 3);
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json{{"recall_facts", 0}}), Catch::Contains("sft.recall_facts"));
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json{{"passage_words", 2}}), Catch::Contains("sft.passage_words"));
}

TEST_CASE("sft: passage lengths are drawn from passage_words..passage_words_max", "[data][sft]") {
  const byte_tokenizer tok;
  sft_config c;
  c.seed = 9;
  c.min_words = 2;
  c.tasks = {"recall"};
  c.recall_facts = 1;
  c.passage_words = 20;
  c.passage_words_max = 200;
  const auto d = docs();
  const sft_synthesizer synth(tok, d, c);
  sft_config fixed = c;
  fixed.passage_words_max = 0;
  const sft_synthesizer fixed_synth(tok, d, fixed);
  std::size_t shortest = 1000000, longest = 0, longest_fixed = 0;
  for (std::uint64_t i = 0; i < 300; ++i) {
    lsk::rng r = sample_rng(c.seed, i), rf = sample_rng(c.seed, i);
    const auto passage_words = [](const chat_turn& t) {
      // Words of the passage, less the 4 of the inserted fact.
      return sft_detail::words(t.user.substr(0, t.user.rfind("\n\n"))).size() - 4;
    };
    const std::size_t n = passage_words(synth.make_turn(r));
    shortest = std::min(shortest, n);
    longest = std::max(longest, n);
    longest_fixed = std::max(longest_fixed, passage_words(fixed_synth.make_turn(rf)));
  }
  // At least the drawn length, and a sentence (<= max_words = 40 words) more at most.
  CHECK(shortest >= 20);
  CHECK(shortest < 60);
  CHECK(longest >= 170);
  CHECK(longest < 240);
  CHECK(longest_fixed < 60);
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json{{"passage_words", 50}, {"passage_words_max", 40}}),
                    Catch::Contains("sft.passage_words_max"));
}

TEST_CASE("sft: recall phrasings and keys from the config; each fact and question uses the sample's phrasing",
          "[data][sft]") {
  const byte_tokenizer tok;
  const auto c = sft_config::from_json(nlohmann::json::parse(R"({
    "seed": 5, "min_words": 2, "tasks": ["recall"], "passage_words": 20, "recall_facts": 3, "recall_digits": 3,
    "recall_phrasings": [{"fact": "The locker of {key} holds {value} coins.", "question": "How many coins are in the locker of {key}?"},
                         {"fact": "{key} lives in room {value}.", "question": "Which room does {key} live in?"}],
    "recall_keys": ["north gate", "red door", "old mill", "the pier"]})"));
  const auto d = docs();
  const sft_synthesizer synth(tok, d, c);
  const std::vector<std::string> keys = {"north gate", "red door", "old mill", "the pier"};
  std::map<std::size_t, int> phrasing_seen;
  std::map<std::string, int> key_asked;
  for (std::uint64_t i = 0; i < 200; ++i) {
    lsk::rng r = sample_rng(c.seed, i);
    const auto turn = synth.make_turn(r);
    const auto split = turn.user.rfind("\n\n");
    const std::string text = turn.user.substr(0, split), question = turn.user.substr(split + 2);
    INFO(text << " | " << question << " -> " << turn.assistant);
    CHECK(turn.assistant.size() == 3);
    // Exactly one phrasing's question matches, with a configured key; the fact
    // about that key, in the same phrasing, holds the answer.
    std::size_t matches = 0;
    for (std::size_t p = 0; p < c.recall_phrasings.size(); ++p) {
      for (const auto& key : keys) {
        if (question != fill_key_value(c.recall_phrasings[p].question, key, "")) continue;
        ++matches;
        ++phrasing_seen[p];
        ++key_asked[key];
        CHECK(text.find(fill_key_value(c.recall_phrasings[p].fact, key, turn.assistant)) != std::string::npos);
        // Every fact of the sample is in that phrasing: none in the other.
        const auto& other = c.recall_phrasings[1 - p].fact;
        for (const auto& k : keys) CHECK(text.find(fill_key_value(other, k, "").substr(0, 12)) == std::string::npos);
      }
    }
    CHECK(matches == 1);
    CHECK(text.find("'s code is") == std::string::npos);
  }
  CHECK(phrasing_seen.size() == 2);
  CHECK(key_asked.size() == 4);
  // The default phrasing without the keys: the code task, unchanged.
  CHECK(fill_key_value(recall_phrasing{}.fact, "Alma", "123") == "Alma's code is 123.");
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json::parse(
                        R"({"recall_phrasings": [{"fact": "{key} is here.", "question": "Where is {key}?"}]})")),
                    Catch::Contains("sft.recall_phrasings[0].fact") && Catch::Contains("{value}"));
  CHECK_THROWS_WITH(
      sft_config::from_json(nlohmann::json::parse(R"({"recall_phrasings": [{"fact": "{key}: {value}"}]})")),
      Catch::Contains("sft.recall_phrasings[0]"));
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json::parse(R"({"recall_phrasings": []})")),
                    Catch::Contains("sft.recall_phrasings"));
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json::parse(R"({"recall_keys": ["a", "b"], "recall_facts": 3})")),
                    Catch::Contains("sft.recall_facts"));
  CHECK_THROWS_WITH(sft_config::from_json(nlohmann::json::parse(R"({"recall_keys": ["a", "a"], "recall_facts": 1})")),
                    Catch::Contains("sft.recall_keys[1]"));
}

namespace {
sample numbered(std::int32_t first, std::size_t n, std::int32_t doc, bool reset_mask_first = true) {
  sample s;
  for (std::size_t i = 0; i < n; ++i) s.append(first + static_cast<std::int32_t>(i), 1, doc);
  if (reset_mask_first) s.loss_mask[0] = 0;
  return s;
}
}  // namespace

TEST_CASE("packing split: every sample token appears once, targets shift by one", "[data][packing]") {
  std::vector<sample> samples;
  std::vector<std::int32_t> stream;
  for (int k = 0; k < 7; ++k) {
    samples.push_back(numbered(1000 * k, static_cast<std::size_t>(5 + 3 * k), k));
    stream.insert(stream.end(), samples.back().tokens.begin(), samples.back().tokens.end());
  }
  packing_config c;
  c.seq_len = 16;
  c.batch_size = 2;
  const auto batches = pack_all(samples, c, -7);
  // rows overlap by one item: row r covers stream[16 r .. 16 r + 16]
  std::vector<std::int32_t> inputs;
  std::size_t row = 0;
  for (const auto& pb : batches) {
    const auto& b = pb.batch;
    CHECK(b.seq_len == 16);
    CHECK(b.batch == 2);
    for (lsk::index_t r = 0; r < b.batch; ++r, ++row) {
      for (lsk::index_t t = 0; t < 16; ++t) {
        const std::size_t at = row * 16 + static_cast<std::size_t>(t);
        const auto k = r * 16 + t;
        if (at < stream.size()) {
          CHECK(b.tokens(k) == stream[at]);
          CHECK(pb.doc_ids(k) == stream[at] / 1000);
          if (at + 1 < stream.size()) {
            CHECK(b.targets(k) == stream[at + 1]);
            // the target's sample mask (first token of each sample: 0), no cross-sample loss
            const bool new_sample = stream[at + 1] % 1000 == 0;
            CHECK(b.loss_mask(k) == (new_sample ? 0 : 1));
          }
        } else {
          CHECK(b.loss_mask(k) == 0);
          CHECK(pb.segment_ids(k) == -1);
        }
        CHECK(b.positions(k) == t);
      }
    }
  }
  CHECK(row * 16 >= stream.size() - 1);
  std::size_t counted = 0;
  for (const auto& pb : batches) counted += static_cast<std::size_t>(pb.batch.valid_tokens());
  CHECK(counted == stream.size() - 7);  // every token but each sample's first is a target once
}

TEST_CASE("packing whole: samples never cross rows; segments and sample positions", "[data][packing]") {
  std::vector<sample> samples = {numbered(0, 6, 0), numbered(100, 8, 1), numbered(200, 4, 2), numbered(300, 30, 3)};
  samples[1].positions = {0, 1, 2, 0, 1, 2, 3, 4};  // a sample with its own position resets
  packing_config c;
  c.seq_len = 15;
  c.mode = "whole";
  c.positions = "sample";
  auto view = samples;
  auto p = make_packer(view, c, -1);
  std::vector<packed_batch> rows;
  while (auto b = p.next()) rows.push_back(std::move(*b));
  REQUIRE(rows.size() == 3);  // [s0 s1] [s2 ...pad] [s3 cut]
  const auto& r0 = rows[0];
  CHECK(r0.batch.tokens(0) == 0);
  CHECK(r0.batch.tokens(6) == 100);
  CHECK(r0.segment_ids(5) == 0);
  CHECK(r0.segment_ids(6) == 1);
  CHECK(r0.batch.loss_mask(5) == 0);  // target 100 is another sample
  CHECK(r0.batch.positions(9) == 0);  // sample 1's own reset
  CHECK(r0.batch.positions(13) == 4);
  CHECK(r0.segment_ids(14) == -1);  // padding after the two whole samples
  const auto& r1 = rows[1];
  CHECK(r1.batch.tokens(0) == 200);
  CHECK(r1.batch.tokens(4) == -1);
  CHECK(r1.segment_ids(4) == -1);
  CHECK(r1.batch.loss_mask(3) == 0);
  CHECK(rows[2].batch.tokens(0) == 300);
  CHECK(rows[2].batch.targets(14) == 315);
  CHECK(p.stats().truncated == 1);
  CHECK(p.stats().samples == 4);
}

TEST_CASE("packing: CIP samples become one row each; config errors name the key", "[data][packing]") {
  const byte_tokenizer tok;
  std::vector<document> d;
  for (int i = 0; i < 10; ++i) d.push_back({std::to_string(i), std::string(200 + 10 * i, static_cast<char>('a' + i))});
  const auto corpus = tokenized_corpus::from_documents(tok, d);
  cip_config cc;
  cc.seq_len = 129;
  cc.docs_per_sample = 2;
  const cip_synthesizer synth(corpus, cc, special_tokens::of(tok));
  packing_config c;
  c.seq_len = 128;
  c.batch_size = 4;
  c.mode = "whole";
  auto batches = pack_all(synth.samples(8), c, tok.pad_id());
  REQUIRE(batches.size() == 2);
  for (std::size_t b = 0; b < 2; ++b) {
    for (lsk::index_t r = 0; r < 4; ++r) {
      const auto s = synth.generate(b * 4 + static_cast<std::size_t>(r));
      for (lsk::index_t t = 0; t < 128; ++t) {
        CHECK(batches[b].batch.tokens(r * 128 + t) == s.tokens[static_cast<std::size_t>(t)]);
        CHECK(batches[b].batch.loss_mask(r * 128 + t) == s.loss_mask[static_cast<std::size_t>(t + 1)]);
        CHECK(batches[b].doc_ids(r * 128 + t) == s.doc_ids[static_cast<std::size_t>(t)]);
      }
    }
  }
  CHECK_THROWS_WITH(packing_config::from_json(nlohmann::json{{"mode", "greedy"}}), Catch::Contains("packing.mode"));
  CHECK_THROWS_WITH(packing_config::from_json(nlohmann::json{{"seq_len", 0}}), Catch::Contains("packing.seq_len"));
}

TEST_CASE("any_synthesizer and mixtures: sources used in order, reproducible", "[data][mixture]") {
  const byte_tokenizer tok;
  const auto d = docs();
  sft_config c;
  c.min_words = 2;
  auto sft = std::make_shared<const sft_synthesizer<byte_tokenizer>>(tok, d, c);
  c.seed = 77;
  auto sft2 = std::make_shared<const sft_synthesizer<byte_tokenizer>>(tok, d, c);
  const any_synthesizer a(sft), b(sft2);
  CHECK(a.generate(4).tokens == sft->generate(4).tokens);
  const mixture_synthesizer mix({a, b}, {1.0, 3.0}, 5);
  std::uint64_t seen[2] = {0, 0};
  for (std::uint64_t i = 0; i < 200; ++i) {
    const std::size_t k = mix.source_of(i);
    const auto s = mix.generate(i);
    CHECK(s.tokens == (k == 0 ? sft : sft2)->generate(seen[k]).tokens);
    ++seen[k];
  }
  CHECK(seen[0] > 25);
  CHECK(seen[1] > 120);
  CHECK(mix.generate(17).tokens == mixture_synthesizer({a, b}, {1.0, 3.0}, 5).generate(17).tokens);
  CHECK_THROWS_AS(mixture_synthesizer({a}, {1.0, 2.0}, 0), lsk::config_error);
}

// Needle properties: at depth 0 / 50 / 100 % the asked needle lands where
// asked (before the first sentence, mid-haystack within one sentence, after
// the last), whole sentences only, lengths per grid cell, the answer is in the
// text, multi-key / multi-value / distractor variants, same seed -> same bytes.
// The held-out Moby Dick (data/corpus) is not needed: the haystack here is
// generated text with numbered sentences.
// GCC 12 reports a false -Wmaybe-uninitialized inside <regex> (std::function in
// _State) when optimising with the sanitizers; the tests use std::regex freely.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmaybe-uninitialized"
#endif
#include <catch2/catch.hpp>

#include <regex>
#include <set>
#include <string>

#include <nlohmann/json.hpp>

#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/needle.hpp"

namespace {
using lsk::data::byte_tokenizer;
using lsk::data::needle_config;
using lsk::data::needle_synthesizer;

std::string haystack_text() {
  std::string text;
  for (int i = 0; i < 3000; ++i) {
    text += std::string("Sentence number ") + std::to_string(i) + " tells of the sea and the ship";
    text += (i % 7 == 0) ? "!\n\n" : (i % 5 == 0 ? ".\n" : ". ");
  }
  return text;
}

// The haystack part of a prompt (between the instruction and the question).
std::string haystack_of(const needle_config& c, const std::string& prompt) {
  const auto q = prompt.rfind("\n\nQuestion: ");
  return prompt.substr(c.instruction.size(), q - c.instruction.size());
}
}  // namespace

TEST_CASE("needle: depth 0, 50 and 100 percent land where asked", "[data][needle]") {
  const byte_tokenizer tok;
  needle_config c;
  c.seed = 3;
  c.lengths = {1024, 4096, 16384};
  c.depths = {0.0, 0.5, 1.0};
  const std::string text = haystack_text();
  const needle_synthesizer synth(tok, text, c);
  CHECK(synth.cells() == 9);
  for (std::uint64_t i = 0; i < 27; ++i) {
    const auto item = synth.generate_item(i);
    CHECK(item.length == c.lengths[(i % 9) / 3]);
    CHECK(item.depth == c.depths[i % 3]);
    const std::string hay = haystack_of(c, item.prompt);
    const std::string needle = "The special magic number for " + item.key + " is " + item.values[0] + ".";
    const auto at = hay.find(needle);
    REQUIRE(at != std::string::npos);
    INFO("cell length " << item.length << " depth " << item.depth << " at " << at << " of " << hay.size());
    // at a sentence boundary
    CHECK((at == 0 || hay.compare(at - 2, 2, ". ") == 0 || hay.compare(at - 2, 2, "! ") == 0));
    const double measured = static_cast<double>(item.needle_offset_tokens) / static_cast<double>(item.haystack_tokens);
    if (item.depth == 0.0) {
      CHECK(at == 0);
      CHECK(item.needle_offset_tokens == 0);
    } else if (item.depth == 1.0) {
      CHECK(at + needle.size() == hay.size());
      CHECK(item.needle_offset_tokens == item.haystack_tokens);
    } else {
      // within one sentence (< 60 bytes here) of the middle, in tokens and in the text itself
      CHECK(std::abs(measured - 0.5) * static_cast<double>(item.haystack_tokens) <= 60);
      const double text_depth = static_cast<double>(at) / static_cast<double>(hay.size() - needle.size());
      CHECK(std::abs(text_depth - 0.5) < 0.02 + 60.0 / static_cast<double>(hay.size()));
    }
    // the whole sample: length close to the cell's, answer last with loss
    const auto s = synth.generate(i);
    CHECK(s.size() <= item.length + item.answer.size() + 2);
    CHECK(static_cast<double>(s.size()) >= 0.95 * static_cast<double>(item.length));
    CHECK(s.answer == item.values[0]);
  }
}

TEST_CASE("needle: multi-key, multi-value and distractors", "[data][needle]") {
  const byte_tokenizer tok;
  needle_config c;
  c.context_tokens = 4096;
  c.needles = 3;
  c.values_per_key = 3;
  c.distractors = 2;
  const needle_synthesizer synth(tok, haystack_text(), c);
  for (std::uint64_t i = 0; i < 20; ++i) {
    const auto item = synth.generate_item(i);
    CHECK(item.needle_count == 3 + 2 + 2);
    const std::regex re(R"(The special magic number for ([a-z]+-[a-z]+) is (\d{7})\.)");
    std::set<std::string> keys;
    std::string asked_values;
    for (auto it = std::sregex_iterator(item.prompt.begin(), item.prompt.end(), re); it != std::sregex_iterator();
         ++it) {
      keys.insert((*it)[1]);
      if ((*it)[1] == item.key) asked_values += (asked_values.empty() ? "" : ", ") + (*it)[2].str();
    }
    CHECK(keys.size() == 5);             // 3 keys with needles + 2 distractor keys, all distinct
    CHECK(asked_values == item.answer);  // every value of the asked key, in text order
    CHECK(item.question.find(item.key) != std::string::npos);
    CHECK(item.question.find("all the special magic numbers") != std::string::npos);
  }
}

TEST_CASE("needle: same seed same bytes; config errors name the key", "[data][needle][config]") {
  const byte_tokenizer tok;
  needle_config c;
  c.context_tokens = 2000;
  const std::string text = haystack_text();
  const needle_synthesizer a(tok, text, c), b(tok, text, c);
  for (std::uint64_t i = 0; i < 5; ++i) CHECK(a.generate(i).tokens == b.generate(i).tokens);
  using json = nlohmann::json;
  const auto j = needle_config::from_json(json{{"lengths", {1024, 2048}}, {"depths", {0.0, 0.25, 1.0}}});
  CHECK(j.lengths.size() == 2);
  CHECK_THROWS_WITH(needle_config::from_json(json{{"depths", {0.5, 1.5}}}), Catch::Contains("needle.depths"));
  CHECK_THROWS_WITH(needle_config::from_json(json{{"needle_template", "no placeholders"}}),
                    Catch::Contains("needle.needle_template"));
  CHECK_THROWS_WITH(needle_config::from_json(json{{"needles", 0}}), Catch::Contains("needle.needles"));
  CHECK_THROWS_AS(needle_synthesizer<byte_tokenizer>(tok, "one sentence only", c), lsk::config_error);
}

// Corpus readers: a .txt directory and JSON Lines, streaming in a
// deterministic order, seeded shuffles that repeat, a split by document that
// depends only on ids, invalid UTF-8 as an error naming file/line/offset or
// replaced with a count; plus the tokenized corpus layout and sentence splits.
// The decoded fixture texts (tests/fixtures/corpus/expected) serve as a small
// real corpus.
#include <catch2/catch.hpp>

#include <filesystem>
#include <fstream>
#include <set>
#include <string>
#include <vector>

#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/corpus.hpp"
#include "lsk/data/synthesis.hpp"
#include "lsk/data/tokenized_corpus.hpp"

namespace fs = std::filesystem;
using namespace lsk::data;

namespace {
struct temp_dir {
  fs::path path;
  temp_dir() {
    path = fs::temp_directory_path() / (std::string("lsk_corpus_test_") + std::to_string(::getpid()) + "_" +
                                        std::to_string(reinterpret_cast<std::uintptr_t>(this)));
    fs::create_directories(path);
  }
  ~temp_dir() { fs::remove_all(path); }
  void write(const std::string& rel, const std::string& bytes) const {
    fs::create_directories((path / rel).parent_path());
    std::ofstream(path / rel, std::ios::binary) << bytes;
  }
};
const fs::path fixtures = fs::path(LSK_SOURCE_DIR) / "tests/fixtures/corpus/expected";
}  // namespace

TEST_CASE("corpus: a .txt directory streams documents sorted by relative path", "[data][corpus]") {
  text_directory_source src(fixtures);
  std::vector<std::string> ids;
  std::size_t bytes = 0;
  for (const document& d : src) {
    ids.push_back(d.id);
    bytes += d.text.size();
    CHECK(!d.text.empty());
  }
  CHECK(ids.size() == 9);
  CHECK(std::is_sorted(ids.begin(), ids.end()));
  CHECK(ids.front() == "austen/emma.txt");
  CHECK(src.stats().documents == 9);
  CHECK(src.stats().bytes == bytes);
}

TEST_CASE("corpus: seeded shuffles repeat and differ by seed", "[data][corpus]") {
  auto order = [](std::uint64_t seed) {
    corpus_options o;
    o.shuffle_seed = seed;
    text_directory_source src(fixtures, o);
    return src.files();
  };
  CHECK(order(1) == order(1));
  CHECK(order(1) != order(2));
  auto sorted = order(1);
  std::sort(sorted.begin(), sorted.end());
  corpus_options plain;
  CHECK(sorted == text_directory_source(fixtures, plain).files());
  // The permutation itself is fixed by lsk::rng (platform independent).
  CHECK(shuffled_order(5, 42) == shuffled_order(5, 42));
  std::vector<std::size_t> p = shuffled_order(100, 7);
  std::sort(p.begin(), p.end());
  for (std::size_t i = 0; i < 100; ++i) CHECK(p[i] == i);
}

TEST_CASE("corpus: train/held-out split by document id", "[data][corpus]") {
  temp_dir dir;
  std::string jsonl;
  for (int i = 0; i < 400; ++i)
    jsonl += std::string(R"({"id": "doc)") + std::to_string(i) + R"(", "text": "text )" + std::to_string(i) + "\"}\n";
  dir.write("c.jsonl", jsonl);
  auto read_ids = [&](split_part part, std::optional<std::uint64_t> shuffle) {
    corpus_options o;
    o.part = part;
    o.heldout_fraction = 0.1;
    o.split_seed = 9;
    o.shuffle_seed = shuffle;
    jsonl_source src(dir.path / "c.jsonl", o);
    std::set<std::string> ids;
    for (const auto& d : src) ids.insert(d.id);
    return ids;
  };
  const auto train = read_ids(split_part::train, std::nullopt), held = read_ids(split_part::heldout, std::nullopt);
  CHECK(train.size() + held.size() == 400);
  for (const auto& id : held) CHECK(train.count(id) == 0);
  CHECK(held.size() > 20);
  CHECK(held.size() < 65);
  CHECK(read_ids(split_part::heldout, 123) == held);  // order does not matter
  for (const auto& id : held) CHECK(is_heldout(id, 0.1, 9));
}

TEST_CASE("corpus: JSON Lines streaming, shuffled by line offsets, ids and errors", "[data][corpus]") {
  temp_dir dir;
  dir.write("a.jsonl", "{\"text\": \"first\"}\n\n{\"text\": \"second\", \"id\": 7}\n{\"text\": \"third\"}\n");
  jsonl_source src(dir.path / "a.jsonl");
  const auto docs = read_all(src);
  REQUIRE(docs.size() == 3);
  CHECK(docs[0].id == "line 1");
  CHECK(docs[1].id == "7");
  CHECK(docs[2].text == "third");
  corpus_options o;
  o.shuffle_seed = 3;
  jsonl_source shuffled(dir.path / "a.jsonl", o);
  std::set<std::string> texts;
  for (const auto& d : shuffled) texts.insert(d.text);
  CHECK(texts == std::set<std::string>{"first", "second", "third"});

  dir.write("bad.jsonl", "{\"text\": \"ok\"}\n{\"txt\": \"no\"}\n");
  jsonl_source bad(dir.path / "bad.jsonl");
  CHECK(bad.next().has_value());
  CHECK_THROWS_WITH(bad.next(), Catch::Contains("bad.jsonl:2") && Catch::Contains("\"text\""));
  dir.write("notjson.jsonl", "{\"text\": \n");
  jsonl_source nj(dir.path / "notjson.jsonl");
  CHECK_THROWS_AS(nj.next(), lsk::format_error);
  CHECK_THROWS_AS(jsonl_source(dir.path / "missing.jsonl"), lsk::io_error);
  CHECK_THROWS_AS(text_directory_source(dir.path / "missing"), lsk::io_error);
}

TEST_CASE("corpus: invalid UTF-8 is an error naming the place, or replaced and counted", "[data][corpus][utf8]") {
  temp_dir dir;
  dir.write("t/a.txt", "fine text\n");
  dir.write("t/b.txt", std::string("bad \xC3\x28 and \xFF here\n"));
  {
    text_directory_source src(dir.path / "t");
    CHECK(src.next()->text == "fine text\n");
    CHECK_THROWS_WITH(src.next(), Catch::Contains("b.txt") && Catch::Contains("byte offset 4"));
  }
  {
    corpus_options o;
    o.on_invalid_utf8 = utf8_policy::replace;
    text_directory_source src(dir.path / "t", o);
    const auto docs = read_all(src);
    CHECK(docs[1].text == "bad \xEF\xBF\xBD( and \xEF\xBF\xBD here\n");
    CHECK(src.stats().replaced == 2);
  }
  dir.write("u.jsonl", std::string("{\"text\": \"x\"}\n{\"text\": \"\xE2\x82\"}\n"));
  {
    jsonl_source src(dir.path / "u.jsonl");
    CHECK(src.next().has_value());
    CHECK_THROWS_AS(src.next(), lsk::encoding_error);
  }
  {
    corpus_options o;
    o.on_invalid_utf8 = utf8_policy::replace;
    jsonl_source src(dir.path / "u.jsonl", o);
    const auto docs = read_all(src);
    CHECK(docs[1].text == "\xEF\xBF\xBD");
    CHECK(src.stats().replaced == 1);
  }
}

TEST_CASE("tokenized corpus: flat tokens with offsets, pieces cut at line breaks", "[data][corpus]") {
  const byte_tokenizer tok;
  std::vector<document> docs = {{"a", "hello\nworld\n"}, {"b", ""}, {"c", std::string(300, 'x') + "\n" + "tail"}};
  const auto small = tokenized_corpus::from_documents(tok, docs, 64);
  CHECK(small.documents() == 3);
  CHECK(small.length(0) == 12);
  CHECK(small.length(1) == 0);
  CHECK(small.length(2) == 305);
  CHECK(tok.decode(small.tokens(2)) == docs[2].text);
  CHECK(small.total_tokens() == 317);
  CHECK_THROWS_AS(small.tokens(3), lsk::index_error);
}

TEST_CASE("sentences: split at . ! ? (through closing quotes) and blank lines", "[data][corpus]") {
  const auto s = split_sentences(
      "One two.  Three\nfour! \"Five?\" six\n\nSeven \xE2\x80\x9C"
      "eight.\xE2\x80\x9D Nine");
  REQUIRE(s.size() == 6);
  CHECK(s[0] == "One two.");
  CHECK(s[1] == "Three four!");
  CHECK(s[2] == "\"Five?\"");
  CHECK(s[3] == "six");
  CHECK(s[4] ==
        "Seven \xE2\x80\x9C"
        "eight.\xE2\x80\x9D");
  CHECK(s[5] == "Nine");
}

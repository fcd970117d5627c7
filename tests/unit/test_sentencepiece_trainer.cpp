// SentencePiece BPE training with the library's trainer: byte fallback (no
// unknown text), split digits, chat markers kept whole, lossless round trip
// of corpus text, and the same vocabulary from the same seed. Trains on the
// decoded fixture texts (tests/fixtures/corpus/expected) at a small vocab so
// it runs in a second or two.
#include <catch2/catch.hpp>

#include <filesystem>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/data/corpus.hpp"
#include "lsk/data/sentencepiece_tokenizer.hpp"
#include "lsk/data/sentencepiece_trainer.hpp"

using namespace lsk::data;

namespace {
const std::filesystem::path fixtures = std::filesystem::path(LSK_SOURCE_DIR) / "tests/fixtures/corpus/expected";

std::vector<std::string> vocabulary(const sentencepiece_tokenizer& t) {
  std::vector<std::string> v;
  for (std::int32_t i = 0; i < t.vocab_size(); ++i) v.push_back(t.piece(i));
  return v;
}
}  // namespace

TEST_CASE("sentencepiece trainer: BPE with byte fallback, split digits and chat markers", "[data][tokenizer]") {
  const auto docs = read_corpus(fixtures);
  sentencepiece_train_config c;
  c.vocab_size = 600;
  const auto tok = sentencepiece_tokenizer::from_serialized(train_sentencepiece(docs, c), "trained");
  CHECK(tok.vocab_size() == 600);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.pad_id() == 3);
  // byte fallback: characters never seen become bytes, not <unk>
  const std::string unseen = "\xE6\xBC\xA2\xE5\xAD\x97 \xF0\x9F\x90\x8B";
  const auto ids = tok.encode(unseen);
  for (const auto id : ids) CHECK(id != tok.unk_id());
  CHECK(tok.decode(ids) == unseen);
  // split digits: every digit is its own piece
  for (const auto& p : tok.encode_pieces("R12345 cost 987.65")) {
    if (p.rfind("<0x", 0) == 0) continue;  // a byte piece (a digit unseen in training)
    std::size_t digits = 0;
    for (const char ch : p) digits += ch >= '0' && ch <= '9';
    CHECK(digits <= 1);
  }
  // chat markers are single pieces; newlines and indentation survive
  CHECK(tok.encode("<|user|>").size() == 1);
  CHECK(tok.encode("<|assistant|>").size() == 1);
  const std::string table = "| id | a |\n|---|---|\n|  R1 | x  |\n";
  CHECK(tok.decode(tok.encode(table)) == table);
  for (const auto& d : docs) CHECK(tok.decode(tok.encode(d.text)) == d.text);
}

TEST_CASE("sentencepiece trainer: same seed, same vocabulary; config errors name the key", "[data][tokenizer]") {
  const auto docs = read_corpus(fixtures);
  sentencepiece_train_config c;
  c.vocab_size = 500;
  const auto a = sentencepiece_tokenizer::from_serialized(train_sentencepiece(docs, c));
  const auto b = sentencepiece_tokenizer::from_serialized(train_sentencepiece(docs, c));
  CHECK(vocabulary(a) == vocabulary(b));
  CHECK_THROWS_WITH(sentencepiece_train_config::from_json(nlohmann::json{{"vocab_size", 10}}),
                    Catch::Contains("tokenizer.vocab_size"));
  CHECK_THROWS_WITH(sentencepiece_train_config::from_json(nlohmann::json{{"model_type", "wordpiece"}}),
                    Catch::Contains("tokenizer.model_type"));
  CHECK_THROWS_AS(train_sentencepiece(std::vector<document>{}, c), lsk::config_error);
}

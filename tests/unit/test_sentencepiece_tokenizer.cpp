// SentencePiece through lsk::data::sentencepiece_tokenizer, with llama2.c's
// tok512.model (vocab 512, trained for stories260K). Built only when the
// library is found (lsk::sentencepiece); skips without the shared directory.
#include <catch2/catch.hpp>

#include <algorithm>
#include <cstring>

#include "io_test_support.hpp"
#include "lsk/recipe.hpp"  // brings in the SentencePiece tokenizer when LSK_HAS_SENTENCEPIECE is set

using lsk::data::sentencepiece_tokenizer;
using lsk_test::contains;
using lsk_test::message_of;

static_assert(lsk::Tokenizer<sentencepiece_tokenizer>);

TEST_CASE("sentencepiece_tokenizer: tok512", "[io][tokenizer][sentencepiece][shared]") {
  LSK_REQUIRE_SHARED_FILE(path, "models/stories260K/tok512.model");
  const sentencepiece_tokenizer tok(path);
  CHECK(tok.source() == path.string());
  CHECK(tok.vocab_size() == 512);
  CHECK(tok.bos_id() == 1);
  CHECK(tok.eos_id() == 2);
  CHECK(tok.unk_id() == 0);
  CHECK(tok.pad_id() == -1);

  CHECK(tok.piece(0) == "<unk>");
  CHECK(tok.piece(1) == "<s>");
  CHECK(tok.piece(2) == "</s>");
  CHECK(tok.piece(3) == "<0x00>");  // byte fallback pieces: ids 3..258
  CHECK(tok.piece(13) == "<0x0A>");
  CHECK(tok.piece(258) == "<0xFF>");
  CHECK(tok.piece(259) == "\xE2\x96\x81t");  // "▁t", the first merge
  CHECK(tok.piece(403) == "\xE2\x96\x81Once");
  CHECK(tok.piece_to_id("\xE2\x96\x81upon") == 407);
  CHECK(tok.piece_to_id("no such piece") == tok.unk_id());
  CHECK(tok.is_control(1));
  CHECK(tok.is_byte(13));
  CHECK_FALSE(tok.is_byte(403));
  CHECK_THROWS_AS(tok.piece(512), lsk::index_error);

  const std::string text = "Once upon a time";
  const auto ids = tok.encode(text);
  CHECK(ids == std::vector<std::int32_t>{403, 407, 261, 378});
  CHECK(tok.encode_pieces(text) == std::vector<std::string>{"\xE2\x96\x81Once", "\xE2\x96\x81upon",
                                                            "\xE2\x96\x81"
                                                            "a",
                                                            "\xE2\x96\x81time"});
  CHECK(tok.decode(ids) == text);
  std::vector<std::int32_t> framed{tok.bos_id()};
  framed.insert(framed.end(), ids.begin(), ids.end());
  framed.push_back(tok.eos_id());
  CHECK(tok.decode(framed) == text);  // BOS/EOS decode to nothing

  // Byte fallback keeps text outside the vocabulary lossless.
  const std::string snow = "a snowman \xE2\x98\x83 and \xE6\x97\xA5\xE6\x9C\xAC.\nThe end.";
  const auto snow_ids = tok.encode(snow);
  for (std::int32_t id : snow_ids) CHECK((id >= 0 && id < 512));
  CHECK(std::count(snow_ids.begin(), snow_ids.end(), 13) == 1);  // the newline, as <0x0A>
  CHECK(tok.decode(snow_ids) == snow);

  const auto msg = message_of<lsk::index_error>([&] { (void)tok.decode(std::vector<std::int32_t>{403, 512}); });
  CHECK(contains(msg, "id 512 at position 1"));

  // Copies share the loaded model.
  const sentencepiece_tokenizer copy = tok;
  CHECK(copy.encode(text) == ids);
}

TEST_CASE("sentencepiece_tokenizer: pieces and scores agree with llama2.c's tok512.bin",
          "[io][tokenizer][sentencepiece][shared]") {
  LSK_REQUIRE_SHARED_FILE(model, "models/stories260K/tok512.model");
  LSK_REQUIRE_SHARED_FILE(bin, "models/stories260K/tok512.bin");
  const sentencepiece_tokenizer tok(model);
  // tok512.bin: int32 max_token_length, then per id: float32 score, int32
  // length, the piece's bytes with "▁" written as a space (and BOS / EOS
  // written as "\n<s>\n" / "\n</s>\n").
  const auto bytes = lsk_test::read_bytes(bin);
  std::size_t at = 4;
  const auto take = [&](void* out, std::size_t n) {
    REQUIRE(at + n <= bytes.size());
    std::memcpy(out, bytes.data() + at, n);
    at += n;
  };
  for (std::int32_t id = 0; id < tok.vocab_size(); ++id) {
    float score = 0;
    std::int32_t len = 0;
    take(&score, 4);
    take(&len, 4);
    std::string piece(static_cast<std::size_t>(len), '\0');
    take(piece.data(), piece.size());
    const std::string sp_piece = tok.piece(id);
    std::string expected;
    for (std::size_t i = 0; i < sp_piece.size();) {
      if (sp_piece.compare(i, 3, "\xE2\x96\x81") == 0) {
        expected += ' ';
        i += 3;
      } else {
        expected += sp_piece[i++];
      }
    }
    if (id == tok.bos_id() || id == tok.eos_id()) expected = "\n" + expected + "\n";
    INFO("id " << id);
    CHECK(piece == expected);
    CHECK(score == tok.score(id));
  }
  CHECK(at == bytes.size());
}

TEST_CASE("sentencepiece_tokenizer: missing and corrupt model files", "[io][tokenizer][sentencepiece]") {
  lsk_test::scratch_dir dir;
  const auto missing = dir / "absent.model";
  CHECK(contains(message_of<lsk::io_error>([&] { sentencepiece_tokenizer t(missing); }), "absent.model"));

  const auto garbage = dir / "garbage.model";
  lsk_test::write_bytes(garbage, {std::byte{0xFF}, std::byte{0xFF}, std::byte{0x12}, std::byte{0x00}, std::byte{0x7F}});
  const auto msg = message_of<lsk::format_error>([&] { sentencepiece_tokenizer t(garbage); });
  CHECK(contains(msg, "garbage.model"));
  CHECK(contains(msg, "not a valid SentencePiece model"));

  const auto empty = dir / "empty.model";
  lsk_test::write_bytes(empty, {});
  CHECK(contains(message_of<lsk::format_error>([&] { sentencepiece_tokenizer t(empty); }), "empty.model"));

  CHECK_THROWS_AS(sentencepiece_tokenizer::from_serialized("not a model", "inline"), lsk::format_error);
  CHECK_THROWS_AS(sentencepiece_tokenizer(dir.path()), lsk::io_error);  // a directory
}

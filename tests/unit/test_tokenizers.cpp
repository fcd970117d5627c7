// The Tokenizer concept (both ways), UTF-8 validation, and the byte tokenizer.
#include <catch2/catch.hpp>

#include "io_test_support.hpp"
#include "lsk/concepts/archetypes.hpp"
#include "lsk/data/byte_tokenizer.hpp"
#include "lsk/data/utf8.hpp"

using lsk_test::contains;
using lsk_test::message_of;
namespace utf8 = lsk::data::utf8;
using lsk::data::byte_tokenizer;
using lsk::data::utf8_check;

static_assert(lsk::Tokenizer<lsk::archetypes::tokenizer>);
static_assert(lsk::Tokenizer<byte_tokenizer>);
static_assert(!lsk::Tokenizer<lsk::archetypes::tokenizer_without_decode>);
static_assert(!lsk::Tokenizer<lsk::archetypes::tokenizer_with_wide_ids>);
static_assert(!lsk::Tokenizer<lsk::archetypes::tokenizer_with_mutable_encode>);
static_assert(!lsk::Tokenizer<lsk::archetypes::tokenizer_without_special_ids>);
static_assert(!lsk::Tokenizer<int>);

namespace {
// Generic code written against the concept only.
template <lsk::Tokenizer T>
std::vector<std::int32_t> with_bos_eos(const T& tok, std::string_view text) {
  std::vector<std::int32_t> ids{tok.bos_id()};
  const auto body = tok.encode(text);
  ids.insert(ids.end(), body.begin(), body.end());
  ids.push_back(tok.eos_id());
  return ids;
}
}  // namespace

TEST_CASE("tokenizer concept: archetype and broken types are classified at compile time", "[io][tokenizer][concepts]") {
  CHECK(lsk::Tokenizer<lsk::archetypes::tokenizer>);
  CHECK_FALSE(lsk::Tokenizer<lsk::archetypes::tokenizer_with_wide_ids>);
}

TEST_CASE("utf8: well-formed text and each kind of ill-formed sequence", "[io][utf8]") {
  CHECK(utf8::is_valid(""));
  CHECK(utf8::is_valid("plain ASCII"));
  CHECK(utf8::is_valid("h\xC3\xA9llo \xE2\x98\x83 \xE6\x97\xA5 \xF0\x9F\x98\x80"));  // 2, 3, 3 and 4 bytes
  CHECK(utf8::is_valid("\xED\x9F\xBF"));                                             // U+D7FF
  CHECK(utf8::is_valid("\xF4\x8F\xBF\xBF"));                                         // U+10FFFF
  CHECK(utf8::first_invalid("ab\x80") == 2u);                                        // lone continuation
  CHECK(utf8::first_invalid("\xC0\xAF") == 0u);                                      // overlong '/'
  CHECK(utf8::first_invalid("x\xE0\x80\xAF") == 1u);                                 // overlong 3-byte
  CHECK(utf8::first_invalid("xy\xED\xA0\x80") == 2u);                                // surrogate U+D800
  CHECK(utf8::first_invalid("\xF4\x90\x80\x80") == 0u);                              // above U+10FFFF
  CHECK(utf8::first_invalid("\xF5\x80\x80\x80") == 0u);
  CHECK(utf8::first_invalid("abc\xE2\x98") == 3u);  // truncated at the end
  CHECK(utf8::first_invalid("\xFF") == 0u);

  const std::string msg = message_of<lsk::encoding_error>([] { utf8::check("ok \xE2\x98 then", "the text"); });
  CHECK(contains(msg, "the text"));
  CHECK(contains(msg, "byte offset 3"));
  CHECK(contains(msg, "E2 98 20"));
  CHECK_THROWS_AS(utf8::check("\x80", "t"), lsk::format_error);  // encoding_error is a format_error
  CHECK_NOTHROW(utf8::check("\xE2\x98\x83", "t"));
}

TEST_CASE("utf8: replacement uses one U+FFFD per maximal subpart", "[io][utf8]") {
  const auto replaced = [](std::string_view s) {
    std::string out;
    const std::size_t n = utf8::append_replacing_invalid(s, out);
    return std::pair(out, n);
  };
  const std::string r = "\xEF\xBF\xBD";
  CHECK(replaced("abc") == std::pair(std::string("abc"), std::size_t{0}));
  CHECK(replaced("a\x80"
                 "b") == std::pair("a" + r + "b", std::size_t{1}));
  CHECK(replaced("\xE2\x98x") == std::pair(r + "x", std::size_t{1}));       // truncated 3-byte: one
  CHECK(replaced("\xC0\xAF") == std::pair(r + r, std::size_t{2}));          // C0 never starts one
  CHECK(replaced("\xED\xA0\x80") == std::pair(r + r + r, std::size_t{3}));  // surrogate: byte by byte
  CHECK(replaced("\xF0\x9F\x98") == std::pair(r, std::size_t{1}));          // truncated 4-byte at end
  CHECK(replaced("\xF0\x9F\x98\x80\x80") == std::pair("\xF0\x9F\x98\x80" + r, std::size_t{1}));
}

TEST_CASE("byte_tokenizer: ids are bytes, specials above 255", "[io][tokenizer]") {
  const byte_tokenizer tok;
  CHECK(tok.vocab_size() == 259);
  CHECK(tok.bos_id() == 256);
  CHECK(tok.eos_id() == 257);
  CHECK(tok.pad_id() == 258);
  CHECK(byte_tokenizer::is_special(257));
  CHECK_FALSE(byte_tokenizer::is_special(255));

  const std::string text = "Once upon a time, \xE2\x98\x83!";
  const auto ids = tok.encode(text);
  REQUIRE(ids.size() == text.size());
  CHECK(ids[0] == 'O');
  CHECK(ids[18] == 0xE2);
  CHECK(tok.decode(ids) == text);
  const auto framed = with_bos_eos(tok, text);
  CHECK(framed.front() == 256);
  CHECK(framed.back() == 257);
  std::vector<std::int32_t> padded = framed;
  padded.insert(padded.end(), 3, tok.pad_id());
  CHECK(tok.decode(padded) == text);  // specials decode to nothing

  // Every byte value round-trips, including NUL and invalid UTF-8.
  std::string all;
  for (int b = 0; b < 256; ++b) all.push_back(static_cast<char>(b));
  CHECK(tok.decode(tok.encode(all)) == all);

  const std::vector<std::int32_t> bad = {'a', 259};
  const auto msg = message_of<lsk::index_error>([&] { (void)tok.decode(bad); });
  CHECK(contains(msg, "id 259 at position 1"));
  CHECK_THROWS_AS(tok.decode(std::vector<std::int32_t>{-1}), lsk::index_error);
}

TEST_CASE("byte_tokenizer: decode checks UTF-8 on request", "[io][tokenizer][utf8]") {
  const std::vector<std::int32_t> ids = {256,  'h',  0xC3, 0xA9, 'x',
                                         0xE2, 0x98, ' ',  0xFF, 257};  // "héx", bad, ' ', bad
  const byte_tokenizer raw;
  CHECK(raw.decode(ids) == "h\xC3\xA9x\xE2\x98 \xFF");

  const byte_tokenizer strict(utf8_check::strict);
  const auto msg = message_of<lsk::encoding_error>([&] { (void)strict.decode(ids); });
  CHECK(contains(msg, "byte offset 4"));  // offset in the decoded text: after 'h', C3 A9, 'x'

  const byte_tokenizer replacing(utf8_check::replace);
  CHECK(replacing.decode(ids) == "h\xC3\xA9x\xEF\xBF\xBD \xEF\xBF\xBD");
  const auto r = raw.decode_checked(ids, utf8_check::replace);
  CHECK(r.replaced == 2);
  CHECK(r.text == replacing.decode(ids));
  CHECK(raw.decode_checked(raw.encode("fine \xE2\x98\x83"), utf8_check::replace).replaced == 0);
  CHECK_NOTHROW(strict.decode(strict.encode("fine \xE2\x98\x83")));
}

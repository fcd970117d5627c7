// lsk/data/byte_tokenizer.hpp: the byte-level tokenizer (no dependencies).
//
// Vocabulary (259 ids):
//   0..255  the byte of that value
//   256     BOS    257  EOS    258  PAD   (specials: they decode to no text)
// encode maps each byte of the text to its id, so any byte string round-trips
// and no text is ever unknown. decode concatenates the bytes of the non-special
// ids. Because a model may emit any byte sequence, decode can check the result
// as UTF-8 (lsk/data/utf8.hpp):
//   utf8_check::none     bytes as they are (the default: exact round trip)
//   utf8_check::strict   invalid UTF-8 is an lsk::encoding_error naming the
//                        byte offset in the decoded text
//   utf8_check::replace  each maximal invalid subpart becomes U+FFFD;
//                        decode_checked reports how many were replaced
// Models lsk::Tokenizer.
#pragma once

#include <cstddef>
#include <cstdint>
#include <span>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "lsk/concepts/tokenizer.hpp"
#include "lsk/core/error.hpp"
#include "lsk/data/utf8.hpp"

namespace lsk::data {

enum class utf8_check { none, strict, replace };

struct decode_result {
  std::string text;
  std::size_t replaced = 0;  // U+FFFD substitutions made (utf8_check::replace)
};

class byte_tokenizer {
 public:
  static constexpr std::int32_t bos = 256;
  static constexpr std::int32_t eos = 257;
  static constexpr std::int32_t pad = 258;
  static constexpr std::int32_t size = 259;

  byte_tokenizer() = default;
  // `check` is what decode() applies; decode_checked takes its own.
  explicit byte_tokenizer(utf8_check check) : check_(check) {}

  std::vector<std::int32_t> encode(std::string_view text) const {
    std::vector<std::int32_t> ids(text.size());
    for (std::size_t i = 0; i < text.size(); ++i) ids[i] = static_cast<unsigned char>(text[i]);
    return ids;
  }

  std::string decode(std::span<const std::int32_t> ids) const { return decode_checked(ids, check_).text; }

  // Decodes with the given UTF-8 check and reports the replacements made.
  decode_result decode_checked(std::span<const std::int32_t> ids, utf8_check check) const {
    std::string bytes;
    bytes.reserve(ids.size());
    for (std::size_t i = 0; i < ids.size(); ++i) {
      const std::int32_t id = ids[i];
      if (id < 0 || id >= size) {
        raise<index_error>("byte_tokenizer: id ", id, " at position ", i, " is outside the vocabulary [0, ", size, ")");
      }
      if (id < 256) bytes.push_back(static_cast<char>(static_cast<unsigned char>(id)));
    }
    decode_result r;
    switch (check) {
      case utf8_check::none:
        r.text = std::move(bytes);
        break;
      case utf8_check::strict:
        utf8::check(bytes, "byte_tokenizer: decoded text");
        r.text = std::move(bytes);
        break;
      case utf8_check::replace:
        r.replaced = utf8::append_replacing_invalid(bytes, r.text);
        break;
    }
    return r;
  }

  std::int32_t vocab_size() const { return size; }
  std::int32_t bos_id() const { return bos; }
  std::int32_t eos_id() const { return eos; }
  std::int32_t pad_id() const { return pad; }
  static constexpr bool is_special(std::int32_t id) { return id >= 256 && id < size; }

 private:
  utf8_check check_ = utf8_check::none;
};

static_assert(Tokenizer<byte_tokenizer>);

}  // namespace lsk::data

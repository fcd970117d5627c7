// lsk/data/utf8.hpp: UTF-8 validation and U+FFFD replacement.
//
// Well-formed UTF-8 (Unicode 15, table 3-7): one to four bytes per scalar value,
//   00..7F
//   C2..DF  80..BF
//   E0      A0..BF  80..BF        E1..EC  80..BF  80..BF
//   ED      80..9F  80..BF        EE..EF  80..BF  80..BF
//   F0      90..BF  80..BF  80..BF
//   F1..F3  80..BF  80..BF  80..BF
//   F4      80..8F  80..BF  80..BF
// so overlong forms, surrogates (U+D800..DFFF) and values above U+10FFFF are
// rejected. Replacement follows the Unicode "maximal subpart" practice (also
// the WHATWG encoding standard's): each maximal prefix of a well-formed
// sequence that cannot be completed, and each byte that cannot start one,
// becomes one U+FFFD. One pass, no allocation beyond the output.
#pragma once

#include <cstddef>
#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "lsk/core/error.hpp"

namespace lsk::data::utf8 {

// The outcome of reading one sequence: `length` bytes form a valid scalar value
// (valid == true) or a maximal ill-formed subpart (valid == false, length >= 1).
struct sequence {
  bool valid;
  std::size_t length;
};

// Reads the sequence starting at s[i] (i < s.size()).
constexpr sequence read_sequence(std::string_view s, std::size_t i) {
  const auto byte = [&](std::size_t k) { return static_cast<unsigned char>(s[k]); };
  const unsigned char b0 = byte(i);
  if (b0 < 0x80) return {true, 1};
  std::size_t need = 0;
  unsigned char lo = 0x80, hi = 0xBF;  // allowed range of the second byte
  if (b0 >= 0xC2 && b0 <= 0xDF) {
    need = 1;
  } else if (b0 >= 0xE0 && b0 <= 0xEF) {
    need = 2;
    if (b0 == 0xE0) lo = 0xA0;
    if (b0 == 0xED) hi = 0x9F;
  } else if (b0 >= 0xF0 && b0 <= 0xF4) {
    need = 3;
    if (b0 == 0xF0) lo = 0x90;
    if (b0 == 0xF4) hi = 0x8F;
  } else {
    return {false, 1};  // 80..C1, F5..FF cannot start a sequence
  }
  for (std::size_t k = 1; k <= need; ++k) {
    if (i + k >= s.size()) return {false, k};  // truncated at the end of the text
    const unsigned char b = byte(i + k);
    const bool ok = k == 1 ? (b >= lo && b <= hi) : (b >= 0x80 && b <= 0xBF);
    if (!ok) return {false, k};
  }
  return {true, need + 1};
}

// Byte offset of the first ill-formed sequence, or nothing when `s` is valid.
constexpr std::optional<std::size_t> first_invalid(std::string_view s) {
  for (std::size_t i = 0; i < s.size();) {
    const sequence q = read_sequence(s, i);
    if (!q.valid) return i;
    i += q.length;
  }
  return std::nullopt;
}

constexpr bool is_valid(std::string_view s) { return !first_invalid(s).has_value(); }

// Throws encoding_error naming the byte offset (and the bytes there) of the
// first ill-formed sequence of `s`; `what` says whose text it is.
inline void check(std::string_view s, std::string_view what) {
  const auto at = first_invalid(s);
  if (!at) return;
  const sequence q = read_sequence(s, *at);
  static constexpr char hex[] = "0123456789ABCDEF";
  std::string bytes;
  for (std::size_t k = 0; k < q.length + 1 && *at + k < s.size() && k < 4; ++k) {
    const auto b = static_cast<unsigned char>(s[*at + k]);
    if (k) bytes += ' ';
    bytes += hex[b >> 4];
    bytes += hex[b & 0xF];
  }
  raise<encoding_error>(what, ": invalid UTF-8 at byte offset ", *at, " (bytes ", bytes, ")");
}

inline constexpr std::string_view replacement_character = "\xEF\xBF\xBD";  // U+FFFD

// Appends `s` to `out` with every maximal ill-formed subpart replaced by U+FFFD;
// returns the number of replacements.
inline std::size_t append_replacing_invalid(std::string_view s, std::string& out) {
  std::size_t replaced = 0;
  out.reserve(out.size() + s.size());
  for (std::size_t i = 0; i < s.size();) {
    const sequence q = read_sequence(s, i);
    if (q.valid) {
      out.append(s.substr(i, q.length));
    } else {
      out.append(replacement_character);
      ++replaced;
    }
    i += q.length;
  }
  return replaced;
}

}  // namespace lsk::data::utf8

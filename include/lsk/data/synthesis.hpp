// lsk/data/synthesis.hpp: what every synthesizer shares: the per-sample random
// generator, the lazy sample view, and token-level helpers.
//
// Per-sample generator: sample i of a synthesizer seeded with s draws from
// lsk::rng(splitmix64(s ^ splitmix64(i)), i), so samples are independent of
// each other and of the order they are made in.
// samples(synth, n): std::views::iota(0, n) | std::views::transform(generate),
// a random-access view; nothing is made until it is read.
#pragma once

#include <cstdint>
#include <ranges>
#include <span>
#include <string>
#include <string_view>
#include <vector>

#include "lsk/core/rng.hpp"
#include "lsk/data/corpus.hpp"
#include "lsk/data/sample.hpp"

namespace lsk::data {

inline rng sample_rng(std::uint64_t seed, std::uint64_t index) {
  return rng(corpus_detail::splitmix64(seed ^ corpus_detail::splitmix64(index)), index);
}

// The lazy view of samples 0..count-1 of `synth` (which must outlive it).
template <class Synth>
auto sample_view(const Synth& synth, std::uint64_t count) {
  return std::views::iota(std::uint64_t{0}, count) |
         std::views::transform([&synth](std::uint64_t i) { return synth.generate(i); });
}

// Uniform integer in [lo, hi] (inclusive); lo <= hi.
inline std::int64_t uniform_int(rng& r, std::int64_t lo, std::int64_t hi) {
  const auto span = static_cast<std::uint64_t>(hi - lo) + 1u;
  if (span <= 0xFFFFFFFFull) return lo + static_cast<std::int64_t>(r.below(static_cast<std::uint32_t>(span)));
  return lo + static_cast<std::int64_t>(r.next_u64() % span);
}

// The sentences of `text`: a sentence ends after '.', '!' or '?' (and any
// closing quotes or brackets) followed by whitespace, or at a blank line; inner
// whitespace runs (hard line wraps included) become one space. Sentences of
// fewer than min_bytes bytes are dropped.
inline std::vector<std::string> split_sentences(std::string_view text, std::size_t min_bytes = 1) {
  std::vector<std::string> out;
  std::string cur;
  auto flush = [&] {
    while (!cur.empty() && cur.back() == ' ') cur.pop_back();
    if (cur.size() >= min_bytes) out.push_back(cur);
    cur.clear();
  };
  const auto is_space = [](char c) { return c == ' ' || c == '\n' || c == '\r' || c == '\t'; };
  for (std::size_t i = 0; i < text.size(); ++i) {
    const char c = text[i];
    if (is_space(c)) {
      std::size_t newlines = 0, j = i;
      for (; j < text.size() && is_space(text[j]); ++j) newlines += text[j] == '\n';
      bool end = newlines >= 2;
      if (!end) {
        std::string_view body = cur;  // look through closing quotes and brackets
        for (;;) {
          if (body.ends_with("\xE2\x80\x9D") || body.ends_with("\xE2\x80\x99")) {
            body.remove_suffix(3);
          } else if (!body.empty() &&
                     (body.back() == '"' || body.back() == '\'' || body.back() == ')' || body.back() == ']')) {
            body.remove_suffix(1);
          } else {
            break;
          }
        }
        end = !body.empty() && (body.back() == '.' || body.back() == '!' || body.back() == '?');
      }
      if (end) {
        flush();
      } else if (!cur.empty()) {
        cur += ' ';
      }
      i = j - 1;
    } else {
      cur += c;
    }
  }
  flush();
  return out;
}

// `tmpl` with every "{key}" replaced by `key` and every "{value}" by `value`.
inline std::string fill_key_value(std::string_view tmpl, std::string_view key, std::string_view value) {
  std::string out;
  for (std::size_t i = 0; i < tmpl.size();) {
    if (tmpl.substr(i, 5) == "{key}") {
      out += key;
      i += 5;
    } else if (tmpl.substr(i, 7) == "{value}") {
      out += value;
      i += 7;
    } else {
      out += tmpl[i++];
    }
  }
  return out;
}

// A uniformly chosen element of a non-empty list.
template <class T>
const T& pick(rng& r, const std::vector<T>& v) {
  return v[r.below(static_cast<std::uint32_t>(v.size()))];
}

}  // namespace lsk::data

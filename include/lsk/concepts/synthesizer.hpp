// lsk/concepts/synthesizer.hpp: what a synthetic-data generator must provide.
//
// A synthesizer turns a seed and a sample index into one training sample
// (lsk::data::sample: tokens, loss mask, document ids, positions). Because a
// sample depends only on (config, seed, index), any sample can be made alone,
// in any order, on any thread, and a run resumes by index with no state to save.
//
// Semantic requirements (tests check them for each synthesizer lsk ships):
//  1. generate(i) is const and deterministic: the same config and index give
//     the same sample, byte for byte, on every platform (lsk::rng, no
//     std:: distributions).
//  2. generate(i) returns a sample whose four arrays have one length.
//  3. samples(n) is a view of generate(0) .. generate(n-1), computed lazily.
#pragma once

#include <concepts>
#include <cstdint>
#include <ranges>

#include "lsk/data/sample.hpp"

namespace lsk {

template <class S>
concept Synthesizer = requires(const S& s, std::uint64_t index) {
  { s.generate(index) } -> std::same_as<data::sample>;
  { s.samples(index) } -> std::ranges::view;
};

}  // namespace lsk

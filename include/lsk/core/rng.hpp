// lsk/core/rng.hpp: a seeded random number generator whose streams are the
// same on every platform and compiler.
//
// Engine: PCG32 (O'Neill's XSH-RR 64/32: 64-bit LCG state, output by xorshift
// then random rotation), seeded with (seed, stream). Distributions are our own,
// never the standard library's (whose algorithms are implementation-defined):
//   uniform():      24 random bits * 2^-24, a float in [0, 1)
//   uniform01_d():  53 bits from two draws * 2^-53, a double in [0, 1)
//   below(n):       Lemire's multiply-shift with rejection, unbiased in [0, n)
//   normal():       Box-Muller on two doubles; uses std::log/cos/sin, which are
//                   correctly rounded on glibc but may differ by an ulp elsewhere.
//   fork(k):        an independent generator (new stream) derived from this one.
#pragma once

#include <cmath>
#include <cstdint>
#include <numbers>

namespace lsk {

class rng {
 public:
  explicit rng(std::uint64_t seed = 0x853c49e6748fea9bULL, std::uint64_t stream = 0xda3e39cb94b95bdbULL) {
    increment_ = (stream << 1u) | 1u;
    state_ = 0;
    next_u32();
    state_ += seed;
    next_u32();
  }

  std::uint32_t next_u32() {
    const std::uint64_t old = state_;
    state_ = old * 6364136223846793005ULL + increment_;
    const auto xorshifted = static_cast<std::uint32_t>(((old >> 18u) ^ old) >> 27u);
    const auto rot = static_cast<std::uint32_t>(old >> 59u);
    return (xorshifted >> rot) | (xorshifted << ((32u - rot) & 31u));
  }

  std::uint64_t next_u64() {
    const std::uint64_t hi = next_u32();
    return (hi << 32u) | next_u32();
  }

  // Uniform float in [0, 1).
  float uniform() { return static_cast<float>(next_u32() >> 8) * 0x1.0p-24f; }
  // Uniform float in [lo, hi).
  float uniform(float lo, float hi) { return lo + (hi - lo) * uniform(); }
  // Uniform double in [0, 1).
  double uniform01_d() { return static_cast<double>(next_u64() >> 11) * 0x1.0p-53; }

  // Unbiased integer in [0, n); n must be > 0.
  std::uint32_t below(std::uint32_t n) {
    std::uint64_t m = static_cast<std::uint64_t>(next_u32()) * n;
    auto low = static_cast<std::uint32_t>(m);
    if (low < n) {
      const std::uint32_t threshold = (0u - n) % n;
      while (low < threshold) {
        m = static_cast<std::uint64_t>(next_u32()) * n;
        low = static_cast<std::uint32_t>(m);
      }
    }
    return static_cast<std::uint32_t>(m >> 32u);
  }

  // Standard normal deviate (mean 0, standard deviation 1).
  double normal() {
    if (has_spare_) {
      has_spare_ = false;
      return spare_;
    }
    double u1 = 0.0;
    while (u1 <= 0.0) u1 = uniform01_d();
    const double u2 = uniform01_d();
    const double radius = std::sqrt(-2.0 * std::log(u1));
    const double angle = 2.0 * std::numbers::pi * u2;
    spare_ = radius * std::sin(angle);
    has_spare_ = true;
    return radius * std::cos(angle);
  }

  // The complete state, to save in a checkpoint and restore exactly.
  struct state_type {
    std::uint64_t state, increment;
    double spare;
    bool has_spare;
  };
  state_type save() const { return {state_, increment_, spare_, has_spare_}; }
  void restore(const state_type& s) {
    state_ = s.state;
    increment_ = s.increment | 1u;
    spare_ = s.spare;
    has_spare_ = s.has_spare;
  }

  // An independent generator for sub-task k (e.g. one per worker or per layer).
  rng fork(std::uint64_t k) { return rng(next_u64(), k * 2u + 1u + (increment_ >> 1u)); }

 private:
  std::uint64_t state_ = 0;
  std::uint64_t increment_ = 1;
  double spare_ = 0.0;
  bool has_spare_ = false;
};

}  // namespace lsk

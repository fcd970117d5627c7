// bf16 conversion against an independent oracle: the nearest bf16 value
// computed in double arithmetic from the two bf16 neighbours of each float.
#include <bit>
#include <cmath>
#include <cstdint>
#include <limits>

#include <catch2/catch.hpp>

#include "lsk/core/bf16.hpp"
#include "lsk/core/rng.hpp"

namespace {

// Round-to-nearest-even by definition: compare distances to the two neighbours.
std::uint16_t oracle_round(float x) {
  const std::uint32_t u = std::bit_cast<std::uint32_t>(x);
  if (std::isnan(x)) return 0;                            // handled separately
  const auto down = static_cast<std::uint16_t>(u >> 16);  // truncation: towards zero in magnitude
  if ((u & 0xFFFFu) == 0) return down;
  const auto up = static_cast<std::uint16_t>(down + 1);  // next magnitude (may be infinity)
  const double xd = x;
  const double lo = lsk::bf16::to_float(down);
  // The value one bf16 step above |down|, computed without overflow: for the
  // largest finite bf16 this is 2^128, which rounds to +/- infinity.
  const double hi = ((down & 0x7F80u) == 0x7F00u && (down & 0x7Fu) == 0x7Fu) ? std::copysign(std::ldexp(1.0, 128), xd)
                                                                             : double(lsk::bf16::to_float(up));
  const double d_lo = std::abs(xd - lo), d_hi = std::abs(hi - xd);
  if (d_lo < d_hi) return down;
  if (d_hi < d_lo) return up;
  return (down & 1u) == 0 ? down : up;  // tie: even mantissa
}

}  // namespace

TEST_CASE("bf16 rounds to nearest even on random and edge bit patterns", "[bf16]") {
  lsk::rng g(11);
  int checked = 0;
  auto check = [&](std::uint32_t bits) {
    const float x = std::bit_cast<float>(bits);
    if (std::isnan(x)) return;
    INFO("float bits 0x" << std::hex << bits);
    REQUIRE(lsk::bf16(x).bits == oracle_round(x));
    ++checked;
  };
  for (int i = 0; i < 200000; ++i) check(g.next_u32());
  // Ties, just-below and just-above ties, around 1.0, denormals, the largest finite values.
  for (std::uint32_t hi : {0x3F80u, 0x3F81u, 0x0000u, 0x0001u, 0x007Fu, 0x7F7Fu, 0x7F7Eu, 0xFF7Fu, 0x8000u}) {
    for (std::uint32_t lo : {0x0000u, 0x0001u, 0x7FFFu, 0x8000u, 0x8001u, 0xFFFFu}) check((hi << 16) | lo);
  }
  CHECK(checked > 199000);
}

TEST_CASE("bf16 special values", "[bf16]") {
  const float inf = std::numeric_limits<float>::infinity();
  CHECK(lsk::bf16(1.0f).bits == 0x3F80);
  CHECK(lsk::bf16(-2.0f).bits == 0xC000);
  CHECK(lsk::bf16(inf).bits == 0x7F80);
  CHECK(lsk::bf16(-inf).bits == 0xFF80);
  CHECK(lsk::bf16(std::numeric_limits<float>::max()).bits == 0x7F80);  // rounds up to infinity
  CHECK(lsk::bf16(1.0f + 0x1.0p-8f).bits == 0x3F80);                   // exact tie, even stays
  CHECK(lsk::bf16(1.0f + 0x1.8p-7f).bits == 0x3F82);                   // tie with odd lower: rounds up
  // A NaN whose payload is only in the low 16 bits must stay NaN, not become infinity.
  const float low_nan = std::bit_cast<float>(0x7F800001u);
  CHECK(std::isnan(static_cast<float>(lsk::bf16(low_nan))));
  CHECK(std::isnan(static_cast<float>(lsk::bf16(-std::numeric_limits<float>::quiet_NaN()))));
  // bf16 -> float -> bf16 is the identity on every non-NaN pattern.
  for (std::uint32_t b = 0; b < 0x10000u; ++b) {
    const auto bits = static_cast<std::uint16_t>(b);
    const float f = lsk::bf16::to_float(bits);
    if (!std::isnan(f)) REQUIRE(lsk::bf16(f).bits == bits);
  }
}

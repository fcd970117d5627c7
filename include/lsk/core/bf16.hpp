// lsk/core/bf16.hpp: bfloat16 storage type with round-to-nearest-even conversion.
//
// bf16 keeps the upper 16 bits of an IEEE-754 binary32: 1 sign, 8 exponent and 7
// mantissa bits. float -> bf16 rounds to nearest, ties to even, by adding
// 0x7FFF + (lsb of the kept half) to the bit pattern before truncating; this
// carries correctly into the exponent and overflows to infinity exactly where
// IEEE rounding would. NaNs stay NaN (quiet bit forced so that a NaN whose
// payload lives only in the low bits does not turn into infinity).
// bf16 -> float is exact (shift left by 16).
//
// The same definitions run on the host and in CUDA kernels (LSK_HOST_DEVICE).
// nvcc does not allow std::bit_cast (a host-only constexpr function) in device
// code, so under nvcc the bit reinterpretation uses the compiler builtin that
// std::bit_cast itself is built on; results are identical.
#pragma once

#include <bit>
#include <cstdint>

#include "lsk/config.hpp"

namespace lsk {

namespace detail {
template <class To, class From>
LSK_HOST_DEVICE constexpr To bit_cast(const From& from) noexcept {
  static_assert(sizeof(To) == sizeof(From), "bit_cast needs types of equal size");
#if defined(__CUDACC__)
  return __builtin_bit_cast(To, from);
#else
  return std::bit_cast<To>(from);
#endif
}
}  // namespace detail

struct bf16 {
  std::uint16_t bits = 0;

  constexpr bf16() = default;
  LSK_HOST_DEVICE constexpr explicit bf16(float value) : bits(round_from_float(value)) {}
  LSK_HOST_DEVICE constexpr explicit operator float() const { return to_float(bits); }
  LSK_HOST_DEVICE constexpr explicit operator double() const { return static_cast<double>(to_float(bits)); }

  LSK_HOST_DEVICE static constexpr bf16 from_bits(std::uint16_t raw) {
    bf16 b;
    b.bits = raw;
    return b;
  }

  LSK_HOST_DEVICE static constexpr std::uint16_t round_from_float(float value) {
    const std::uint32_t u = detail::bit_cast<std::uint32_t>(value);
    if ((u & 0x7F800000u) == 0x7F800000u && (u & 0x007FFFFFu) != 0u) {
      return static_cast<std::uint16_t>((u >> 16) | 0x0040u);  // NaN: keep sign, force quiet
    }
    const std::uint32_t lsb = (u >> 16) & 1u;
    return static_cast<std::uint16_t>((u + 0x7FFFu + lsb) >> 16);
  }

  LSK_HOST_DEVICE static constexpr float to_float(std::uint16_t raw) {
    return detail::bit_cast<float>(static_cast<std::uint32_t>(raw) << 16);
  }

  friend constexpr bool operator==(bf16 a, bf16 b) { return a.bits == b.bits; }
};

static_assert(sizeof(bf16) == 2, "bf16 must be two bytes");

}  // namespace lsk

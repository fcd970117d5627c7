// lsk/core/dtype.hpp: element types a tensor may hold, and their names.
#pragma once

#include <cstddef>
#include <cstdint>
#include <string_view>
#include <type_traits>

#include "lsk/core/bf16.hpp"

namespace lsk {

enum class dtype : std::uint8_t { f32, f64, bf16, i32, u8 };

template <class T>
struct dtype_of_t;
template <>
struct dtype_of_t<float> : std::integral_constant<dtype, dtype::f32> {};
template <>
struct dtype_of_t<double> : std::integral_constant<dtype, dtype::f64> {};
template <>
struct dtype_of_t<bf16> : std::integral_constant<dtype, dtype::bf16> {};
template <>
struct dtype_of_t<std::int32_t> : std::integral_constant<dtype, dtype::i32> {};
template <>
struct dtype_of_t<std::uint8_t> : std::integral_constant<dtype, dtype::u8> {};

template <class T>
inline constexpr dtype dtype_of = dtype_of_t<std::remove_const_t<T>>::value;

constexpr std::string_view name(dtype t) {
  switch (t) {
    case dtype::f32:
      return "f32";
    case dtype::f64:
      return "f64";
    case dtype::bf16:
      return "bf16";
    case dtype::i32:
      return "i32";
    case dtype::u8:
      return "u8";
  }
  return "?";
}

constexpr std::size_t size_of(dtype t) {
  switch (t) {
    case dtype::f32:
      return 4;
    case dtype::f64:
      return 8;
    case dtype::bf16:
      return 2;
    case dtype::i32:
      return 4;
    case dtype::u8:
      return 1;
  }
  return 0;
}

// Floating-point element types the math ops are written for.
template <class T>
concept real_scalar = std::is_same_v<T, float> || std::is_same_v<T, double>;

}  // namespace lsk

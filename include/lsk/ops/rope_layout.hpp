// lsk/ops/rope_layout.hpp: how the rotated pairs of a RoPE head are laid out.
//
// For a head of head_dim values whose first rotary_dim = 2 * half are rotated:
//   rotate_half  pair i = dims (i, i + half)   Hugging Face / GPT-NeoX ("rotate_half")
//   interleaved  pair i = dims (2i, 2i + 1)    Meta's reference Llama, llama2.c, GPT-J
// Pair i turns by angle position * inv_freq[i] in both layouts; the two differ
// only by a permutation of the rotated dims. Dims >= rotary_dim pass through.
#pragma once

#include <string_view>

namespace lsk {

enum class rope_layout { rotate_half, interleaved };

constexpr std::string_view name(rope_layout l) {
  switch (l) {
    case rope_layout::rotate_half:
      return "rotate_half";
    case rope_layout::interleaved:
      return "interleaved";
  }
  return "?";
}

}  // namespace lsk

// lsk/attention/shape.hpp: the shape of one attention call.
//
// batch sequences of q_len queries attending to k_len >= q_len keys (the last
// q_len keys are the queries' own tokens); heads query heads share kv_heads
// key/value heads in groups of heads / kv_heads.
#pragma once

#include "lsk/core/error.hpp"
#include "lsk/core/shape.hpp"

namespace lsk::attention {

struct attention_shape {
  index_t batch = 1, q_len = 0, k_len = 0, heads = 1, kv_heads = 1, head_dim = 0;
  index_t group() const { return heads / kv_heads; }
};

inline void check_attention_shape(const attention_shape& s) {
  if (s.heads <= 0 || s.kv_heads <= 0 || s.heads % s.kv_heads != 0) {
    raise<shape_error>("attention: kv_heads ", s.kv_heads, " must divide heads ", s.heads);
  }
  if (s.k_len < s.q_len) raise<shape_error>("attention: ", s.k_len, " keys for ", s.q_len, " queries");
}

}  // namespace lsk::attention

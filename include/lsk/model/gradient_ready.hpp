// lsk/model/gradient_ready.hpp: which parameters' gradients a backward pass has
// just finished, reported to an optional hook so that their data-parallel
// all-reduce can start while the rest of backward runs (lsk/dist/gradient_reducer.hpp).
// llama::backward reports, in this order: head (final norm, and lm_head when
// untied), layer L-1, ..., layer 0, embedding (last: with tied embeddings the
// lm_head's gradient accumulates into it).
#pragma once

#include <cstddef>
#include <functional>

namespace lsk::model {

struct gradient_ready {
  enum class part { head, layer, embedding };
  part what = part::head;
  std::size_t layer = 0;  // for part::layer
};

using gradient_ready_hook = std::function<void(const gradient_ready&)>;

}  // namespace lsk::model

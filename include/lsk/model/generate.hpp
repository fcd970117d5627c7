// lsk/model/generate.hpp: autoregressive generation with a KV cache.
//
// The prompt is decoded in one call (prefill), then one token per call; each
// new token is chosen by sample_token from the last row of logits. Stops after
// max_new tokens or at the end-of-sequence token (included in the output).
#pragma once

#include <vector>

#include "lsk/model/llama.hpp"
#include "lsk/model/sampling.hpp"

namespace lsk::model {

struct generation_options {
  index_t max_new_tokens = 64;
  sampling_options sampling;
  bool stop_at_eos = true;
};

// Returns the generated tokens (without the prompt).
template <Backend B, real_scalar T>
std::vector<std::int32_t> generate(B& be, llama<T>& model, std::span<const std::int32_t> prompt,
                                   const generation_options& options, rng& g) {
  if (prompt.empty()) raise<shape_error>("generate: the prompt must hold at least one token (e.g. BOS)");
  options.sampling.validate();
  auto cache = model.make_cache(static_cast<index_t>(prompt.size()) + options.max_new_tokens);
  std::vector<std::int32_t> out;
  const tensor<T>* logits = &model.decode(be, prompt, cache);
  tensor<T> host_copy;  // the logits of a model in device memory
  for (index_t i = 0; i < options.max_new_tokens; ++i) {
    logits = &on_host(*logits, host_copy);
    const index_t last = logits->dim(0) - 1;
    const std::span<const T> row(logits->data() + last * logits->dim(1), static_cast<std::size_t>(logits->dim(1)));
    const std::int32_t next = sample_token(row, options.sampling, g);
    out.push_back(next);
    if (options.stop_at_eos && next == model.config.eos_token_id) break;
    if (i + 1 < options.max_new_tokens) logits = &model.decode(be, std::span<const std::int32_t>(&next, 1), cache);
  }
  return out;
}

}  // namespace lsk::model

// lsk/eval/perplexity.hpp: perplexity against context length on held-out text.
//
// For each length L: up to `windows` non-overlapping windows of L + 1 tokens
// from the start of the stream; each window is one sequence (predict tokens
// 1..L from their prefixes). Reported per L: mean negative log-likelihood over
// all L positions and over the last half only (positions L/2..L-1, the ones
// that can use long context), and their exponentials. The model's rotary
// tables must cover L positions.
#pragma once

#include <cmath>
#include <span>
#include <utility>
#include <vector>

#include "lsk/model/llama.hpp"

namespace lsk::eval {

struct perplexity_point {
  index_t length = 0, windows = 0;
  double nll = 0, nll_second_half = 0;
  double ppl() const { return std::exp(nll); }
  double ppl_second_half() const { return std::exp(nll_second_half); }
};

template <Backend B>
std::vector<perplexity_point> perplexity_by_length(B& be, model::llama<float>& m, std::span<const std::int32_t> tokens,
                                                   const std::vector<index_t>& lengths, index_t windows) {
  // Every position's logits are read: the LM head runs unchunked here.
  struct whole_head {
    model::llama<float>& m;
    index_t chunk;
    ~whole_head() { m.config.head_chunk_tokens = chunk; }
  } const restore{m, std::exchange(m.config.head_chunk_tokens, index_t{0})};
  std::vector<perplexity_point> out;
  for (index_t L : lengths) {
    if (L < 2) raise<config_error>("perplexity_by_length: length ", L, " must be >= 2");
    if (m.rotary.rows() < L) {
      raise<config_error>("perplexity_by_length: rotary tables have ", m.rotary.rows(), " rows, length ", L,
                          " needs more");
    }
    perplexity_point p;
    p.length = L;
    tensor<float> host_copy;  // the logits of a model in device memory
    double all = 0, half = 0;
    index_t n_all = 0, n_half = 0;
    for (index_t w = 0; w < windows && (w + 1) * (L + 1) <= static_cast<index_t>(tokens.size()); ++w) {
      model::token_batch b(1, L);
      b.set_sequence(0, tokens.subspan(static_cast<std::size_t>(w * (L + 1)), static_cast<std::size_t>(L + 1)));
      m.forward(be, b);
      const auto& logits = on_host(m.logits(), host_copy);
      for (index_t t = 0; t < L; ++t) {
        const float* row = logits.data() + t * logits.dim(1);
        double mx = row[0];
        for (index_t v = 1; v < logits.dim(1); ++v) mx = std::max(mx, double(row[v]));
        double s = 0;
        for (index_t v = 0; v < logits.dim(1); ++v) s += std::exp(double(row[v]) - mx);
        const double nll = mx + std::log(s) - double(row[b.targets(t)]);
        all += nll;
        ++n_all;
        if (t >= L / 2) {
          half += nll;
          ++n_half;
        }
      }
      ++p.windows;
    }
    if (p.windows == 0)
      raise<config_error>("perplexity_by_length: the held-out stream is shorter than ", L + 1, " tokens");
    p.nll = all / double(n_all);
    p.nll_second_half = half / double(n_half);
    out.push_back(p);
  }
  return out;
}

}  // namespace lsk::eval

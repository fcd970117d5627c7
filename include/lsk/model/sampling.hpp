// lsk/model/sampling.hpp: choosing the next token from a row of logits.
//
// temperature 0: greedy (argmax; the lowest id wins ties). Otherwise the
// logits are divided by the temperature, softmax-ed in double (max-subtracted),
// restricted to the top_k most likely tokens (0: all) and then to the smallest
// set whose probability reaches top_p (1: all), renormalised, and sampled by
// inverse CDF with one uniform draw from lsk::rng, so a seed reproduces a
// sample on every platform.
#pragma once

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <numeric>
#include <span>
#include <vector>

#include "lsk/core/error.hpp"
#include "lsk/core/rng.hpp"

namespace lsk::model {

struct sampling_options {
  double temperature = 0.0;
  int top_k = 0;
  double top_p = 1.0;

  void validate() const {
    if (!(temperature >= 0)) raise<config_error>("sampling: temperature must be >= 0, got ", temperature);
    if (top_k < 0) raise<config_error>("sampling: top_k must be >= 0, got ", top_k);
    if (!(top_p > 0 && top_p <= 1)) raise<config_error>("sampling: top_p must be in (0, 1], got ", top_p);
  }
};

template <class T>
std::int32_t sample_token(std::span<const T> logits, const sampling_options& options, rng& g) {
  options.validate();
  if (logits.empty()) raise<shape_error>("sampling: empty logits");
  if (options.temperature == 0.0) {
    return static_cast<std::int32_t>(std::max_element(logits.begin(), logits.end()) - logits.begin());
  }
  std::vector<std::int32_t> order(logits.size());
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&](std::int32_t a, std::int32_t b) {
    return logits[static_cast<std::size_t>(a)] > logits[static_cast<std::size_t>(b)];
  });
  std::size_t keep = order.size();
  if (options.top_k > 0) keep = std::min(keep, static_cast<std::size_t>(options.top_k));
  const double top = double(logits[static_cast<std::size_t>(order[0])]) / options.temperature;
  std::vector<double> p(keep);
  double total = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    p[i] = std::exp(double(logits[static_cast<std::size_t>(order[i])]) / options.temperature - top);
    total += p[i];
  }
  if (options.top_p < 1.0) {
    double mass = 0;
    std::size_t n = 0;
    while (n < keep && mass < options.top_p * total) mass += p[n++];
    keep = std::max<std::size_t>(n, 1);
    total = std::accumulate(p.begin(), p.begin() + static_cast<std::ptrdiff_t>(keep), 0.0);
  }
  const double u = g.uniform01_d() * total;
  double cumulative = 0;
  for (std::size_t i = 0; i < keep; ++i) {
    cumulative += p[i];
    if (u < cumulative) return order[i];
  }
  return order[keep - 1];
}

}  // namespace lsk::model

// lsk/data/any_synthesizer.hpp: a type-erased synthesizer, so that a stage
// plan can hold "the sample source of this stage" (CIP for stage 1, SFT for
// stage 2, SynL for stage 3, or a mixture) without naming its type.
//
// any_synthesizer shares ownership of the synthesizer it wraps (which must
// keep alive whatever it points to, e.g. the tokenized corpus or tokenizer).
// mixture: sample i comes from source k with probability weight_k / sum,
// drawn from sample_rng(seed, i), and is that source's sample number
// (the count of earlier indices that chose k), so each source's stream is
// used in order, without gaps, and the mixture stays a pure function of i
// (the count is found by replaying the draws up to i: O(i) per call, cached
// for sequential reads).
#pragma once

#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <utility>
#include <vector>

#include "lsk/concepts/synthesizer.hpp"
#include "lsk/core/error.hpp"
#include "lsk/data/synthesis.hpp"

namespace lsk::data {

class any_synthesizer {
 public:
  any_synthesizer() = default;
  template <Synthesizer S>
  explicit any_synthesizer(std::shared_ptr<const S> s)
      : generate_([s = std::move(s)](std::uint64_t i) { return s->generate(i); }) {}

  sample generate(std::uint64_t index) const {
    if (!generate_) raise<config_error>("any_synthesizer: empty");
    return generate_(index);
  }
  auto samples(std::uint64_t count) const { return sample_view(*this, count); }
  explicit operator bool() const { return static_cast<bool>(generate_); }

 private:
  std::function<sample(std::uint64_t)> generate_;
};

static_assert(Synthesizer<any_synthesizer>);

class mixture_synthesizer {
 public:
  mixture_synthesizer(std::vector<any_synthesizer> sources, std::vector<double> weights, std::uint64_t seed)
      : sources_(std::move(sources)), weights_(std::move(weights)), seed_(seed) {
    if (sources_.empty() || sources_.size() != weights_.size()) {
      raise<config_error>("mixture: ", sources_.size(), " sources and ", weights_.size(), " weights");
    }
    for (const double w : weights_) {
      if (!(w >= 0)) raise<config_error>("mixture: weights must be >= 0");
      total_ += w;
    }
    if (!(total_ > 0)) raise<config_error>("mixture: the weights sum to zero");
  }

  // Which source sample `index` comes from.
  std::size_t source_of(std::uint64_t index) const {
    rng r = sample_rng(seed_, index);
    double u = r.uniform01_d() * total_;
    for (std::size_t k = 0; k + 1 < weights_.size(); ++k) {
      if (u < weights_[k]) return k;
      u -= weights_[k];
    }
    return weights_.size() - 1;
  }

  sample generate(std::uint64_t index) const {
    const std::size_t k = source_of(index);
    return sources_[k].generate(rank(index, k));
  }
  auto samples(std::uint64_t count) const { return sample_view(*this, count); }

 private:
  // How many indices before `index` chose source k.
  std::uint64_t rank(std::uint64_t index, std::size_t k) const {
    std::lock_guard<std::mutex> lock(mutex_);
    if (cache_index_ > index) {
      cache_index_ = 0;
      cache_counts_.assign(sources_.size(), 0);
    }
    if (cache_counts_.empty()) cache_counts_.assign(sources_.size(), 0);
    for (; cache_index_ < index; ++cache_index_) ++cache_counts_[source_of(cache_index_)];
    return cache_counts_[k];
  }

  std::vector<any_synthesizer> sources_;
  std::vector<double> weights_;
  std::uint64_t seed_;
  double total_ = 0;
  mutable std::mutex mutex_;
  mutable std::uint64_t cache_index_ = 0;
  mutable std::vector<std::uint64_t> cache_counts_;
};

static_assert(Synthesizer<mixture_synthesizer>);

}  // namespace lsk::data

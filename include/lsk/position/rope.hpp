// lsk/position/rope.hpp: every RoPE type behind one value, and transformers' run-time update rule.
//
// rope: built from a rope_config, holds the matching encoding (default_rope,
// linear_rope, dynamic_ntk_rope, yarn_rope, long_rope, llama3_rope) and models
// PositionEncoding. rope_state: the frequencies a model uses call after call,
// with transformers' rule (dynamic_rope_update):
//   dynamic  recompute when the call's length n exceeds the longest seen so far;
//            back to the original frequencies when n < max_position_embeddings
//            after having grown; otherwise keep the cached ones.
//   longrope long factors when n > original_max_position_embeddings, else short.
//   others   constant.
// Numerics: see the type headers (double). Tests: tests/unit/test_rope_golden.cpp
// (every fixture through rope; the dynamic module's sequence through rope_state).
#pragma once

#include <utility>
#include <variant>

#include "lsk/concepts/position_encoding.hpp"
#include "lsk/position/rope_config.hpp"
#include "lsk/position/rope_default.hpp"
#include "lsk/position/rope_dynamic.hpp"
#include "lsk/position/rope_linear.hpp"
#include "lsk/position/rope_llama3.hpp"
#include "lsk/position/rope_longrope.hpp"
#include "lsk/position/rope_table.hpp"
#include "lsk/position/rope_yarn.hpp"

namespace lsk::position {

static_assert(PositionEncoding<default_rope>);
static_assert(PositionEncoding<linear_rope>);
static_assert(PositionEncoding<dynamic_ntk_rope>);
static_assert(PositionEncoding<yarn_rope>);
static_assert(PositionEncoding<long_rope>);
static_assert(PositionEncoding<llama3_rope>);

class rope {
 public:
  using variant = std::variant<default_rope, linear_rope, dynamic_ntk_rope, yarn_rope, long_rope, llama3_rope>;

  // Validates c (config_error naming the key).
  explicit rope(rope_config c) : config_(std::move(c)), impl_(make(config_)) {}

  const rope_config& config() const { return config_; }
  rope_scaling scaling() const { return config_.scaling; }
  const variant& encoding() const { return impl_; }

  index_t head_dim() const { return config_.head_dim; }
  index_t rotary_dim() const { return config_.rotary_dim(); }
  std::vector<double> inv_freq(index_t seq_len = 0) const {
    return std::visit([&](const auto& e) { return e.inv_freq(seq_len); }, impl_);
  }
  double attention_factor() const {
    return std::visit([](const auto& e) { return e.attention_factor(); }, impl_);
  }

 private:
  static variant make(const rope_config& c) {
    switch (c.scaling) {
      case rope_scaling::none:
        return default_rope(c);
      case rope_scaling::linear:
        return linear_rope(c);
      case rope_scaling::dynamic:
        return dynamic_ntk_rope(c);
      case rope_scaling::yarn:
        return yarn_rope(c);
      case rope_scaling::longrope:
        return long_rope(c);
      case rope_scaling::llama3:
        return llama3_rope(c);
    }
    raise<config_error>("rope: unknown scaling type");
  }

  rope_config config_;
  variant impl_;
};

static_assert(PositionEncoding<rope>);

// The frequencies in use across calls, updated as transformers' rotary module does.
class rope_state {
 public:
  explicit rope_state(rope r) : rope_(std::move(r)), original_(rope_.inv_freq(0)), current_(original_) {
    original_length_ = rope_.config().max_position_embeddings;
    cached_length_ = original_length_;
  }

  // The frequencies for a call whose largest position is seq_len - 1.
  const std::vector<double>& update(index_t seq_len) {
    switch (rope_.scaling()) {
      case rope_scaling::dynamic:
        if (seq_len > cached_length_) {  // growth
          current_ = rope_.inv_freq(seq_len);
          cached_length_ = seq_len;
        }
        if (seq_len < original_length_ && cached_length_ > original_length_) {  // reset
          current_ = original_;
          cached_length_ = original_length_;
        }
        break;
      case rope_scaling::longrope:
        current_ = rope_.inv_freq(seq_len);
        break;
      default:
        break;
    }
    return current_;
  }

  const std::vector<double>& inv_freq() const { return current_; }
  double attention_factor() const { return rope_.attention_factor(); }
  // The longest length the current dynamic frequencies were computed for.
  index_t cached_length() const { return cached_length_; }
  const rope& encoding() const { return rope_; }

 private:
  rope rope_;
  std::vector<double> original_, current_;
  index_t original_length_ = 0, cached_length_ = 0;
};

}  // namespace lsk::position

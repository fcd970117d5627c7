// lsk/position/rope_edit.hpp: changing the position encoding of a trained model, one call each.
//
// Each function takes a rope_config (as read from the model's config.json) and
// returns the changed one; save it with save_rope_config (rope_json.hpp) and the
// change is recorded in config.json, readable by transformers. The usual stage-1
// change of the LongSkywork recipe is
//     cfg = with_ntk_scaling(cfg, target_length);   // or with_base(cfg, 500000)
// Tests: tests/unit/test_rope_properties.cpp (and the ntk_aware_* / abf_* golden
// fixtures, which hold the same change made in Python).
#pragma once

#include "lsk/position/rope_default.hpp"

namespace lsk::position {

namespace detail {
inline void require_unscaled(const rope_config& c, std::string_view what) {
  if (c.scaling != rope_scaling::none) {
    raise<config_error>(what, ": the config already uses rope_type '", name(c.scaling),
                        "'; start from an unscaled (rope_type 'default') config");
  }
}
inline double length_ratio(const rope_config& c, index_t target_length, std::string_view what) {
  if (c.max_position_embeddings <= 0) {
    raise<config_error>(what, ": key 'max_position_embeddings' (the trained length) is not set");
  }
  if (target_length < c.max_position_embeddings) {
    raise<config_error>(what, ": target length ", target_length, " is shorter than max_position_embeddings ",
                        c.max_position_embeddings);
  }
  return static_cast<double>(target_length) / static_cast<double>(c.max_position_embeddings);
}
}  // namespace detail

// A new base (ABF: "adjusted base frequency"), any rope_type.
inline rope_config with_base(rope_config c, double new_theta) {
  c.theta = new_theta;
  validate(c);
  return c;
}

// Static NTK-aware scaling from max_position_embeddings to target_length:
// theta' = theta * s^(d / (d - 2)), s = target / max_position_embeddings, d the
// rotary dimension; max_position_embeddings becomes target_length.
inline rope_config with_ntk_scaling(rope_config c, index_t target_length) {
  detail::require_unscaled(c, "with_ntk_scaling");
  const double s = detail::length_ratio(c, target_length, "with_ntk_scaling");
  c.theta = ntk_aware_base(c.theta, s, c.rotary_dim());
  c.max_position_embeddings = target_length;
  validate(c);
  return c;
}

// Position interpolation to target_length (rope_type linear, factor = target / max_position_embeddings).
inline rope_config with_linear_scaling(rope_config c, index_t target_length) {
  detail::require_unscaled(c, "with_linear_scaling");
  c.factor = detail::length_ratio(c, target_length, "with_linear_scaling");
  c.scaling = rope_scaling::linear;
  c.max_position_embeddings = target_length;
  validate(c);
  return c;
}

// Dynamic NTK with the given factor; max_position_embeddings stays the trained
// length the rule scales from.
inline rope_config with_dynamic_ntk(rope_config c, double factor) {
  detail::require_unscaled(c, "with_dynamic_ntk");
  c.scaling = rope_scaling::dynamic;
  c.factor = factor;
  validate(c);
  return c;
}

// YaRN from max_position_embeddings to target_length: original_max_position_embeddings
// = the trained length, factor = target / trained, max_position_embeddings = target.
// Optional parameters keep transformers' defaults.
inline rope_config with_yarn(rope_config c, index_t target_length) {
  detail::require_unscaled(c, "with_yarn");
  c.factor = detail::length_ratio(c, target_length, "with_yarn");
  c.original_max_position_embeddings = c.max_position_embeddings;
  c.scaling = rope_scaling::yarn;
  c.max_position_embeddings = target_length;
  validate(c);
  return c;
}

}  // namespace lsk::position

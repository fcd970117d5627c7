// lsk/concepts/attention_archetypes.hpp: the smallest type that models
// lsk::Attention, and types that are each one requirement short of it (see
// lsk/concepts/archetypes.hpp for the idea). Declared, never defined.
#pragma once

#include "lsk/concepts/attention.hpp"

namespace lsk::archetypes {

#define LSK_ARCHETYPE_ATTENTION_SIZES                                 \
  index_t saved_size(const ::lsk::attention::attention_shape&) const; \
  index_t scratch_size(const ::lsk::attention::attention_shape&) const;

#define LSK_ARCHETYPE_ATTENTION_FORWARD                                                                              \
  template <class B, class T>                                                                                        \
  void forward(B&, const ::lsk::attention::attention_shape&, const ::lsk::attention::attention_mask&, const_view<T>, \
               const_view<T>, const_view<T>, T, tensor_view<T>, tensor_view<T>) const;

#define LSK_ARCHETYPE_ATTENTION_BACKWARD                                                                              \
  template <class B, class T>                                                                                         \
  void backward(B&, const ::lsk::attention::attention_shape&, const ::lsk::attention::attention_mask&, const_view<T>, \
                const_view<T>, const_view<T>, const_view<T>, const_view<T>, const_view<T>, T, tensor_view<T>,         \
                tensor_view<T>, tensor_view<T>, tensor_view<T>) const;

struct attention {
  static constexpr std::string_view name = "archetype";
  LSK_ARCHETYPE_ATTENTION_SIZES
  LSK_ARCHETYPE_ATTENTION_FORWARD
  LSK_ARCHETYPE_ATTENTION_BACKWARD
};

struct attention_without_backward {
  static constexpr std::string_view name = "no backward";
  LSK_ARCHETYPE_ATTENTION_SIZES
  LSK_ARCHETYPE_ATTENTION_FORWARD
};

struct attention_without_name {
  LSK_ARCHETYPE_ATTENTION_SIZES
  LSK_ARCHETYPE_ATTENTION_FORWARD
  LSK_ARCHETYPE_ATTENTION_BACKWARD
};

struct attention_with_mutating_forward {  // forward must be const (requirement 4)
  static constexpr std::string_view name = "mutating";
  LSK_ARCHETYPE_ATTENTION_SIZES
  template <class B, class T>
  void forward(B&, const ::lsk::attention::attention_shape&, const ::lsk::attention::attention_mask&, const_view<T>,
               const_view<T>, const_view<T>, T, tensor_view<T>, tensor_view<T>);
  LSK_ARCHETYPE_ATTENTION_BACKWARD
};

struct attention_without_saved_size {  // the model could not size the saved state
  static constexpr std::string_view name = "unsized";
  index_t scratch_size(const ::lsk::attention::attention_shape&) const;
  LSK_ARCHETYPE_ATTENTION_FORWARD
  LSK_ARCHETYPE_ATTENTION_BACKWARD
};

#undef LSK_ARCHETYPE_ATTENTION_SIZES
#undef LSK_ARCHETYPE_ATTENTION_FORWARD
#undef LSK_ARCHETYPE_ATTENTION_BACKWARD

}  // namespace lsk::archetypes

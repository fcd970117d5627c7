// lsk/attention/kind.hpp: which attention a model uses, as configuration.
//
// naive: lsk::attention::naive_attention, keeps the (heads, len, len)
//        probabilities per layer: memory quadratic in length; the oracle.
// tiled: lsk::attention::tiled_attention, keeps the log-sum-exp per (token,
//        head): memory linear in length; host-memory backends.
#pragma once

#include <string_view>

#include "lsk/core/error.hpp"

namespace lsk::attention {

enum class attention_kind { naive, tiled };

inline std::string_view to_string(attention_kind k) { return k == attention_kind::naive ? "naive" : "tiled"; }

inline attention_kind parse_attention_kind(std::string_view name) {
  if (name == "naive") return attention_kind::naive;
  if (name == "tiled") return attention_kind::tiled;
  raise<config_error>("attention: unknown kind '", name, "' (expected naive or tiled)");
}

}  // namespace lsk::attention

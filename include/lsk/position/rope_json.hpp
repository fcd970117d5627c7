// lsk/position/rope_json.hpp: rope_config from and to a Hugging Face config.json.
//
// Two conventions exist, and both are read and written:
//   rope_scaling     (transformers 4.x) top-level "rope_theta", optional top-level
//                    "partial_rotary_factor", and "rope_scaling": null or
//                    {"rope_type" (or the older "type"), "factor", ...}
//   rope_parameters  (transformers 5.x) "rope_parameters": {"rope_type", "rope_theta",
//                    "partial_rotary_factor", "factor", ...}
// Reading follows transformers 5.23: a non-null rope_scaling wins over
// rope_parameters; rope_theta and partial_rotary_factor are taken from the dict,
// else from the top level (rope_theta defaults to 10000); "rope_type" wins over
// "type" (default "default"); a top-level original_max_position_embeddings wins
// over the dict's (Phi-3); head_dim is "head_dim", else hidden_size /
// num_attention_heads. Keys a type does not use are kept but ignored; unknown
// keys are ignored, as transformers does. Per-layer-type dicts (Gemma-style
// {"full_attention": {...}, "sliding_attention": {...}}) are not supported.
// Bad values throw config_error naming the key ("rope_scaling.factor"); a file
// that is not JSON throws format_error with the byte offset; an unreadable file
// io_error.
// Writing updates the RoPE keys of a config.json object and leaves every other
// key alone; save_rope_config writes the file atomically (lsk/io/atomic_write.hpp),
// in the convention the file already uses unless told otherwise.
// Tests: tests/unit/test_rope_json.cpp; the golden fixtures' configs are read
// with rope_config_from_json in tests/unit/test_rope_golden.cpp.
#pragma once

#include <cmath>
#include <cstddef>
#include <filesystem>
#include <fstream>
#include <optional>
#include <span>
#include <sstream>
#include <string>

#include <nlohmann/json.hpp>

#include "lsk/io/atomic_write.hpp"
#include "lsk/position/rope_config.hpp"

namespace lsk::position {

enum class rope_convention { rope_scaling, rope_parameters };

constexpr std::string_view name(rope_convention c) {
  return c == rope_convention::rope_scaling ? "rope_scaling" : "rope_parameters";
}

namespace detail {
using json = nlohmann::json;

inline const json* find_key(const json& obj, std::string_view key) {
  const auto it = obj.find(std::string(key));
  if (it == obj.end() || it->is_null()) return nullptr;
  return &*it;
}

inline double json_number(const json& v, const std::string& key) {
  if (!v.is_number()) raise<config_error>("config key '", key, "' must be a number, got ", v.dump());
  const double d = v.get<double>();
  if (!std::isfinite(d)) raise<config_error>("config key '", key, "' must be finite, got ", v.dump());
  return d;
}

inline index_t json_integer(const json& v, const std::string& key) {
  const double d = json_number(v, key);
  if (d != std::floor(d) || std::abs(d) > 9.0e15) {
    raise<config_error>("config key '", key, "' must be an integer, got ", v.dump());
  }
  return static_cast<index_t>(d);
}

inline std::optional<double> optional_number(const json* dict, std::string_view key, std::string_view prefix) {
  if (dict == nullptr) return std::nullopt;
  const json* v = find_key(*dict, key);
  if (v == nullptr) return std::nullopt;
  return json_number(*v, std::string(prefix) + std::string(key));
}

inline std::vector<double> number_list(const json* dict, std::string_view key, std::string_view prefix) {
  std::vector<double> out;
  if (dict == nullptr) return out;
  const json* v = find_key(*dict, key);
  if (v == nullptr) return out;
  const std::string where = std::string(prefix) + std::string(key);
  if (!v->is_array()) raise<config_error>("config key '", where, "' must be a list of numbers, got ", v->dump());
  for (std::size_t i = 0; i < v->size(); ++i)
    out.push_back(json_number((*v)[i], where + "[" + std::to_string(i) + "]"));
  return out;
}

// The rope dict and where it came from; null when the config has none.
struct rope_dict {
  const json* dict = nullptr;
  rope_convention convention = rope_convention::rope_parameters;
  std::string prefix;
};

inline rope_dict find_rope_dict(const json& j) {
  if (const json* s = find_key(j, "rope_scaling")) {
    if (!s->is_object()) raise<config_error>("config key 'rope_scaling' must be an object or null, got ", s->dump());
    return {s, rope_convention::rope_scaling, "rope_scaling."};
  }
  if (const json* p = find_key(j, "rope_parameters")) {
    if (!p->is_object()) raise<config_error>("config key 'rope_parameters' must be an object or null, got ", p->dump());
    for (const auto& [k, v] : p->items()) {
      if (v.is_object()) {
        raise<config_error>("config key 'rope_parameters." + k,
                            "': per-layer-type RoPE parameters are not supported (one dict for every layer only)");
      }
    }
    return {p, rope_convention::rope_parameters, "rope_parameters."};
  }
  return {};
}
}  // namespace detail

// The convention a config.json uses (rope_scaling when it has neither dict but a top-level rope_theta).
inline rope_convention rope_convention_of(const nlohmann::json& j) {
  if (!j.is_object()) return rope_convention::rope_parameters;
  const auto d = detail::find_rope_dict(j);
  if (d.dict != nullptr) return d.convention;
  return detail::find_key(j, "rope_theta") != nullptr ? rope_convention::rope_scaling
                                                      : rope_convention::rope_parameters;
}

// The rope_config of a whole config.json object, validated.
inline rope_config rope_config_from_json(const nlohmann::json& j) {
  using detail::find_key;
  using detail::json_integer;
  using detail::json_number;
  if (!j.is_object()) raise<config_error>("config: expected a JSON object, got ", j.type_name());
  const detail::rope_dict rd = detail::find_rope_dict(j);
  const std::string& prefix = rd.prefix;
  rope_config c;

  // rope_type
  if (rd.dict != nullptr) {
    const char* type_key = find_key(*rd.dict, "rope_type") != nullptr ? "rope_type" : "type";
    if (const auto* t = find_key(*rd.dict, type_key)) {
      if (!t->is_string()) raise<config_error>("config key '", prefix, type_key, "' must be a string, got ", t->dump());
      const auto s = rope_scaling_from_name(t->get<std::string>());
      if (!s) {
        raise<config_error>("config key '", prefix, type_key, "': unknown rope_type ", t->dump(),
                            " (lsk knows default, linear, dynamic, yarn, longrope, llama3)");
      }
      c.scaling = *s;
    }
  }
  // rope_theta and partial_rotary_factor: the dict's, else the top level's
  auto dict_or_top = [&](std::string_view key) -> std::pair<const nlohmann::json*, std::string> {
    if (rd.dict != nullptr) {
      if (const auto* v = find_key(*rd.dict, key)) return {v, prefix + std::string(key)};
    }
    return {find_key(j, key), std::string(key)};
  };
  if (auto [v, key] = dict_or_top("rope_theta"); v != nullptr) c.theta = json_number(*v, key);
  if (auto [v, key] = dict_or_top("partial_rotary_factor"); v != nullptr)
    c.partial_rotary_factor = json_number(*v, key);

  // head_dim
  if (const auto* hd = find_key(j, "head_dim"); hd != nullptr && json_integer(*hd, "head_dim") != 0) {
    c.head_dim = json_integer(*hd, "head_dim");
  } else {
    const auto* hidden = find_key(j, "hidden_size");
    const auto* heads = find_key(j, "num_attention_heads");
    if (hidden == nullptr || heads == nullptr) {
      raise<config_error>("config key 'head_dim' is missing (and hidden_size / num_attention_heads cannot give it)");
    }
    const index_t h = json_integer(*hidden, "hidden_size"), n = json_integer(*heads, "num_attention_heads");
    if (h <= 0 || n <= 0) raise<config_error>("config keys 'hidden_size' and 'num_attention_heads' must be > 0");
    c.head_dim = h / n;
  }
  if (const auto* m = find_key(j, "max_position_embeddings")) {
    c.max_position_embeddings = json_integer(*m, "max_position_embeddings");
    if (c.max_position_embeddings <= 0) {
      raise<config_error>("config key 'max_position_embeddings' must be > 0, got ", c.max_position_embeddings);
    }
  }

  // the type's parameters
  const nlohmann::json* d = rd.dict;
  c.factor = detail::optional_number(d, "factor", prefix);
  c.attention_factor = detail::optional_number(d, "attention_factor", prefix);
  c.beta_fast = detail::optional_number(d, "beta_fast", prefix);
  c.beta_slow = detail::optional_number(d, "beta_slow", prefix);
  c.mscale = detail::optional_number(d, "mscale", prefix);
  c.mscale_all_dim = detail::optional_number(d, "mscale_all_dim", prefix);
  c.low_freq_factor = detail::optional_number(d, "low_freq_factor", prefix);
  c.high_freq_factor = detail::optional_number(d, "high_freq_factor", prefix);
  c.short_factor = detail::number_list(d, "short_factor", prefix);
  c.long_factor = detail::number_list(d, "long_factor", prefix);
  if (d != nullptr) {
    if (const auto* t = find_key(*d, "truncate")) {
      if (!t->is_boolean())
        raise<config_error>("config key '", prefix, "truncate' must be true or false, got ", t->dump());
      c.truncate = t->get<bool>();
    }
    if (const auto* o = find_key(*d, "original_max_position_embeddings")) {
      c.original_max_position_embeddings = json_integer(*o, prefix + "original_max_position_embeddings");
    }
  }
  const bool uses_original =
      c.scaling == rope_scaling::yarn || c.scaling == rope_scaling::longrope || c.scaling == rope_scaling::llama3;
  if (const auto* o = find_key(j, "original_max_position_embeddings"); o != nullptr && uses_original) {
    c.original_max_position_embeddings = json_integer(*o, "original_max_position_embeddings");
  }
  validate(c, prefix);
  return c;
}

// Writes c into the config.json object j (other keys untouched) in the given convention.
inline void write_rope_config(const rope_config& c, nlohmann::json& j, rope_convention convention) {
  validate(c);
  if (j.is_null()) j = nlohmann::json::object();
  if (!j.is_object()) raise<config_error>("write_rope_config: expected a JSON object, got ", j.type_name());
  nlohmann::json d = nlohmann::json::object();
  d["rope_type"] = std::string(name(c.scaling));
  if (convention == rope_convention::rope_scaling) d["type"] = std::string(name(c.scaling));
  if (convention == rope_convention::rope_parameters) {
    d["rope_theta"] = c.theta;
    if (c.partial_rotary_factor != 1.0) d["partial_rotary_factor"] = c.partial_rotary_factor;
  }
  auto put = [&](const char* key, const std::optional<double>& v) {
    if (v) d[key] = *v;
  };
  put("factor", c.factor);
  if (c.original_max_position_embeddings) d["original_max_position_embeddings"] = *c.original_max_position_embeddings;
  put("attention_factor", c.attention_factor);
  put("beta_fast", c.beta_fast);
  put("beta_slow", c.beta_slow);
  put("mscale", c.mscale);
  put("mscale_all_dim", c.mscale_all_dim);
  if (c.truncate) d["truncate"] = *c.truncate;
  if (!c.short_factor.empty()) d["short_factor"] = c.short_factor;
  if (!c.long_factor.empty()) d["long_factor"] = c.long_factor;
  put("low_freq_factor", c.low_freq_factor);
  put("high_freq_factor", c.high_freq_factor);

  if (convention == rope_convention::rope_scaling) {
    j["rope_theta"] = c.theta;
    if (c.partial_rotary_factor != 1.0) {
      j["partial_rotary_factor"] = c.partial_rotary_factor;
    } else {
      j.erase("partial_rotary_factor");
    }
    const bool plain = c.scaling == rope_scaling::none && d.size() == 2;
    j["rope_scaling"] = plain ? nlohmann::json(nullptr) : d;
    j.erase("rope_parameters");
  } else {
    j["rope_parameters"] = d;
    j.erase("rope_scaling");
    j.erase("rope_theta");
    j.erase("partial_rotary_factor");
  }
  if (j.contains("original_max_position_embeddings")) {
    if (c.original_max_position_embeddings) {
      j["original_max_position_embeddings"] = *c.original_max_position_embeddings;
    } else {
      j.erase("original_max_position_embeddings");
    }
  }
  if (c.max_position_embeddings > 0) j["max_position_embeddings"] = c.max_position_embeddings;
  const auto* hidden = detail::find_key(j, "hidden_size");
  const auto* heads = detail::find_key(j, "num_attention_heads");
  const bool derivable = hidden != nullptr && heads != nullptr && hidden->is_number_integer() &&
                         heads->is_number_integer() && heads->get<index_t>() > 0 &&
                         hidden->get<index_t>() / heads->get<index_t>() == c.head_dim;
  if (j.contains("head_dim") || !derivable) j["head_dim"] = c.head_dim;
}

// A fresh config.json object holding c.
inline nlohmann::json rope_config_to_json(const rope_config& c,
                                          rope_convention convention = rope_convention::rope_parameters) {
  nlohmann::json j = nlohmann::json::object();
  write_rope_config(c, j, convention);
  return j;
}

// A JSON file's contents; io_error when unreadable, format_error (with the byte offset) when not JSON.
inline nlohmann::json load_json_file(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) raise<io_error>(path.string(), ": cannot open for reading");
  std::ostringstream text;
  text << in.rdbuf();
  if (in.bad()) raise<io_error>(path.string(), ": read failed");
  try {
    return nlohmann::json::parse(text.str());
  } catch (const nlohmann::json::parse_error& e) {
    raise<format_error>(path.string(), ": not valid JSON at byte ", e.byte, ": ", e.what());
  }
}

// The rope_config of a config.json file; errors name the file and the key.
inline rope_config load_rope_config(const std::filesystem::path& path) {
  const nlohmann::json j = load_json_file(path);
  try {
    return rope_config_from_json(j);
  } catch (const config_error& e) {
    raise<config_error>(path.string(), ": ", e.what());
  }
}

// Writes c into the config.json at path (created if absent; other keys kept),
// in `convention`, or else the convention the file already uses.
inline void save_rope_config(const std::filesystem::path& path, const rope_config& c,
                             std::optional<rope_convention> convention = std::nullopt) {
  nlohmann::json j = std::filesystem::exists(path) ? load_json_file(path) : nlohmann::json::object();
  write_rope_config(c, j, convention.value_or(rope_convention_of(j)));
  const std::string text = j.dump(2) + "\n";
  io::atomic_write(path, std::as_bytes(std::span<const char>(text.data(), text.size())));
}

}  // namespace lsk::position

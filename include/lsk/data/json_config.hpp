// lsk/data/json_config.hpp: reading synthesizer configurations from JSON
// (nlohmann-json) with errors that name the key.
//
// Every config struct of lsk/data has a from_json(const json&, where) that
// starts from the struct's defaults, overrides the keys present, rejects keys
// it does not know (a typo must not silently become a default) and checks
// ranges. Every error is an lsk::config_error whose message names the key path,
// e.g. "cip.chunks_per_doc: expected an unsigned integer, got string".
#pragma once

#include <cstdint>
#include <initializer_list>
#include <limits>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include <nlohmann/json.hpp>

#include "lsk/core/error.hpp"

namespace lsk::data::json_config {

using json = nlohmann::json;

inline std::string key_path(std::string_view where, std::string_view key) {
  std::string path(where);
  if (!path.empty()) path += '.';
  path += key;
  return path;
}

inline const char* type_name(const json& j) { return j.type_name(); }

// Throws config_error unless `j` is an object whose keys are all in `known`.
inline void check_keys(const json& j, std::string_view where, std::initializer_list<std::string_view> known) {
  if (!j.is_object()) raise<config_error>(where.empty() ? "config" : where, ": expected an object, got ", type_name(j));
  for (const auto& item : j.items()) {
    bool ok = false;
    for (const auto k : known) ok = ok || item.key() == k;
    if (!ok) {
      std::string list;
      for (const auto k : known) {
        if (!list.empty()) list += ", ";
        list += k;
      }
      raise<config_error>(key_path(where, item.key()), ": unknown key (known: ", list, ")");
    }
  }
}

namespace detail {
template <class T>
T convert(const json& v, const std::string& path) {
  if constexpr (std::is_same_v<T, bool>) {
    if (!v.is_boolean()) raise<config_error>(path, ": expected true or false, got ", type_name(v));
    return v.get<bool>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (!v.is_string()) raise<config_error>(path, ": expected a string, got ", type_name(v));
    return v.get<std::string>();
  } else if constexpr (std::is_floating_point_v<T>) {
    if (!v.is_number()) raise<config_error>(path, ": expected a number, got ", type_name(v));
    return v.get<T>();
  } else if constexpr (std::is_integral_v<T> && std::is_unsigned_v<T>) {
    if (!v.is_number_integer() || (v.is_number_integer() && !v.is_number_unsigned() && v.get<std::int64_t>() < 0)) {
      raise<config_error>(path, ": expected an unsigned integer, got ", v.is_number() ? v.dump() : type_name(v));
    }
    const auto x = v.get<std::uint64_t>();
    if (x > std::numeric_limits<T>::max()) raise<config_error>(path, ": ", x, " is too large");
    return static_cast<T>(x);
  } else if constexpr (std::is_integral_v<T>) {
    if (!v.is_number_integer()) raise<config_error>(path, ": expected an integer, got ", type_name(v));
    const auto x = v.get<std::int64_t>();
    if (x < std::numeric_limits<T>::min() || x > std::numeric_limits<T>::max()) {
      raise<config_error>(path, ": ", x, " is out of range");
    }
    return static_cast<T>(x);
  } else {
    static_assert(sizeof(T) == 0, "json_config: unsupported type");
  }
}
}  // namespace detail

// If `j` has `key`, converts it into `value` (type errors name the key).
template <class T>
void read(const json& j, std::string_view where, std::string_view key, T& value) {
  const auto it = j.find(std::string(key));
  if (it == j.end()) return;
  const std::string path = key_path(where, key);
  if constexpr (requires { typename T::value_type; } && !std::is_same_v<T, std::string>) {
    if (!it->is_array()) raise<config_error>(path, ": expected an array, got ", type_name(*it));
    T out;
    std::size_t i = 0;
    for (const auto& e : *it) {
      std::string element_path = path;
      element_path += '[';
      element_path += std::to_string(i++);
      element_path += ']';
      out.push_back(detail::convert<typename T::value_type>(e, element_path));
    }
    value = std::move(out);
  } else {
    value = detail::convert<T>(*it, path);
  }
}

// Throws config_error naming `where.key` with `message` unless `ok`.
template <class... Parts>
void require(bool ok, std::string_view where, std::string_view key, Parts&&... message) {
  if (!ok) raise<config_error>(key_path(where, key), ": ", std::forward<Parts>(message)...);
}

// The string `value` must be one of `choices`.
inline void require_choice(const std::string& value, std::string_view where, std::string_view key,
                           std::initializer_list<std::string_view> choices) {
  for (const auto c : choices)
    if (value == c) return;
  std::string list;
  for (const auto c : choices) {
    if (!list.empty()) list += ", ";
    list += c;
  }
  raise<config_error>(key_path(where, key), ": '", value, "' is not one of ", list);
}

}  // namespace lsk::data::json_config

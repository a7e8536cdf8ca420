// Typed reads from JSON that someone else wrote (config.json, adapter_config.json, state.json).
// nlohmann's get<int64_t>() static_casts any number, and a float out of the target's range is
// undefined behaviour (the hf_config fuzzer found `"eos_token_id": 2.7e74`): these accept a value
// only when it fits the type exactly, and say which file and key when it does not.
#pragma once
#include <nlohmann/json.hpp>

#include <cmath>
#include <limits>
#include <optional>
#include <string>
#include <type_traits>
#include <vector>

#include "core/error.h"

namespace llamarec {

// nlohmann::json::parse of `input` (a stream, a string or an iterator pair), with a parse error
// reported as "<what>: not valid JSON (damaged near byte N)<hint>" instead of nlohmann's own text.
// A number beyond double's range (2.7e7000) is not a parse_error but an out_of_range thrown
// while parsing (the hf_config fuzzer found it): the same kind of damage, reported the same way.
template <class... Input>
nlohmann::json parse_json(const std::string& what, const std::string& hint, Input&&... input) {
  try {
    return nlohmann::json::parse(std::forward<Input>(input)...);
  } catch (const nlohmann::json::parse_error& e) {
    fail("{}: not valid JSON (damaged near byte {}){}", what, e.byte, hint);
  } catch (const nlohmann::json::out_of_range&) {
    fail("{}: not valid JSON (a number too large for a double){}", what, hint);
  }
}

// The value as T, or nullopt when it is of another kind or out of T's range. Integers accept an
// integral float in range (4096.0), floats any number, bool only true/false.
template <class T>
std::optional<T> json_as(const nlohmann::json& value) {
  if constexpr (std::is_same_v<T, bool>) {
    if (value.is_boolean()) return value.get<bool>();
  } else if constexpr (std::is_integral_v<T>) {
    using Limits = std::numeric_limits<T>;
    if (value.is_number_unsigned()) {
      const auto v = value.get<uint64_t>();
      if (v <= static_cast<uint64_t>(Limits::max())) return static_cast<T>(v);
    } else if (value.is_number_integer()) {
      const auto v = value.get<int64_t>();
      if (v >= 0 ? static_cast<uint64_t>(v) <= static_cast<uint64_t>(Limits::max())
                 : Limits::is_signed && v >= static_cast<int64_t>(Limits::min()))
        return static_cast<T>(v);
    } else if (value.is_number_float()) {
      // 2^63 is exactly representable; comparing against it keeps the cast below defined.
      const double v = value.get<double>();
      const double upper = std::ldexp(1.0, Limits::digits);
      if (std::isfinite(v) && v == std::floor(v) && v >= static_cast<double>(Limits::min()) && v < upper)
        return static_cast<T>(v);
    }
  } else if constexpr (std::is_floating_point_v<T>) {
    if (value.is_number()) return value.get<T>();
  } else if constexpr (std::is_same_v<T, std::string>) {
    if (value.is_string()) return value.get<std::string>();
  } else if constexpr (std::is_same_v<T, std::vector<std::string>>) {
    if (!value.is_array()) return std::nullopt;
    T out;
    for (const auto& item : value) {
      if (!item.is_string()) return std::nullopt;
      out.push_back(item.get<std::string>());
    }
    return out;
  } else {
    static_assert(!sizeof(T), "json_as: unsupported type");
  }
  return std::nullopt;
}

// object[key] as T; fails naming `where` and the key when it is missing or does not fit.
template <class T>
T json_field(const nlohmann::json& object, const char* key, const std::string& where) {
  if (!object.is_object() || !object.contains(key)) fail("{}: key '{}' missing", where, key);
  const auto value = json_as<T>(object[key]);
  if (!value) fail("{}: key '{}' has the wrong type or is out of range ({})", where, key, object[key].dump());
  return *value;
}

// Like json_field, but `fallback` when the key is missing or null.
template <class T>
T json_field_or(const nlohmann::json& object, const char* key, T fallback, const std::string& where) {
  if (!object.is_object() || !object.contains(key) || object[key].is_null()) return fallback;
  return json_field<T>(object, key, where);
}

}  // namespace llamarec

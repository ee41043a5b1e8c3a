// nlohmann::json without its exceptions. Its parse() throws on bad input and
// its value(), at() and get() on a member of another type; the library uses
// these instead, so that a third party's exception never becomes control flow
// (the one catch is xrun_main()'s, runner/xrun_main.cpp).
#pragma once

#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <string_view>
#include <type_traits>

#include "core/expected.h"

namespace xrun {

// The document in `text`, or why it is not JSON in nlohmann's words (the
// what() of the exception its parse() would throw: "[json.exception.
// parse_error.101] parse error at line 1, column 1: ...", or out_of_range 406
// for a number such as 1e999), as an Error of `code`. The SAX parser hands
// the error to its handler, which keeps it instead of throwing.
namespace json_detail {

// nlohmann's DOM builder, keeping a parse error's message instead of throwing.
struct KeepsError : nlohmann::detail::json_sax_dom_parser<nlohmann::json> {
  using nlohmann::detail::json_sax_dom_parser<nlohmann::json>::json_sax_dom_parser;
  template <class Exception>
  bool parse_error(std::size_t, const std::string&, const Exception& error) {
    message = error.what();
    return false;
  }
  std::string message;
};

}  // namespace json_detail

inline Expected<nlohmann::json> parse_json(std::string_view text, ExitCode code) {
  using json = nlohmann::json;
  json document;
  json_detail::KeepsError handler(document, /*allow_exceptions=*/false);
  if (!json::sax_parse(text, &handler) || !handler.message.empty())
    return make_error(code, handler.message.empty() ? "not JSON" : handler.message);
  return document;
}

// A member of an object, or null when `object` is not an object or has none.
inline const nlohmann::json* json_member(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object()) return nullptr;
  const auto it = object.find(key);
  return it == object.end() ? nullptr : &*it;
}

// The member `key` of `object`: nlohmann's at(key) with its exceptions as
// errors (type error 304 when `object` is not an object, out_of_range 403
// when it has no such member).
inline Expected<const nlohmann::json*> json_at(const nlohmann::json& object, std::string_view key) {
  if (!object.is_object())
    return make_error(ExitCode::Usage,
                      std::string("[json.exception.type_error.304] cannot use at() with ") + object.type_name());
  const nlohmann::json* member = json_member(object, key);
  if (!member)
    return make_error(ExitCode::Usage, "[json.exception.out_of_range.403] key '" + std::string(key) + "' not found");
  return member;
}

// `value` as a T (std::string, bool, double, std::uint64_t), or nlohmann's
// message for the type error its get<T>() would throw ("[json.exception.
// type_error.302] type must be string, but is number").
template <class T>
Expected<T> json_get(const nlohmann::json& value) {
  const auto wrong = [&](const char* wanted) {
    return make_error(ExitCode::Usage, std::string("[json.exception.type_error.302] type must be ") + wanted +
                                           ", but is " + value.type_name());
  };
  if constexpr (std::is_same_v<T, std::string>) {
    if (!value.is_string()) return wrong("string");
  } else if constexpr (std::is_same_v<T, bool>) {
    if (!value.is_boolean()) return wrong("boolean");
  } else {
    static_assert(std::is_arithmetic_v<T>);
    if (!value.is_number()) return wrong("number");
  }
  return value.get<T>();
}

// The member `key` of `object` as a T, `fallback` when it has none: what
// nlohmann's value(key, fallback) returns, its exceptions as errors (type
// error 306 when `object` is not an object, 302 for a member of another type).
template <class T>
Expected<T> json_value(const nlohmann::json& object, std::string_view key, T fallback) {
  if (!object.is_object())
    return make_error(ExitCode::Usage,
                      std::string("[json.exception.type_error.306] cannot use value() with ") + object.type_name());
  const nlohmann::json* member = json_member(object, key);
  if (!member) return fallback;
  return json_get<T>(*member);
}

}  // namespace xrun

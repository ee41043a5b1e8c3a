// Expected<T>: a value or an Error, for code low in the stack that must not
// throw past its caller (ccache's tl::expected habit). Exceptions are caught
// once, in xrun_main(); everything below reports failure through this type.
#pragma once

#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "core/exit_code.h"

namespace xrun {

// A failure a user can act on. `message` is the text after "xrun: error: ",
// already saying which file or value is wrong and, when possible, what to do.
struct Error {
  ExitCode code = ExitCode::CannotExecute;
  std::string message;
};

// `E`: an Error, unless a caller needs more than a message to report it
// (the config loader's problems carry their place in the file).
template <class T, class E = Error>
class Expected {
 public:
  Expected(T value) : state_(std::move(value)) {}  // NOLINT: implicit by design
  Expected(E error) : state_(std::move(error)) {}  // NOLINT

  bool has_value() const { return std::holds_alternative<T>(state_); }
  explicit operator bool() const { return has_value(); }

  T& value() & { return std::get<T>(state_); }
  const T& value() const& { return std::get<T>(state_); }
  T&& value() && { return std::get<T>(std::move(state_)); }
  T& operator*() & { return value(); }
  const T& operator*() const& { return value(); }
  T* operator->() { return &value(); }
  const T* operator->() const { return &value(); }

  const E& error() const { return std::get<E>(state_); }

 private:
  std::variant<T, E> state_;
};

// Success that carries nothing, or an Error: `return {};` (or `success()`)
// for success, `return error;` for failure. What `Expected<bool>` stood in
// for, without a bool that meant nothing.
template <class E>
class Expected<void, E> {
 public:
  Expected() = default;
  Expected(E error) : error_(std::move(error)) {}  // NOLINT: implicit by design

  bool has_value() const { return !error_.has_value(); }
  explicit operator bool() const { return has_value(); }
  void value() const {}

  const E& error() const { return *error_; }

 private:
  std::optional<E> error_;
};

inline Expected<void> success() { return {}; }

inline Error make_error(ExitCode code, std::string message) { return Error{code, std::move(message)}; }

}  // namespace xrun

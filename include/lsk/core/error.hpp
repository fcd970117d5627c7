// lsk/core/error.hpp: the typed exceptions of lsk.
//
// Every failure caused by input (a shape, a file, a config key, a token id, a
// number) is reported with an exception derived from lsk::error whose message
// says what was wrong and where. Catch lsk::error to catch them all.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>
#include <utility>

namespace lsk {

class error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

// A tensor had the wrong rank, extent, stride or dtype for an operation.
class shape_error : public error {
 public:
  using error::error;
};
// An index (token id, target class, position) was outside its valid range.
class index_error : public error {
 public:
  using error::error;
};
// A configuration value was missing, malformed or out of range.
class config_error : public error {
 public:
  using error::error;
};
// A file could not be read or written.
class io_error : public error {
 public:
  using error::error;
};
// A file or stream was readable but its contents were malformed (bad magic,
// truncated, invalid UTF-8); the message names the file and byte offset.
class format_error : public error {
 public:
  using error::error;
};
// Text was not valid in its encoding (invalid UTF-8); the message names the
// byte offset. A format_error, so catching format_error catches it too.
class encoding_error : public format_error {
 public:
  using format_error::format_error;
};
// A value became NaN or infinite where a finite number is required.
class numeric_error : public error {
 public:
  using error::error;
};
// A backend was asked for an operation or dtype it does not implement.
class unsupported_error : public error {
 public:
  using error::error;
};

namespace detail {
template <class... Parts>
std::string concat(Parts&&... parts) {
  std::ostringstream out;
  (out << ... << std::forward<Parts>(parts));
  return out.str();
}
}  // namespace detail

// Throws E with the streamed concatenation of parts, e.g.
//   lsk::raise<lsk::shape_error>("rmsnorm: x has ", x.dim(1), " columns, weight ", w.size());
template <class E, class... Parts>
[[noreturn]] void raise(Parts&&... parts) {
  throw E(detail::concat(std::forward<Parts>(parts)...));
}

}  // namespace lsk

// The one exception family of eigenflow. Every error the library raises
// derives from eigenflow::Error, so callers can catch it in one place and
// still tell the kinds apart.
#pragma once

#include <sstream>
#include <stdexcept>
#include <string>

#include "eigenflow/core/types.hpp"

namespace eigenflow {

/// Base of every exception eigenflow throws.
class Error : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

/// Operands whose shapes do not fit together.
class ShapeError : public Error {
 public:
  using Error::Error;
};

/// An argument or hyper-parameter outside its valid range (D = 0, a mask of
/// all ones, a non-positive slope, NaN in data, ...).
class ValueError : public Error {
 public:
  using Error::Error;
};

/// A numerical procedure that did not converge or produced a non-finite value.
class NumericalError : public Error {
 public:
  using Error::Error;
};

/// A malformed file: model JSON, CSV.
class FormatError : public Error {
 public:
  using Error::Error;
};

/// Reading or writing a file failed.
class IoError : public Error {
 public:
  using Error::Error;
};

namespace detail {

inline std::string shape_string(Index rows, Index cols) {
  std::ostringstream out;
  out << rows << "x" << cols;
  return out.str();
}

template <class A, class B>
[[noreturn]] void throw_shape_mismatch(const char* where, const A& a, const B& b) {
  throw ShapeError(std::string(where) + ": incompatible shapes " +
                   shape_string(a.rows(), a.cols()) + " and " +
                   shape_string(b.rows(), b.cols()));
}

}  // namespace detail
}  // namespace eigenflow

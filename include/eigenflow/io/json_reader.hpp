// Reading JSON with a path: every accessor knows where it is in the document
// (a JSON pointer such as /layers/3/s_net/layers/0/weight/2), so the first
// problem found is reported with its exact place.
#pragma once

#include <cmath>
#include <string>
#include <utility>

#include <nlohmann/json.hpp>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow::detail {

class JsonReader {
 public:
  JsonReader(const nlohmann::json& node, std::string path) : node_(&node), path_(std::move(path)) {}

  const nlohmann::json& node() const { return *node_; }
  const std::string& path() const { return path_; }
  std::string where() const { return path_.empty() ? "/" : path_; }

  [[noreturn]] void fail(const std::string& message) const { throw FormatError("model file: " + where() + ": " + message); }

  bool has(const char* key) const { return node_->is_object() && node_->contains(key); }

  JsonReader field(const char* key) const {
    if (!node_->is_object()) fail("expected an object");
    const auto it = node_->find(key);
    if (it == node_->end()) fail(std::string("missing field \"") + key + "\"");
    return {*it, path_ + "/" + key};
  }

  JsonReader at(std::size_t index) const { return {node_->at(index), path_ + "/" + std::to_string(index)}; }

  std::size_t array_size() const {
    if (!node_->is_array()) fail(std::string("expected an array, found ") + node_->type_name());
    return node_->size();
  }

  std::string string() const {
    if (!node_->is_string()) fail(std::string("expected a string, found ") + node_->type_name());
    return node_->get<std::string>();
  }

  double number() const {
    if (!node_->is_number()) fail(std::string("expected a number, found ") + node_->type_name());
    const double value = node_->get<double>();
    if (!std::isfinite(value)) fail("expected a finite number");
    return value;
  }

  bool boolean() const {
    if (!node_->is_boolean()) fail(std::string("expected true or false, found ") + node_->type_name());
    return node_->get<bool>();
  }

  long long integer() const {
    if (!node_->is_number_integer()) fail(std::string("expected an integer, found ") + node_->type_name());
    return node_->get<long long>();
  }

  /// A 1 x expected row of numbers (expected < 0: any length > 0).
  template <class S>
  RowVector<S> row_vector(Index expected) const {
    const std::size_t size = array_size();
    if (expected >= 0 && size != static_cast<std::size_t>(expected))
      fail("expected " + std::to_string(expected) + " numbers, found " + std::to_string(size));
    if (size == 0) fail("expected a non-empty array");
    RowVector<S> out(static_cast<Index>(size));
    for (std::size_t j = 0; j < size; ++j) out(static_cast<Index>(j)) = static_cast<S>(at(j).number());
    return out;
  }
  /// The same, every entry also passing valid(entry); the first that does not is refused
  /// at its own path ("/…/scale/1") with `message`.
  template <class S, class Valid>
  RowVector<S> row_vector(Index expected, const Valid& valid, const char* message) const {
    RowVector<S> out = row_vector<S>(expected);
    for (Index j = 0; j < out.cols(); ++j)
      if (!valid(out(j))) at(static_cast<std::size_t>(j)).fail(message);
    return out;
  }

  /// A matrix given as an array of equal-length rows.
  template <class S>
  Matrix<S> matrix() const {
    const std::size_t rows = array_size();
    if (rows == 0) fail("expected a non-empty array of rows");
    const std::size_t cols = at(0).array_size();
    Matrix<S> out(static_cast<Index>(rows), static_cast<Index>(cols));
    for (std::size_t i = 0; i < rows; ++i) out.row(static_cast<Index>(i)) = at(i).row_vector<S>(static_cast<Index>(cols));
    return out;
  }

 private:
  const nlohmann::json* node_;
  std::string path_;
};

}  // namespace eigenflow::detail

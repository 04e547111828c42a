// Row shuffling and row selection for data matrices.
#pragma once

#include <numeric>
#include <vector>

#include "eigenflow/core/random.hpp"

namespace eigenflow {

/// A uniformly random order of 0..n-1.
inline std::vector<Index> random_order(Index n, Random& rng) {
  std::vector<Index> order(static_cast<std::size_t>(n));
  std::iota(order.begin(), order.end(), Index(0));
  rng.shuffle(order.begin(), order.end());
  return order;
}

/// The rows order[first], …, order[first + count − 1] of x.
template <class S>
Matrix<S> select_rows(const Matrix<S>& x, const std::vector<Index>& order, std::size_t first, std::size_t count) {
  Matrix<S> out(static_cast<Index>(count), x.cols());
  for (std::size_t i = 0; i < count; ++i) out.row(static_cast<Index>(i)) = x.row(order[first + i]);
  return out;
}

/// Shuffles the rows of x in place.
template <class S>
void shuffle_rows(Matrix<S>& x, Random& rng) {
  x = select_rows(x, random_order(x.rows(), rng), 0, static_cast<std::size_t>(x.rows()));
}

}  // namespace eigenflow

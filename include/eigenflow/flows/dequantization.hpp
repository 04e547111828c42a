// Uniform dequantisation of integer-valued columns (Uria et al. 2013; Theis
// et al. 2016, "A note on the evaluation of generative models", section 3.1).
// A continuous density p is fitted to x + u, u ~ U[0, 1) on the integer
// columns; it defines a probability mass on the integers,
//   P(x) = ∫_{[0,1)^k} p(x + u) du,
// and bounds it from below:
//   log P(x) ≥ E_u log p(x + u)                          (Jensen; one draw per point)
//   log P(x) ≥ E log (1/K) Σ_k p(x + u_k)                 (K draws, Burda et al. 2016; → log P as K → ∞)
// Sampling P is exact: floor the integer columns of a sample of p.
// Bits per dimension, the unit of the dequantisation literature: NLL / (D·ln 2).
#pragma once

#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/matrix_ops.hpp"
#include "eigenflow/core/random.hpp"

namespace eigenflow {

/// Refuses a column list that is not strictly increasing within [0, dim).
inline void validate_dequantized_columns(const std::string& where, const std::vector<Index>& columns, Index dim) {
  for (std::size_t k = 0; k < columns.size(); ++k) {
    if (columns[k] < 0 || columns[k] >= dim)
      throw ValueError(where + ": dequantized column " + std::to_string(columns[k]) + " is outside [0, " + std::to_string(dim) + ")");
    if (k > 0 && columns[k] <= columns[k - 1])
      throw ValueError(where + ": dequantized columns must be strictly increasing, found " + std::to_string(columns[k - 1]) +
                       " then " + std::to_string(columns[k]));
  }
}

/// Refuses a non-integer value in any of the columns, naming its row (counted from
/// first_row: x may be a block of a larger data set) and column.
template <class Derived>
void require_integer_columns(const std::string& where, const Eigen::MatrixBase<Derived>& x, const std::vector<Index>& columns,
                             Index first_row = 0) {
  for (const Index j : columns)
    for (Index i = 0; i < x.rows(); ++i) {
      const double v = static_cast<double>(x(i, j));
      if (!(std::floor(v) == v))
        throw ValueError(where + ": row " + std::to_string(first_row + i) + ", column " + std::to_string(j) + " is " + std::to_string(v) +
                         ", not an integer (a dequantized column holds integer values)");
    }
}

/// x + u, u ~ U[0, 1) on the given columns, in place.
template <class S>
void add_uniform_noise(Matrix<S>& x, const std::vector<Index>& columns, Random& rng) {
  for (const Index j : columns)
    for (Index i = 0; i < x.rows(); ++i) x(i, j) += static_cast<S>(rng.uniform());
}

/// A sample of P from a sample of p: the integer columns floored.
template <class S>
Matrix<S> quantize(Matrix<S> x, const std::vector<Index>& columns) {
  for (const Index j : columns) x.col(j) = x.col(j).array().floor().matrix();
  return x;
}

/// log (1/K) Σ_k p(x + u_k) per row with K = draws: an estimate of log P(x) from below,
/// unbiased for it in the limit of many draws. x must be integer on the columns.
template <class Flow, class S>
ColumnVector<double> dequantized_log_prob(const Flow& flow, const Matrix<S>& x, const std::vector<Index>& columns, Index draws,
                                          Random& rng) {
  if (draws < 1) throw ValueError("dequantized_log_prob: draws must be at least 1, found " + std::to_string(draws));
  validate_dequantized_columns("dequantized_log_prob", columns, x.cols());
  require_integer_columns("dequantized_log_prob", x, columns);
  Matrix<double> log_p(x.rows(), draws);
  for (Index k = 0; k < draws; ++k) {
    Matrix<S> noisy = x;
    add_uniform_noise(noisy, columns, rng);
    log_p.col(k) = flow.log_prob(noisy).template cast<double>();
  }
  return (row_logsumexp(log_p).array() - std::log(static_cast<double>(draws))).matrix();
}

/// NLL in nats per point → bits per dimension.
inline double bits_per_dim(double nll, Index dim) { return nll / (static_cast<double>(dim) * std::log(2.0)); }

}  // namespace eigenflow

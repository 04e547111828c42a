// Invertible linear maps: Glow's invertible 1×1 convolution (Kingma &
// Dhariwal 2018, section 3.2) for vectors, where it is a D×D matrix W.
//
// LuLinear, the LU parameterisation (Glow, eq. 10):
//   W = P·L·(U + diag(sign·exp(log|s|)))   P a fixed permutation, L unit
//                                           lower-triangular, U strictly upper
//   forward  z = W·x                        log|det ∂z/∂x| = Σ_j log|s_j|
//   inverse  x = W⁻¹·z = U′⁻¹·L⁻¹·Pᵀ·z      two triangular solves, O(D²) a point
// with (P·v)_i = v_perm[i], U′ = U + diag(sign·exp(log|s|)). W is invertible
// for every finite parameter value. Initialised from a random rotation
// (P, L, U′ of its LU factorisation, so W starts orthogonal: log-det 0).
//
// DenseLinear, W itself (for comparison in tests, and for small D):
//   forward  z = W·x                        log|det| = log|det W| (LU, O(D³) a batch)
//   inverse  x = W⁻¹·z                      by the LU solve, never by forming W⁻¹
// A singular W is refused (construction, model files) or, reached in
// training, stops it with a NumericalError.
#pragma once

#include <cmath>
#include <limits>
#include <string>
#include <utility>
#include <vector>

#include <Eigen/LU>

#include "eigenflow/autodiff/solve_ops.hpp"
#include "eigenflow/core/compiled.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/distributions/full_covariance_gaussian.hpp"
#include "eigenflow/flows/layer.hpp"
#include "eigenflow/flows/permutation.hpp"

namespace eigenflow {

namespace detail {
/// A Haar-distributed random rotation of R^dim: Q of a Gaussian matrix's QR, signs fixed by R's diagonal.
Matrix<double> random_rotation(Index dim, Random& rng);

/// LuLinear::factorize's factors of W, in double: P·W = L·U by partial pivoting (Eigen),
/// perm the rows of P_ours = Pᵀ, `factors` Eigen's packed LU (L's strict lower part, U on
/// and above the diagonal), U's diagonal = sign·exp(log|s|). A singular or non-finite W is refused.
struct LuFactors {
  std::vector<Index> perm;
  Matrix<double> factors;
  RowVector<double> sign, log_abs_s;
};
LuFactors lu_factors(const Matrix<double>& w);

/// Σ^(−1/2) of a symmetric positive definite Σ, by its eigendecomposition; refuses a singular one.
Matrix<double> inverse_square_root(const Matrix<double>& covariance);
}  // namespace detail

template <class S>
class LuLinear : public LayerBase<LuLinear<S>, S> {
 public:
  /// From its factors: perm (a permutation of 0..D−1), lower (strictly lower
  /// part used), upper (strictly upper part used), sign (±1) and log|s|.
  LuLinear(std::vector<Index> perm, const Matrix<S>& lower, const Matrix<S>& upper, const RowVector<S>& sign,
           const RowVector<S>& log_abs_s)
      : perm_(std::move(perm)), inverse_perm_(detail::inverse_permutation(perm_, "LuLinear")), sign_(sign) {
    const Index d = static_cast<Index>(perm_.size());
    if (lower.rows() != d || lower.cols() != d || upper.rows() != d || upper.cols() != d || sign.cols() != d ||
        log_abs_s.cols() != d)
      throw ShapeError("LuLinear: lower and upper must be " + std::to_string(d) + "x" + std::to_string(d) +
                       ", sign and log_abs_s 1x" + std::to_string(d));
    if (!lower.allFinite() || !upper.allFinite() || !log_abs_s.allFinite())
      throw ValueError("LuLinear: lower, upper and log_abs_s must be finite (W is then invertible)");
    for (Index j = 0; j < d; ++j)
      if (sign(j) != S(1) && sign(j) != S(-1))
        throw ValueError("LuLinear: sign entries must be 1 or -1, found " + std::to_string(double(sign(j))) + " at " +
                         std::to_string(j));
    strict_lower_ = Matrix<S>::Zero(d, d);
    strict_upper_ = Matrix<S>::Zero(d, d);
    for (Index i = 0; i < d; ++i)
      for (Index j = 0; j < d; ++j) (i > j ? strict_lower_ : strict_upper_)(i, j) = S(i != j ? 1 : 0);
    lower_ = Parameter<S>("lu_linear.lower", lower.cwiseProduct(strict_lower_));
    upper_ = Parameter<S>("lu_linear.upper", upper.cwiseProduct(strict_upper_));
    log_abs_s_ = Parameter<S>("lu_linear.log_abs_s", log_abs_s);
  }

  /// W a random rotation, factorised (so it starts orthogonal: log-det 0).
  static LuLinear random(Index dim, Random& rng) {
    detail::require_positive_dim("LuLinear::random", dim);
    return factorize(detail::random_rotation(dim, rng));
  }

  /// The layer whose W is the given invertible matrix: P·W = L·U with partial pivoting
  /// (Eigen), so P_ours = Pᵀ. A singular or non-finite W is refused.
  static LuLinear factorize(const Matrix<double>& w) {
    detail::LuFactors lu = detail::lu_factors(w);
    const Matrix<S> factors = lu.factors.cast<S>();  // L below the diagonal, U above it
    return LuLinear(std::move(lu.perm), factors, factors, lu.sign.cast<S>(), lu.log_abs_s.cast<S>());
  }

  Index dim() const override { return static_cast<Index>(perm_.size()); }
  std::string type() const override { return "lu_linear"; }
  const std::vector<Index>& perm() const { return perm_; }
  const Matrix<S>& lower() const { return lower_.value; }
  const Matrix<S>& upper() const { return upper_.value; }
  const RowVector<S>& sign() const { return sign_; }
  const Matrix<S>& log_abs_s() const { return log_abs_s_.value; }
  ParameterList<S> parameters() override { return {&lower_, &upper_, &log_abs_s_}; }

  /// W = P·L·U′ as a dense matrix (tests, inspection).
  Matrix<S> weight() const {
    PlainContext<S> context;
    const Matrix<S> lu = unit_lower(context) * upper_with_diagonal(context);
    Matrix<S> w(dim(), dim());
    for (Index i = 0; i < dim(); ++i) w.row(i) = lu.row(perm_[static_cast<std::size_t>(i)]);
    return w;
  }

  // z = x·U′ᵀ·Lᵀ with columns taken by perm (rows are points: z_row = (P·L·U′·x)ᵀ).
  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    auto z = gather_columns(matmul(matmul(x, transpose(upper_with_diagonal(context))), transpose(unit_lower(context))), perm_);
    return {std::move(z), add(detail::zero_log_det(context, x), sum(context.param(log_abs_s_)))};
  }
  // x = (z with columns by perm⁻¹)·L⁻ᵀ·U′⁻ᵀ, each by a triangular solve.
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    const auto y = gather_columns(z, inverse_perm_);
    auto x = solve_transposed(solve_transposed(y, unit_lower(context), SolveStructure::unit_lower),
                              upper_with_diagonal(context), SolveStructure::upper);
    return {std::move(x), add(detail::zero_log_det(context, z), scale(sum(context.param(log_abs_s_)), S(-1)))};
  }

 private:
  template <class C>
  typename C::Value unit_lower(C& context) const {
    return add(mask_multiply(context.param(lower_), strict_lower_), context.constant(Matrix<S>::Identity(dim(), dim())));
  }
  // U + diag(sign·exp(log|s|)): the identity times a broadcast row puts the row on the diagonal.
  template <class C>
  typename C::Value upper_with_diagonal(C& context) const {
    const auto diagonal = mul(context.constant(Matrix<S>::Identity(dim(), dim())),
                              mul(context.constant(Matrix<S>(sign_)), exp(context.param(log_abs_s_))));
    return add(mask_multiply(context.param(upper_), strict_upper_), diagonal);
  }

  std::vector<Index> perm_;
  std::vector<Index> inverse_perm_;
  RowVector<S> sign_;
  Matrix<S> strict_lower_, strict_upper_;  // 0/1 masks of the parameters' used entries
  Parameter<S> lower_;
  Parameter<S> upper_;
  Parameter<S> log_abs_s_;
};

template <class S>
class DenseLinear : public LayerBase<DenseLinear<S>, S> {
 public:
  explicit DenseLinear(const Matrix<S>& weight) {
    if (weight.rows() != weight.cols()) throw ShapeError("DenseLinear: W must be square, found " + detail::shape_string(weight.rows(), weight.cols()));
    detail::require_positive_dim("DenseLinear", weight.rows());
    if (!weight.allFinite()) throw ValueError("DenseLinear: W has a NaN or infinite entry");
    // Numerically singular: LU's smallest pivot within D·ε of its largest.
    const Matrix<S> pivots = Eigen::PartialPivLU<Matrix<S>>(weight).matrixLU().diagonal().cwiseAbs();
    if (!(pivots.minCoeff() > S(weight.rows()) * std::numeric_limits<S>::epsilon() * pivots.maxCoeff()))
      throw ValueError("DenseLinear: W is singular (smallest LU pivot " + std::to_string(double(pivots.minCoeff())) +
                       ", largest " + std::to_string(double(pivots.maxCoeff())) + ")");
    weight_ = Parameter<S>("dense_linear.weight", weight);
  }
  static DenseLinear random(Index dim, Random& rng) { return DenseLinear(detail::random_rotation(dim, rng).cast<S>()); }

  Index dim() const override { return weight_.value.rows(); }
  std::string type() const override { return "dense_linear"; }
  const Matrix<S>& weight() const { return weight_.value; }
  ParameterList<S> parameters() override { return {&weight_}; }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    const auto weight = context.param(weight_);
    return {matmul(x, transpose(weight)), add(detail::zero_log_det(context, x), log_abs_det(weight))};
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    const auto weight = context.param(weight_);
    return {solve_transposed(z, weight, SolveStructure::general),
            add(detail::zero_log_det(context, z), scale(log_abs_det(weight), S(-1)))};
  }

 private:
  Parameter<S> weight_;
};

/// The LU layer whose W = Σ^(−1/2) whitens the rows (ZCA, Σ their maximum-likelihood
/// covariance about their mean): of all whitening maps the one closest to the identity,
/// so coordinates keep their axes as far as decorrelating allows. Behind a shift to the
/// rows' mean and in front of a standard normal, it makes the full-covariance Gaussian
/// of the rows: log N(x; μ, Σ) = log N(W(x − μ); 0, I) + log|det W|.
template <class S>
LuLinear<S> zca_whitening_of_covariance(const Matrix<double>& covariance);

template <class S>
LuLinear<S> zca_whitening(const Matrix<double>& rows) {
  // the fit refuses non-finite rows, too few of them and a singular covariance
  return zca_whitening_of_covariance<S>(FullCovarianceGaussian::fit(rows).covariance());
}

/// The same map from the rows' covariance Σ itself (pooled over ranks, say: pooled_covariance).
template <class S>
LuLinear<S> zca_whitening_of_covariance(const Matrix<double>& covariance) {
  return LuLinear<S>::factorize(detail::inverse_square_root(covariance));
}

}  // namespace eigenflow

#ifndef EIGENFLOW_PREBUILT
#include "eigenflow/flows/linear/lu_linear_impl.hpp"
#endif

// Elementwise rational-quadratic spline: one monotone spline per coordinate
// with parameters of its own, unconditioned (flows/spline/rational_quadratic.hpp).
//   forward  z_j = RQS(x_j; θ_j)      inverse  x_j = RQS⁻¹(z_j; θ_j)
//   log|det ∂z/∂x| = Σ_j log RQS′(x_j; θ_j)
// θ is one row of (3K−1)·D numbers, parameter-major like a coupling's network
// output (column p·D + j is parameter p of coordinate j); θ = 0 is the identity.
// It is what couplings cannot be: a flow on a single coordinate, and the right
// tool for independent non-Gaussian marginals (a subspace flow of k = 1 uses it).
#pragma once

#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"
#include "eigenflow/flows/spline/rational_quadratic.hpp"

namespace eigenflow {

template <class S>
class ElementwiseSpline : public LayerBase<ElementwiseSpline<S>, S> {
 public:
  /// The identity map of dimension dim (θ = 0).
  explicit ElementwiseSpline(Index dim, SplineShape shape = {})
      : ElementwiseSpline(RowVector<S>::Zero(checked_width(dim, shape)), shape) {}
  /// From θ, a row of (3K−1)·D numbers.
  ElementwiseSpline(const RowVector<S>& theta, SplineShape shape) : shape_(shape) {
    shape_.validate("ElementwiseSpline");
    const Index per_dim = shape_.params_per_dim();
    if (theta.cols() == 0 || theta.cols() % per_dim != 0)
      throw ShapeError("ElementwiseSpline: theta must hold a positive multiple of 3K - 1 = " + std::to_string(per_dim) +
                       " numbers, found " + std::to_string(theta.cols()));
    if (!theta.allFinite()) throw ValueError("ElementwiseSpline: theta has a NaN or infinite entry");
    dim_ = theta.cols() / per_dim;
    theta_ = Parameter<S>("elementwise_spline.theta", theta);
    active_ = Matrix<S>::Ones(1, dim_);
  }

  Index dim() const override { return dim_; }
  std::string type() const override { return "elementwise_spline"; }
  const SplineShape& shape() const { return shape_; }
  const Matrix<S>& theta() const { return theta_.value; }
  ParameterList<S> parameters() override { return {&theta_}; }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    return rational_quadratic_spline(x, rows_of_theta(context, x), active_, shape_, false);
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    return rational_quadratic_spline(z, rows_of_theta(context, z), active_, shape_, true);
  }

 private:
  static Index checked_width(Index dim, const SplineShape& shape) {
    detail::require_positive_dim("ElementwiseSpline", dim);
    shape.validate("ElementwiseSpline");
    return dim * shape.params_per_dim();
  }
  // θ repeated for every row of v (the spline op takes one parameter row per point).
  template <class C>
  typename C::Value rows_of_theta(C& context, const typename C::Value& v) const {
    return add(context.constant(Matrix<S>::Zero(value_of(v).rows(), 1)), context.param(theta_));
  }

  Index dim_ = 0;
  SplineShape shape_;
  Parameter<S> theta_;
  Matrix<S> active_;
};

}  // namespace eigenflow

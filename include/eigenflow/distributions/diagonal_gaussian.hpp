// Diagonal Gaussian base with learnable mean μ and log standard deviation:
//   log N(z; μ, diag σ²) = −½‖(z − μ)/σ‖² − Σ log σ − (D/2)·log 2π
#pragma once

#include "eigenflow/core/checks.hpp"
#include "eigenflow/distributions/base_distribution.hpp"

namespace eigenflow {

template <class S>
class DiagonalGaussian : public BaseDistribution<S> {
 public:
  using BaseDistribution<S>::log_prob;  // and the context forms, which ignore c
  using BaseDistribution<S>::sample;
  /// Starts at N(0, I).
  explicit DiagonalGaussian(Index dim)
      : DiagonalGaussian(RowVector<S>::Zero(dim), RowVector<S>::Zero(dim)) {}

  DiagonalGaussian(const RowVector<S>& mean, const RowVector<S>& log_std)
      : mean_("base.mean", mean), log_std_("base.log_std", log_std) {
    detail::require_positive_dim("DiagonalGaussian", mean.cols());
    if (log_std.cols() != mean.cols())
      throw ShapeError("DiagonalGaussian: mean and log_std must have the same size, found " +
                       std::to_string(mean.cols()) + " and " + std::to_string(log_std.cols()));
    detail::require_finite("DiagonalGaussian (mean)", mean);
    detail::require_finite("DiagonalGaussian (log_std)", log_std);
  }

  Index dim() const override { return mean_.value.cols(); }
  std::string type() const override { return "diagonal_normal"; }
  const Matrix<S>& mean() const { return mean_.value; }
  const Matrix<S>& log_std() const { return log_std_.value; }

  ColumnVector<S> log_prob(const Matrix<S>& z) const override {
    detail::require_columns("DiagonalGaussian.log_prob", z, dim());
    PlainContext<S> context;
    return log_prob_math(context, z);
  }
  Var<S> log_prob(Tape<S>& tape, const Var<S>& z) override {
    detail::require_columns("DiagonalGaussian.log_prob", z.value(), dim());
    TapeContext<S> context{tape};
    return log_prob_math(context, z);
  }
  Matrix<S> sample(Index n, Random& rng) const override {
    Matrix<S> z = rng.normal_matrix<S>(n, dim());
    z.array().rowwise() *= log_std_.value.row(0).array().exp();
    z.rowwise() += mean_.value.row(0);
    return z;
  }
  ParameterList<S> parameters() override { return {&mean_, &log_std_}; }
  std::unique_ptr<BaseDistribution<S>> clone() const override { return std::make_unique<DiagonalGaussian>(*this); }

 private:
  template <class C>
  typename C::Value log_prob_math(C& context, const typename C::Value& z) const {
    const auto log_std = context.param(log_std_);
    const auto standardized = div(sub(z, context.param(mean_)), exp(log_std));
    const auto quadratic = scale(row_sums(square(standardized)), S(-0.5));
    return add_scalar(sub(quadratic, sum(log_std)), -static_cast<S>(dim()) * detail::half_log_two_pi<S>);
  }

  Parameter<S> mean_, log_std_;
};

}  // namespace eigenflow

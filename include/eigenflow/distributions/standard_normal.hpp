// Standard normal base: log N(z; 0, I) = −½‖z‖² − (D/2)·log 2π.
#pragma once

#include "eigenflow/core/checks.hpp"
#include "eigenflow/distributions/base_distribution.hpp"

namespace eigenflow {

template <class S>
class StandardNormal : public BaseDistribution<S> {
 public:
  using BaseDistribution<S>::log_prob;  // and the context forms, which ignore c
  using BaseDistribution<S>::sample;
  explicit StandardNormal(Index dim) : dim_(dim) { detail::require_positive_dim("StandardNormal", dim); }

  Index dim() const override { return dim_; }
  std::string type() const override { return "standard_normal"; }
  ColumnVector<S> log_prob(const Matrix<S>& z) const override {
    detail::require_columns("StandardNormal.log_prob", z, dim_);
    return log_prob_math(z);
  }
  Var<S> log_prob(Tape<S>&, const Var<S>& z) override {
    detail::require_columns("StandardNormal.log_prob", z.value(), dim_);
    return log_prob_math(z);
  }
  Matrix<S> sample(Index n, Random& rng) const override { return rng.normal_matrix<S>(n, dim_); }
  ParameterList<S> parameters() override { return {}; }
  std::unique_ptr<BaseDistribution<S>> clone() const override { return std::make_unique<StandardNormal>(*this); }

 private:
  template <class V>
  V log_prob_math(const V& z) const {
    return add_scalar(scale(row_sums(square(z)), S(-0.5)), -static_cast<S>(dim_) * detail::half_log_two_pi<S>);
  }

  Index dim_;
};

}  // namespace eigenflow

// The distribution a flow maps data onto (the "base" or latent density).
#pragma once

#include <memory>
#include <string>

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/matrix_ops.hpp"
#include "eigenflow/core/random.hpp"

namespace eigenflow {

template <class S>
class BaseDistribution {
 public:
  using Scalar = S;
  virtual ~BaseDistribution() = default;

  virtual Index dim() const = 0;
  virtual std::string type() const = 0;
  /// log density per row (N x 1).
  virtual ColumnVector<S> log_prob(const Matrix<S>& z) const = 0;
  virtual Var<S> log_prob(Tape<S>& tape, const Var<S>& z) = 0;
  /// n independent draws, one per row.
  virtual Matrix<S> sample(Index n, Random& rng) const = 0;
  virtual ParameterList<S> parameters() = 0;
  virtual std::unique_ptr<BaseDistribution<S>> clone() const = 0;

 protected:
  BaseDistribution() = default;
  BaseDistribution(const BaseDistribution&) = default;
  BaseDistribution& operator=(const BaseDistribution&) = default;
};

namespace detail {
template <class S>
constexpr S half_log_two_pi = S(0.91893853320467274178);  // ½·log(2π)
}  // namespace detail

}  // namespace eigenflow

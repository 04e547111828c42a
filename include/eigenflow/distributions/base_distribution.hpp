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

  /// Columns of the context c a conditional base depends on (0: none).
  virtual Index context_dim() const { return 0; }
  /// log p(z | c) per row, c one context row per row of z; a base without a
  /// context ignores c.
  virtual ColumnVector<S> log_prob(const Matrix<S>& z, const Matrix<S>& context) const {
    (void)context;
    return log_prob(z);
  }
  virtual Var<S> log_prob(Tape<S>& tape, const Var<S>& z, const Var<S>& context) {
    (void)context;
    return log_prob(tape, z);
  }
  /// One draw per row of the context c.
  virtual Matrix<S> sample(const Matrix<S>& context, Random& rng) const { return sample(context.rows(), rng); }

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

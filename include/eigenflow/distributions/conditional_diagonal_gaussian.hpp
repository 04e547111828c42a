// Conditional diagonal Gaussian base for p(x | c): an MLP of the context
// gives each row its mean and log standard deviation,
//   [μ(c) | log σ(c)] = net(c),
//   log N(z; μ(c), diag σ(c)²) = −½‖(z − μ(c))/σ(c)‖² − Σ log σ(c) − (D/2)·log 2π.
// A fresh one starts with a zero last layer: N(0, I) for every c, so the
// flow starts where an unconditional one does.
#pragma once

#include <string>
#include <utility>

#include "eigenflow/core/checks.hpp"
#include "eigenflow/distributions/base_distribution.hpp"
#include "eigenflow/nn/mlp.hpp"

namespace eigenflow {

template <class S>
class ConditionalDiagonalGaussian : public BaseDistribution<S> {
 public:
  /// A fresh base over R^dim for contexts of shape.context_dim columns
  /// (shape.depth hidden layers; depth 0 makes μ and log σ affine in c).
  ConditionalDiagonalGaussian(Index dim, const ConditionerShape& shape, Random& rng)
      : ConditionalDiagonalGaussian(
            dim, Mlp<S>({shape.context_dim, shape.hidden, shape.depth, 2 * dim, shape.activation}, rng, true)) {}

  /// From a network context_dim -> 2·dim (model files).
  ConditionalDiagonalGaussian(Index dim, Mlp<S> net) : dim_(dim), net_(std::move(net)) {
    detail::require_positive_dim("ConditionalDiagonalGaussian", dim);
    if (net_.input_dim() < 1 || net_.output_dim() != 2 * dim)
      throw ShapeError("ConditionalDiagonalGaussian: the network must map a context of at least one column to 2 x " +
                       std::to_string(dim) + " outputs (mean, log std), found " + std::to_string(net_.input_dim()) +
                       " -> " + std::to_string(net_.output_dim()));
    net_.set_name("base.net.");
  }

  Index dim() const override { return dim_; }
  Index context_dim() const override { return net_.input_dim(); }
  std::string type() const override { return "conditional_diagonal_normal"; }
  const Mlp<S>& net() const { return net_; }

  ColumnVector<S> log_prob(const Matrix<S>&) const override { throw missing_context("log_prob"); }
  Var<S> log_prob(Tape<S>&, const Var<S>&) override { throw missing_context("log_prob"); }
  Matrix<S> sample(Index, Random&) const override { throw missing_context("sample"); }

  ColumnVector<S> log_prob(const Matrix<S>& z, const Matrix<S>& c) const override {
    check("log_prob", z, c);
    PlainContext<S> context;
    return log_prob_math(context, z, c);
  }
  Var<S> log_prob(Tape<S>& tape, const Var<S>& z, const Var<S>& c) override {
    check("log_prob", z.value(), c.value());
    TapeContext<S> context{tape};
    return log_prob_math(context, z, c);
  }
  /// z = μ(c) + σ(c)⊙ε, ε ~ N(0, I), one row per row of c.
  Matrix<S> sample(const Matrix<S>& c, Random& rng) const override {
    detail::require_columns("ConditionalDiagonalGaussian.sample (context)", c, context_dim());
    const Matrix<S> both = net_(c);
    Matrix<S> z = rng.normal_matrix<S>(c.rows(), dim_);
    z.array() = z.array() * both.rightCols(dim_).array().exp() + both.leftCols(dim_).array();
    return z;
  }
  ParameterList<S> parameters() override { return net_.parameters(); }
  std::unique_ptr<BaseDistribution<S>> clone() const override {
    return std::make_unique<ConditionalDiagonalGaussian>(*this);
  }

 private:
  template <class C>
  typename C::Value log_prob_math(C& context, const typename C::Value& z, const typename C::Value& c) const {
    const auto both = net_.apply(context, c);
    const auto log_std = columns(both, dim_, dim_);
    const auto standardized = div(sub(z, columns(both, 0, dim_)), exp(log_std));
    const auto quadratic = scale(row_sums(square(standardized)), S(-0.5));
    return add_scalar(sub(quadratic, row_sums(log_std)), -static_cast<S>(dim_) * detail::half_log_two_pi<S>);
  }
  void check(const char* verb, const Matrix<S>& z, const Matrix<S>& c) const {
    const std::string where = std::string("ConditionalDiagonalGaussian.") + verb;
    detail::require_columns(where.c_str(), z, dim_);
    if (c.rows() != z.rows() || c.cols() != context_dim())
      throw ShapeError(where + ": expected a context of " + detail::shape_string(z.rows(), context_dim()) +
                       " (one row per point), found " + detail::shape_string(c.rows(), c.cols()));
  }
  ShapeError missing_context(const char* verb) const {
    return ShapeError(std::string("ConditionalDiagonalGaussian.") + verb + ": this base is conditioned on a context of " +
                      std::to_string(context_dim()) + " columns; none given");
  }

  Index dim_;
  Mlp<S> net_;
};

}  // namespace eigenflow

// Batch normalisation as a flow layer (Dinh et al. 2017, "Density estimation
// using Real NVP", section 3.7; Papamakarios et al. 2017, "Masked
// Autoregressive Flow", which puts it between MADEs): a per-dimension affine map
// whose shift and scale are the mean m and variance v of the layer's inputs.
//   forward  z_j = (x_j − m_j)·exp(a_j) + β_j,  a_j = log γ_j − ½·log(v_j + ε)
//            log|det ∂z/∂x| = Σ_j a_j
//   inverse  x_j = (z_j − β_j)·exp(−a_j) + m_j
// A training pass (a tape with batch_statistics on, as BatchGradient's are)
// takes m and v from its own rows, and its gradient flows through them; every
// other pass, the inverse always, uses the population statistics of the
// training data, which update_statistics sets (the trainer calls it before
// each evaluation, so they belong to the very parameters evaluated, Polyak
// averages included). The log-det is the same formula in both modes: with the
// population statistics set to a batch's, the two modes give one map.
// With several training threads each worker's rows form their own batch (as
// in data-parallel PyTorch without SyncBatchNorm): results are reproducible for
// a given thread count. A training pass of one row uses the population
// statistics (its variance would be 0).
#pragma once

#include <cmath>
#include <string>

#include "eigenflow/flows/layer.hpp"
#include "eigenflow/train/pooled_statistics.hpp"

namespace eigenflow {

template <class S>
class BatchNorm : public LayerBase<BatchNorm<S>, S> {
 public:
  /// γ = 1, β = 0 and population statistics m = 0, v = 1: the identity up to ε.
  explicit BatchNorm(Index dim, S epsilon = S(1e-5))
      : BatchNorm(RowVector<S>::Zero(dim), RowVector<S>::Zero(dim), RowVector<S>::Zero(dim), RowVector<S>::Ones(dim),
                  epsilon) {}

  BatchNorm(const RowVector<S>& log_gamma, const RowVector<S>& beta, const RowVector<S>& mean, const RowVector<S>& variance,
            S epsilon)
      : mean_(mean), variance_(variance), epsilon_(epsilon) {
    detail::require_positive_dim("BatchNorm", log_gamma.cols());
    const Index d = log_gamma.cols();
    if (beta.cols() != d || mean.cols() != d || variance.cols() != d)
      throw ShapeError("BatchNorm: log_gamma has " + std::to_string(d) + " entries, beta " + std::to_string(beta.cols()) +
                       ", mean " + std::to_string(mean.cols()) + ", variance " + std::to_string(variance.cols()));
    if (!log_gamma.allFinite() || !beta.allFinite() || !mean.allFinite() || !variance.allFinite())
      throw ValueError("BatchNorm: log_gamma, beta, mean and variance must be finite");
    if (!(variance.array() >= S(0)).all()) throw ValueError("BatchNorm: variances must be non-negative");
    if (!(epsilon > S(0)) || !std::isfinite(epsilon))
      throw ValueError("BatchNorm: epsilon must be positive and finite, found " + std::to_string(epsilon));
    log_gamma_ = Parameter<S>("batch_norm.log_gamma", log_gamma);
    beta_ = Parameter<S>("batch_norm.beta", beta);
  }

  Index dim() const override { return log_gamma_.value.cols(); }
  std::string type() const override { return "batch_norm"; }
  const Matrix<S>& log_gamma() const { return log_gamma_.value; }
  const Matrix<S>& beta() const { return beta_.value; }
  /// The population statistics the evaluation passes use.
  const RowVector<S>& mean() const { return mean_; }
  const RowVector<S>& variance() const { return variance_; }
  S epsilon() const { return epsilon_; }
  ParameterList<S> parameters() override { return {&log_gamma_, &beta_}; }

  bool has_statistics() const override { return true; }
  /// m, v = the mean and (biased, as a batch's) variance of each column of `inputs`,
  /// the data's own rows, accumulated in double; with a communicator, of every rank's
  /// inputs together (pooled_mean_and_variance), refused on every rank when one's are bad.
  void update_statistics(const Matrix<S>& inputs, Communicator* communicator = nullptr) override {
    if (communicator) {
      detail::check_on_every_rank(communicator, "batch_norm.update_statistics", [&] { check_statistics_inputs(inputs); });
      const auto [mean, variance] = pooled_mean_and_variance(*communicator, inputs.template cast<double>());
      mean_ = mean.template cast<S>();
      variance_ = variance.template cast<S>();
      return;
    }
    if (inputs.rows() == 0) return;
    check_statistics_inputs(inputs);
    const auto n = static_cast<double>(inputs.rows());
    for (Index j = 0; j < dim(); ++j) {
      const auto column = inputs.col(j).template cast<double>().array();
      const double mean = column.sum() / n;
      mean_(j) = static_cast<S>(mean);
      variance_(j) = static_cast<S>((column - mean).square().sum() / n);
    }
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    using Value = typename C::Value;
    const bool from_batch = context.batch_statistics && value_of(x).rows() >= 2;
    const Value mean = from_batch ? column_means(x) : context.constant(mean_);
    const Value centered = sub(x, mean);
    const Value variance = from_batch ? column_means(square(centered)) : context.constant(variance_);
    const Value log_scale = log_scale_of(context, variance);
    auto z = add(mul(centered, exp(log_scale)), context.param(beta_));
    return {std::move(z), add(detail::zero_log_det(context, x), sum(log_scale))};
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    const auto log_scale = log_scale_of(context, context.constant(variance_));
    auto x = add(mul(sub(z, context.param(beta_)), exp(scale(log_scale, S(-1)))), context.constant(mean_));
    return {std::move(x), add(detail::zero_log_det(context, z), scale(sum(log_scale), S(-1)))};
  }

 private:
  void check_statistics_inputs(const Matrix<S>& inputs) const {
    detail::require_columns("batch_norm.update_statistics", inputs, dim());
    detail::require_finite("batch_norm.update_statistics", inputs);
  }
  // a = log γ − ½·log(v + ε), one entry per dimension
  template <class C>
  typename C::Value log_scale_of(C& context, const typename C::Value& variance) const {
    return sub(context.param(log_gamma_), scale(log(add_scalar(variance, epsilon_)), S(0.5)));
  }

  Parameter<S> log_gamma_;
  Parameter<S> beta_;
  RowVector<S> mean_;
  RowVector<S> variance_;
  S epsilon_;
};

}  // namespace eigenflow

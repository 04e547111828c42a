// The full-covariance Gaussian baseline every `eigenflow train` prints beside the flow's NLLs.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <Eigen/QR>

#include <cstdio>

#include "options.hpp"

namespace eigenflow::cli {

/// Residuals x − (c·A + b) of the least-squares affine fit of x on c (fitted on the
/// training rows): a Gaussian of them is the linear-Gaussian p(x | c).
struct LinearRegression {
  Matrix<double> weights;  ///< (K + 1) x D: A, then the row b
  static LinearRegression fit(const Matrix<double>& c, const Matrix<double>& x) {
    return {with_ones(c).colPivHouseholderQr().solve(x)};
  }
  Matrix<double> residuals(const Matrix<double>& c, const Matrix<double>& x) const { return x - with_ones(c) * weights; }
  static Matrix<double> with_ones(const Matrix<double>& c) {
    Matrix<double> design(c.rows(), c.cols() + 1);
    design << c, Matrix<double>::Ones(c.rows(), 1);
    return design;
  }
};

/// The baseline line: a full-covariance Gaussian fitted to the training rows (for a
/// conditional model, the linear-Gaussian p(x | c) = N(x; c·A + b, Σ)), scored on the
/// same held-out rows as the flow (test, else validation, else training), and a
/// warning when the flow does not beat it.
inline void print_gaussian_baseline(const DataSplit& split, const DataSplit& context, double train_nll, double val_nll,
                                    double test_nll) {
  const bool test = split.test.rows() > 0, validation = split.validation.rows() > 0;
  const char* name = test ? "test_nll" : (validation ? "val_nll" : "train_nll");
  const double flow_nll = test ? test_nll : (validation ? val_nll : train_nll);
  const Matrix<double>& held_out = test ? split.test : (validation ? split.validation : split.train);
  const bool conditional = context.train.cols() > 0;
  const char* what = conditional ? "linear-gaussian p(x|c)" : "full-covariance gaussian";
  try {
    double nll = 0;
    if (conditional) {
      const Matrix<double>& held_out_c = test ? context.test : (validation ? context.validation : context.train);
      const LinearRegression regression = LinearRegression::fit(context.train, split.train);
      nll = FullCovarianceGaussian::fit(regression.residuals(context.train, split.train))
                .mean_negative_log_likelihood(regression.residuals(held_out_c, held_out));
    } else {
      nll = FullCovarianceGaussian::fit(split.train).mean_negative_log_likelihood(held_out);
    }
    std::printf("baseline %s %s=%s (flow better by %.4f nats)\n", what, name, format_nll(nll).c_str(), nll - flow_nll);
    std::fflush(stdout);  // the warning comes after the line it comments on
    if (!(flow_nll < nll))
      std::fprintf(stderr, "warning: the flow's %s (%s) is no better than a %s's (%s); try --patience, "
                           "fewer layers or more data\n", name, format_nll(flow_nll).c_str(), what, format_nll(nll).c_str());
  } catch (const ValueError& e) {
    std::printf("baseline %s %s=nan (%s)\n", what, name, e.what());
  }
}

}  // namespace eigenflow::cli

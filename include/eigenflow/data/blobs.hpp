// Gaussian blobs, scikit-learn's make_blobs: k centres (given, or uniform in
// [−10, 10]²); n split evenly with the first n mod k centres taking one more;
// each point = centre + N(0, std² I), drawn centre by centre, then shuffled.
// The course set "two blobs" (seed 003) is the default: centres (−0.5, 0.5)
// and (0.5, −0.5), std 0.2. Density: the mixture with weights count_k / n.
#pragma once

#include "eigenflow/data/gaussian_mixture.hpp"
#include "eigenflow/data/shuffle.hpp"

namespace eigenflow {

inline Matrix<double> default_blob_centres() {
  Matrix<double> centres(2, 2);
  centres << -0.5, 0.5, 0.5, -0.5;
  return centres;
}

/// k centres uniform in [−10, 10]², as make_blobs draws them.
inline Matrix<double> random_blob_centres(Index k, Random& rng) {
  Matrix<double> centres(k, 2);
  for (Index i = 0; i < centres.size(); ++i) centres.data()[i] = rng.uniform(-10.0, 10.0);
  return centres;
}

inline ColumnVector<double> blob_counts(Index n, Index k) {
  ColumnVector<double> counts(k);
  for (Index j = 0; j < k; ++j) counts(j) = static_cast<double>(n / k + (j < n % k ? 1 : 0));
  return counts;
}

inline GaussianMixture blobs_distribution(Index n, const Matrix<double>& centres, double std) {
  return {centres, blob_counts(n, centres.rows()) / static_cast<double>(n), std};
}

inline Matrix<double> blobs(Index n, const Matrix<double>& centres, double std, Random& rng) {
  const ColumnVector<double> counts = blob_counts(n, centres.rows());
  Matrix<double> points(n, 2);
  Index row = 0;
  for (Index j = 0; j < centres.rows(); ++j)
    for (Index c = 0; c < static_cast<Index>(counts(j)); ++c, ++row)
      points.row(row) << centres(j, 0) + std * rng.normal(), centres(j, 1) + std * rng.normal();
  shuffle_rows(points, rng);
  return points;
}

}  // namespace eigenflow

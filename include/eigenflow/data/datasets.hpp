// The data-set registry: every generator by name, with its defaults and,
// where one exists, its closed-form log density (for measuring how far a
// trained model is from the truth: test NLL − entropy). A conditional set
// (context_dim > 0) writes its context as the last columns of each row; its
// density is then the conditional log p(x | c) of rows [x | c], and its
// entropy H(x | c).
#pragma once

#include <cmath>
#include <functional>
#include <optional>
#include <string>
#include <vector>

#include "eigenflow/core/error.hpp"
#include "eigenflow/data/blobs.hpp"
#include "eigenflow/data/boomerang.hpp"
#include "eigenflow/data/circles.hpp"
#include "eigenflow/data/ffjord.hpp"
#include "eigenflow/data/mixed_set.hpp"
#include "eigenflow/data/rotated_moons.hpp"
#include "eigenflow/data/two_moons.hpp"

namespace eigenflow {

struct DatasetInfo {
  std::string name;
  std::string description;
  std::optional<double> default_noise;  ///< set when --noise applies
  bool has_density;
  Index default_dim = 2;
  bool any_dim = false;  ///< takes a dimension (--dim), at least 3
  Index context_dim = 0;  ///< the last columns of each row are a context c (conditional sets)
};

inline const std::vector<DatasetInfo>& datasets() {
  static const std::vector<DatasetInfo> all = {
      {"two-moons", "scikit-learn make_moons: two interleaved half circles", 0.05, true},
      {"blobs", "scikit-learn make_blobs: Gaussian blobs at (-0.5, 0.5), (0.5, -0.5); noise is the cluster std", 0.2, true},
      {"boomerang", "x2 ~ N(0, 16), x1 ~ N(x2^2/4, 1): the curved band of seed 000 and seed 003", std::nullopt, true},
      {"8gaussians", "FFJORD: eight Gaussians on a circle", std::nullopt, true},
      {"checkerboard", "FFJORD: uniform on the dark squares of a 4x4 board", std::nullopt, false},
      {"pinwheel", "FFJORD: five curved arms", std::nullopt, false},
      {"2spirals", "FFJORD: two interleaved spirals", std::nullopt, false},
      {"rings", "FFJORD: four concentric noisy circles", 0.08, true},
      {"circles", "scikit-learn make_circles (factor 0.5) times 3", 0.08, true},
      {"mixed-moons", "two moons and D-2 Gaussian coordinates under a fixed linear mixing (any D >= 3, default 8)", 0.05,
       true, 8, true},
      {"mixed-helix", "a noisy 3-D helix of two turns and D-3 Gaussian coordinates under a fixed linear mixing (any D >= 3, default 16)",
       0.1, true, 16, true},
      {"mixed-sources", "floor(D/2) independent non-Gaussian sources (bimodal, Laplace, Gumbel, trimodal in turn) and the other "
       "coordinates Gaussian, under a fixed linear mixing (any D >= 3, default 8)", std::nullopt, true, 8, true},
      {"rotated-moons", "conditional: two moons turned by an angle c ~ U[0, pi) about their centre; rows x1,x2,c", 0.05,
       true, 3, false, 1},
  };
  return all;
}

inline const DatasetInfo& dataset_info(const std::string& name) {
  std::string known;
  for (const auto& info : datasets()) {
    if (info.name == name) return info;
    known += (known.empty() ? "" : ", ") + info.name;
  }
  throw ValueError("unknown data set '" + name + "' (expected one of: " + known + ")");
}

namespace detail {
inline double resolve_noise(const DatasetInfo& info, std::optional<double> noise) {
  if (!noise) return info.default_noise.value_or(0.0);
  if (!info.default_noise) throw ValueError("data set '" + info.name + "' takes no noise parameter");
  if (!(*noise >= 0) || !std::isfinite(*noise))
    throw ValueError("noise must be non-negative and finite, found " + std::to_string(*noise));
  return *noise;
}
inline void require_points(Index n) {
  if (n <= 0) throw ValueError("the number of points must be positive, found " + std::to_string(n));
}
inline Index resolve_dim(const DatasetInfo& info, std::optional<Index> dim) {
  if (!dim) return info.default_dim;
  if (!info.any_dim && *dim != info.default_dim)
    throw ValueError("data set '" + info.name + "' is " + std::to_string(info.default_dim) + "-dimensional; it takes no dimension");
  if (info.any_dim && *dim < 3)
    throw ValueError("data set '" + info.name + "' needs a dimension of at least 3, found " + std::to_string(*dim));
  return *dim;
}
/// The D-dimensional sets with an exact density (data/mixed_set.hpp).
inline bool is_mixed_set(const std::string& name) { return name.rfind("mixed-", 0) == 0; }
/// f(the named D-dimensional set).
template <class F>
auto visit_mixed_set(const std::string& name, Index n, double sd, Index dim, F&& f) {
  if (name == "mixed-moons") return f(MixedMoons(n, sd, dim));
  if (name == "mixed-helix") return f(MixedHelix(n, sd, dim));
  return f(MixedSources(n, dim));
}
}  // namespace detail

/// n points of the named set, one per row, shuffled (dim: for the sets that take one).
inline Matrix<double> generate_dataset(const std::string& name, Index n, Random& rng,
                                       std::optional<double> noise = std::nullopt, std::optional<Index> dim = std::nullopt) {
  const DatasetInfo& info = dataset_info(name);
  const double sd = detail::resolve_noise(info, noise);
  const Index d = detail::resolve_dim(info, dim);
  detail::require_points(n);
  if (detail::is_mixed_set(name)) return detail::visit_mixed_set(name, n, sd, d, [&rng](const auto& set) { return set.generate(rng); });
  if (name == "rotated-moons") return RotatedMoons(sd).generate(n, rng);
  if (name == "two-moons") return two_moons(n, sd, rng);
  if (name == "blobs") return blobs(n, default_blob_centres(), sd, rng);
  if (name == "boomerang") return boomerang(n, rng);
  if (name == "8gaussians") return eight_gaussians(n, rng);
  if (name == "checkerboard") return checkerboard(n, rng);
  if (name == "pinwheel") return pinwheel(n, rng);
  if (name == "2spirals") return two_spirals(n, rng);
  if (name == "rings") return rings(n, sd, rng);
  return circles(n, sd, rng);
}

namespace detail {
/// The Gaussian mixture behind a set with n points, for every set that is one.
inline std::optional<GaussianMixture> dataset_mixture(const std::string& name, Index n, double sd) {
  if (name == "two-moons") return two_moons_distribution(n, sd);
  if (name == "blobs") return blobs_distribution(n, default_blob_centres(), sd);
  if (name == "8gaussians") return eight_gaussians_distribution();
  if (name == "rings") return rings_distribution(n, sd);
  if (name == "circles") return circles_distribution(n, sd);
  return std::nullopt;
}
}  // namespace detail

/// The closed-form log density of the distribution generate_dataset(name, n, …, noise) draws from.
inline std::function<ColumnVector<double>(const Matrix<double>&)> dataset_log_density(
    const std::string& name, Index n, std::optional<double> noise = std::nullopt, std::optional<Index> dim = std::nullopt) {
  const DatasetInfo& info = dataset_info(name);
  const double sd = detail::resolve_noise(info, noise);
  const Index d = detail::resolve_dim(info, dim);
  detail::require_points(n);
  if (!info.has_density) throw ValueError("data set '" + name + "' has no closed-form density");
  if (name == "boomerang") return boomerang_log_density;
  if (detail::is_mixed_set(name))
    return detail::visit_mixed_set(name, n, sd, d, [](const auto& set) -> std::function<ColumnVector<double>(const Matrix<double>&)> {
      return [set](const Matrix<double>& x) { return set.log_prob(x); };
    });
  if (name == "rotated-moons") return [distribution = RotatedMoons(sd)](const Matrix<double>& x) { return distribution.log_prob(x); };
  const GaussianMixture mixture = *detail::dataset_mixture(name, n, sd);
  return [mixture](const Matrix<double>& x) { return mixture.log_prob(x); };
}

/// Differential entropy −E[log p(x)] of the distribution behind an n-point
/// set, by Monte Carlo over `draws` fresh points from that very distribution
/// (standard error ≈ sd(log p)/√draws).
inline double dataset_entropy(const std::string& name, Index n, std::optional<double> noise, Index draws, Random& rng,
                              std::optional<Index> dim = std::nullopt) {
  const auto log_density = dataset_log_density(name, n, noise, dim);
  const double sd = detail::resolve_noise(dataset_info(name), noise);
  if (detail::is_mixed_set(name))
    return detail::visit_mixed_set(name, n, sd, detail::resolve_dim(dataset_info(name), dim),
                                   [&](const auto& set) { return -set.log_prob(set.sample(draws, rng)).mean(); });
  if (name == "rotated-moons") return RotatedMoons(sd).conditional_entropy(draws, rng);
  const auto mixture = detail::dataset_mixture(name, n, sd);
  const Matrix<double> points = mixture ? mixture->sample(draws, rng) : generate_dataset(name, draws, rng, noise);
  return -log_density(points).mean();
}

}  // namespace eigenflow

// Built-in 2D targets for variational inference: energies U(z), density exp(−U)/Z.
//
// Rezende & Mohamed (2015), Table 1, with w₁ = sin(2πz₁/4), w₂ = 3·exp(−½((z₁ − 1)/0.6)²),
// w₃ = 3·σ((z₁ − 1)/0.3), and B(z) = ½(z₁/4)⁸ added to U2–U4 (without it their mass
// along z₁ is infinite; with it they live on about |z₁| ≤ 4.5, the box the paper plots):
//   u1  ½((‖z‖ − 2)/0.4)² − log(exp(−½((z₁ − 2)/0.6)²) + exp(−½((z₁ + 2)/0.6)²))
//   u2  ½((z₂ − w₁)/0.4)² + B
//   u3  −log(exp(−½((z₂ − w₁)/0.35)²) + exp(−½((z₂ − w₁ + w₂)/0.35)²)) + B
//   u4  −log(exp(−½((z₂ − w₁)/0.4)²) + exp(−½((z₂ − w₁ + w₃)/0.35)²)) + B
// and three with a closed-form normaliser:
//   banana  Haario et al. (1999)'s twisted Gaussian: N(0, diag(100, 1)) composed with
//           (z₁, z₂) ↦ (z₁, z₂ + b·z₁² − 100·b), b = 0.03 (their "moderately twisted"):
//           U = z₁²/200 + ½(z₂ + b·z₁² − 100·b)²; the twist has unit Jacobian, so Z = 2π·10.
//   funnel  Neal (2003) in 2D: z₁ = v ~ N(0, 3²), z₂ | v ~ N(0, eᵛ):
//           U = v²/18 + ½·z₂²·e⁻ᵛ + v/2; Z = 2π·3.
//   ring    an equal mixture of 8 Gaussians, the "8gaussians" data set's law: centres
//           (4/1.414)·(cos kπ/4, sin kπ/4), sd 0.5/1.414: U = −log p, Z = 1.
// Every log of a sum is a log-sum-exp.
#pragma once

#include <cmath>
#include <string>
#include <type_traits>
#include <vector>

#include "eigenflow/vi/target.hpp"

namespace eigenflow {

/// What a built-in target is, and its normaliser.
struct TargetInfo {
  std::string name;
  std::string description;
  double log_normalizer;  ///< log Z
  bool exact;             ///< log Z in closed form (else: midpoint rule on [−8, 8]², spacing 0.01)
  double box[4];          ///< x_min, x_max, y_min, y_max: where the mass is (pictures)
};

inline const std::vector<TargetInfo>& targets() {
  static const std::vector<TargetInfo> list{
      {"u1", "Rezende & Mohamed's U1: a ring split in two", 1.8775, false, {-4, 4, -4, 4}},
      {"u2", "Rezende & Mohamed's U2: a sine wave (+ ½(z1/4)^8)", 2.1087, false, {-4.5, 4.5, -4, 4}},
      {"u3", "Rezende & Mohamed's U3: a sine wave and a bump (+ ½(z1/4)^8)", 2.6683, false, {-4.5, 4.5, -4, 4}},
      {"u4", "Rezende & Mohamed's U4: a sine wave and a step (+ ½(z1/4)^8)", 2.7373, false, {-4.5, 4.5, -4, 4}},
      {"banana", "Haario's twisted Gaussian, b = 0.03", std::log(2 * M_PI * 10), true, {-30, 30, -20, 8}},
      {"funnel", "Neal's funnel: z1 ~ N(0, 9), z2 ~ N(0, exp(z1))", std::log(2 * M_PI * 3), true, {-8, 8, -12, 12}},
      {"ring", "8 Gaussians on a ring (the 8gaussians data set's density)", 0.0, true, {-4, 4, -4, 4}},
  };
  return list;
}

inline const TargetInfo& target_info(const std::string& name) {
  for (const auto& info : targets())
    if (info.name == name) return info;
  std::string known;
  for (const auto& info : targets()) known += (known.empty() ? "" : ", ") + info.name;
  throw ValueError("unknown target '" + name + "' (known: " + known + ")");
}

namespace energies {
namespace detail {
template <class V>
using scalar_t = typename std::decay_t<decltype(value_of(std::declval<const V&>()))>::Scalar;

/// −½((v − centre)/scale)²
template <class V>
V log_gauss_kernel(const V& v, double centre, double scale_) {
  using S = scalar_t<V>;
  return scale(square(add_scalar(v, S(-centre))), S(-0.5 / (scale_ * scale_)));
}
/// B(z) = ½(z₁/4)⁸
template <class V>
V boundary(const V& z1) {
  using S = scalar_t<V>;
  return scale(square(square(square(scale(z1, S(0.25))))), S(0.5));
}
/// w₁ = sin(2πz₁/4)
template <class V>
V w1(const V& z1) {
  using S = scalar_t<V>;
  return sin(scale(z1, S(M_PI / 2)));
}
/// −log(exp(a) + exp(b))
template <class V>
V negative_log_sum(const V& a, const V& b) {
  using S = scalar_t<V>;
  return scale(row_logsumexp(concat_columns(a, b)), S(-1));
}

/// U3 and U4: −log(exp(−½((z₂ − w₁)/sd₁)²) + exp(−½((z₂ − w₁ + shift)/sd₂)²)) + B.
template <class V>
V two_waves(const V& z1, const V& z2, const V& shift, double sd_first, double sd_second) {
  const V wave = sub(z2, w1(z1));
  return add(negative_log_sum(log_gauss_kernel(wave, 0, sd_first), log_gauss_kernel(add(wave, shift), 0, sd_second)), boundary(z1));
}
}  // namespace detail

struct U1 {
  template <class V>
  V operator()(const V& z) const {
    using S = detail::scalar_t<V>;
    const V z1 = columns(z, 0, 1);
    const V ring = scale(square(add_scalar(row_norms(z), S(-2))), S(0.5 / (0.4 * 0.4)));
    return add(ring, detail::negative_log_sum(detail::log_gauss_kernel(z1, 2, 0.6), detail::log_gauss_kernel(z1, -2, 0.6)));
  }
};

struct U2 {
  template <class V>
  V operator()(const V& z) const {
    const V z1 = columns(z, 0, 1), z2 = columns(z, 1, 1);
    return sub(detail::boundary(z1), detail::log_gauss_kernel(sub(z2, detail::w1(z1)), 0, 0.4));
  }
};

struct U3 {
  template <class V>
  V operator()(const V& z) const {
    using S = detail::scalar_t<V>;
    const V z1 = columns(z, 0, 1), z2 = columns(z, 1, 1);
    const V w2 = scale(exp(detail::log_gauss_kernel(z1, 1, 0.6)), S(3));
    return detail::two_waves(z1, z2, w2, 0.35, 0.35);
  }
};

struct U4 {
  template <class V>
  V operator()(const V& z) const {
    using S = detail::scalar_t<V>;
    const V z1 = columns(z, 0, 1), z2 = columns(z, 1, 1);
    const V w3 = scale(sigmoid(affine(z1, S(1 / 0.3), S(-1 / 0.3))), S(3));
    return detail::two_waves(z1, z2, w3, 0.4, 0.35);
  }
};

struct Banana {
  double twist = 0.03;
  template <class V>
  V operator()(const V& z) const {
    using S = detail::scalar_t<V>;
    const V z1 = columns(z, 0, 1), z2 = columns(z, 1, 1);
    const V untwisted = add_scalar(add(z2, scale(square(z1), S(twist))), S(-100 * twist));
    return add(scale(square(z1), S(1.0 / 200)), scale(square(untwisted), S(0.5)));
  }
};

struct Funnel {
  template <class V>
  V operator()(const V& z) const {
    using S = detail::scalar_t<V>;
    const V v = columns(z, 0, 1), x = columns(z, 1, 1);
    return add(add(scale(square(v), S(1.0 / 18)), scale(mul(square(x), exp(scale(v, S(-1)))), S(0.5))), scale(v, S(0.5)));
  }
};

struct Ring {
  template <class V>
  V operator()(const V& z) const {
    using S = detail::scalar_t<V>;
    const double radius = 4 / 1.414, sd = 0.5 / 1.414;
    const V z1 = columns(z, 0, 1), z2 = columns(z, 1, 1);
    V terms;
    for (int k = 0; k < 8; ++k) {
      const V term = add(detail::log_gauss_kernel(z1, radius * std::cos(k * M_PI / 4), sd),
                         detail::log_gauss_kernel(z2, radius * std::sin(k * M_PI / 4), sd));
      terms = k == 0 ? term : concat_columns(terms, term);
    }
    // U = −log( (1/8) Σ_k N(z; c_k, sd² I) )
    return add_scalar(scale(row_logsumexp(terms), S(-1)), S(std::log(8.0) + std::log(2 * M_PI * sd * sd)));
  }
};
}  // namespace energies

/// A built-in target by name (see targets()).
template <class S>
Target<S> make_builtin_target(const std::string& name) {
  target_info(name);  // throws on an unknown name
  if (name == "u1") return make_target<S>(name, 2, energies::U1{});
  if (name == "u2") return make_target<S>(name, 2, energies::U2{});
  if (name == "u3") return make_target<S>(name, 2, energies::U3{});
  if (name == "u4") return make_target<S>(name, 2, energies::U4{});
  if (name == "banana") return make_target<S>(name, 2, energies::Banana{});
  if (name == "funnel") return make_target<S>(name, 2, energies::Funnel{});
  return make_target<S>(name, 2, energies::Ring{});
}

/// log ∫ exp(−U) over the box [lo, hi]² by the midpoint rule with the given spacing,
/// summed with log-sum-exp: the independent check of a target's normaliser.
template <class S>
double grid_log_normalizer(const Target<S>& target, double lo, double hi, double spacing) {
  if (target.dim() != 2) throw ValueError("grid_log_normalizer: only for 2D targets");
  if (!(hi > lo) || !(spacing > 0)) throw ValueError("grid_log_normalizer: needs lo < hi and a positive spacing");
  const auto cells = static_cast<Index>(std::llround((hi - lo) / spacing));
  Matrix<S> column(cells, 2);
  double top = -INFINITY, sum = 0;  // running log-sum-exp
  for (Index i = 0; i < cells; ++i) {
    column.col(0).setConstant(static_cast<S>(lo + (static_cast<double>(i) + 0.5) * spacing));
    for (Index j = 0; j < cells; ++j) column(j, 1) = static_cast<S>(lo + (static_cast<double>(j) + 0.5) * spacing);
    const ColumnVector<S> log_p = target.log_density(column);
    for (Index j = 0; j < cells; ++j) {
      const double v = static_cast<double>(log_p(j));
      if (v > top) {
        sum = sum * std::exp(top - v) + 1;
        top = v;
      } else {
        sum += std::exp(v - top);
      }
    }
  }
  return top + std::log(sum) + 2 * std::log(spacing);
}

}  // namespace eigenflow

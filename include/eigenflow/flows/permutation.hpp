// Fixed permutation of the coordinates (lets couplings mix every dimension):
//   forward  z_j = x_{perm[j]}
//   inverse  x_{perm[j]} = z_j
//   log|det| = 0
#pragma once

#include <algorithm>
#include <string>
#include <utility>
#include <vector>

#include "eigenflow/core/random.hpp"
#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

namespace detail {
/// The inverse of perm (inverse[perm[j]] = j), after checking that perm holds each of 0..D−1 once.
inline std::vector<Index> inverse_permutation(const std::vector<Index>& perm, const std::string& where) {
  require_positive_dim(where.c_str(), static_cast<Index>(perm.size()));
  std::vector<Index> inverse(perm.size(), -1);
  for (std::size_t j = 0; j < perm.size(); ++j) {
    const Index p = perm[j];
    if (p < 0 || p >= static_cast<Index>(perm.size()) || inverse[static_cast<std::size_t>(p)] >= 0)
      throw ValueError(where + ": entry " + std::to_string(j) + " is " + std::to_string(p) + ", but perm must hold each of 0.." +
                       std::to_string(perm.size() - 1) + " exactly once");
    inverse[static_cast<std::size_t>(p)] = static_cast<Index>(j);
  }
  return inverse;
}
}  // namespace detail

template <class S>
class Permutation : public LayerBase<Permutation<S>, S> {
 public:
  explicit Permutation(std::vector<Index> perm)
      : perm_(std::move(perm)), inverse_perm_(detail::inverse_permutation(perm_, "Permutation")) {}

  /// The coordinates in reverse order.
  static Permutation reverse(Index dim) {
    detail::require_positive_dim("Permutation::reverse", dim);
    std::vector<Index> perm(static_cast<std::size_t>(dim));
    for (Index j = 0; j < dim; ++j) perm[static_cast<std::size_t>(j)] = dim - 1 - j;
    return Permutation(std::move(perm));
  }

  /// A uniformly random permutation.
  static Permutation random(Index dim, Random& rng) {
    detail::require_positive_dim("Permutation::random", dim);
    std::vector<Index> perm(static_cast<std::size_t>(dim));
    for (Index j = 0; j < dim; ++j) perm[static_cast<std::size_t>(j)] = j;
    rng.shuffle(perm.begin(), perm.end());
    return Permutation(std::move(perm));
  }

  Index dim() const override { return static_cast<Index>(perm_.size()); }
  std::string type() const override { return "permutation"; }
  const std::vector<Index>& perm() const { return perm_; }
  ParameterList<S> parameters() override { return {}; }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    return {gather_columns(x, perm_), detail::zero_log_det(context, x)};
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    return {gather_columns(z, inverse_perm_), detail::zero_log_det(context, z)};
  }

 private:
  std::vector<Index> perm_;
  std::vector<Index> inverse_perm_;
};

}  // namespace eigenflow

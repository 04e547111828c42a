// What every flow stack derives from its forward and inverse passes:
//   log p(x) = log p_base(f(x)) + log|det ∂f/∂x|
//   sampling: x = f⁻¹(z), z ~ p_base;  log p(x) = log p_base(z) − log|det ∂f⁻¹/∂z|
// and, for a conditional flow, the same given a context c:
//   log p(x | c) = log p_base(f(x; c) | c) + log|det ∂f(x; c)/∂x|
#pragma once

#include <algorithm>
#include <cmath>
#include <limits>
#include <string>
#include <utility>

#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/parallel.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

/// Points drawn from a flow with the log density of each.
template <class S>
struct Samples {
  Matrix<S> points;
  ColumnVector<S> log_prob;
};

/// CRTP mixin: Derived provides forward/inverse (plain and taped, with and
/// without a context), base(), context_dim() and context_features(c).
template <class Derived, class S>
class FlowMethods {
 public:
  /// log p(x) per row. Inputs are checked finite, so a NaN here can only come
  /// from overflow far out in the tails, where the density is 0: it reads −∞.
  /// Rows go through in chunks (their intermediates stay in cache), on
  /// available_threads() threads when compiled with OpenMP; each row's value
  /// does not depend on the chunking or the threads.
  ColumnVector<S> log_prob(const Matrix<S>& x) const { return log_prob_in_chunks(x, nullptr); }

  /// log p(x) per row, recorded on a tape (N x 1).
  Var<S> log_prob(Tape<S>& tape, const Var<S>& x) {
    const TapedTransformed<S> latent = derived().forward(tape, x);
    return add(derived().base().log_prob(tape, latent.points), latent.log_det);
  }

  /// The training loss: −mean log p(x), recorded on a tape (1 x 1).
  Var<S> negative_log_likelihood(Tape<S>& tape, const Var<S>& x) { return scale(mean(log_prob(tape, x)), S(-1)); }

  /// log p(x | c) per row, c (N x context_dim) one context per point; chunked
  /// and threaded as log_prob(x).
  ColumnVector<S> log_prob(const Matrix<S>& x, const Matrix<S>& c) const {
    detail::require_context("log_prob", x, c, derived().context_dim());
    return log_prob_in_chunks(x, &c);
  }
  Var<S> log_prob(Tape<S>& tape, const Var<S>& x, const Var<S>& c) {
    const TapedTransformed<S> latent = derived().forward(tape, x, c);
    return add(derived().base().log_prob(tape, latent.points, derived().context_features(tape, c)), latent.log_det);
  }
  /// −mean log p(x | c) on a tape (1 x 1).
  Var<S> negative_log_likelihood(Tape<S>& tape, const Var<S>& x, const Var<S>& c) {
    return scale(mean(log_prob(tape, x, c)), S(-1));
  }

  /// n points x = f⁻¹(z), z ~ base (drawn in one sequence from rng, so the
  /// points do not depend on the threads; the inverse runs in chunks like log_prob).
  Matrix<S> sample(Index n, Random& rng) const { return sample_and_log_prob(n, rng).points; }

  /// n points with their log densities, from one inverse pass.
  Samples<S> sample_and_log_prob(Index n, Random& rng) const {
    const Matrix<S> z = draw_base(n, rng);
    return invert_in_chunks(z, derived().base().log_prob(z), nullptr);
  }

  /// n points from p(x | c): c is one context row for all n points, or n rows (one each).
  Matrix<S> sample(Index n, const Matrix<S>& c, Random& rng) const { return sample_and_log_prob(n, c, rng).points; }
  Samples<S> sample_and_log_prob(Index n, const Matrix<S>& c, Random& rng) const {
    if (n < 0) throw ValueError("sample: the number of points must be non-negative, found " + std::to_string(n));
    if (c.rows() != 1 && c.rows() != n)
      throw ShapeError("sample: expected one context row for all " + std::to_string(n) + " points or one per point, found " +
                       std::to_string(c.rows()) + " rows");
    const Matrix<S> contexts = c.rows() == n ? c : Matrix<S>(c.replicate(n, 1));
    detail::require_context("sample", contexts, contexts, derived().context_dim());
    const Matrix<S> features = derived().context_features(contexts);
    const Matrix<S> z = derived().base().sample(features, rng);
    return invert_in_chunks(z, derived().base().log_prob(z, features), &contexts);
  }

 private:
  // log p(x [| c]) by row chunks; c (null: unconditional) is checked by the caller.
  ColumnVector<S> log_prob_in_chunks(const Matrix<S>& x, const Matrix<S>* c) const {
    detail::require_columns("log_prob", x, derived().dim());  // whole-matrix checks: errors name the row of x, not of a chunk
    detail::require_finite("log_prob", x);
    ColumnVector<S> result(x.rows());
    for_each_chunk(x.rows(), [&](Index first, Index count) {
      const Matrix<S> rows = x.middleRows(first, count);
      if (c) {
        const Matrix<S> rows_c = detail::middle_rows(*c, first, count);
        const Transformed<S> latent = derived().forward(rows, rows_c);
        result.segment(first, count) = derived().base().log_prob(latent.points, derived().context_features(rows_c)) + latent.log_det;
      } else {
        const Transformed<S> latent = derived().forward(rows);
        result.segment(first, count) = derived().base().log_prob(latent.points) + latent.log_det;
      }
    });
    for (Index i = 0; i < result.size(); ++i)
      if (std::isnan(result(i))) result(i) = -std::numeric_limits<S>::infinity();
    return result;
  }

  // x = f⁻¹(z [; c]) by row chunks, with log p(x) = log p_base(z) − log|det ∂f⁻¹/∂z|.
  Samples<S> invert_in_chunks(const Matrix<S>& z, ColumnVector<S> base_log_prob, const Matrix<S>* c) const {
    Samples<S> out{Matrix<S>(z.rows(), z.cols()), std::move(base_log_prob)};
    for_each_chunk(z.rows(), [&](Index first, Index count) {
      const Matrix<S> rows = z.middleRows(first, count);
      const Transformed<S> data = c ? derived().inverse(rows, detail::middle_rows(*c, first, count)) : derived().inverse(rows);
      out.points.middleRows(first, count) = data.points;
      out.log_prob.segment(first, count) -= data.log_det;
    });
    return out;
  }

  /// work(first, count) over row chunks of n rows, threaded where OpenMP is on
  /// (one empty chunk when n = 0, so that the layers still check the shape).
  template <class Work>
  static void for_each_chunk(Index n, const Work& work) {
    const Index chunks = std::max<Index>(1, detail::chunk_count(n));
    detail::parallel_for(chunks, available_threads(), [&](Index c) {
      const Index first = c * detail::row_chunk;
      work(first, std::min(detail::row_chunk, n - first));
    });
  }

  Matrix<S> draw_base(Index n, Random& rng) const {
    if (n < 0) throw ValueError("sample: the number of points must be non-negative, found " + std::to_string(n));
    return derived().base().sample(n, rng);
  }
  const Derived& derived() const { return static_cast<const Derived&>(*this); }
  Derived& derived() { return static_cast<Derived&>(*this); }
};

}  // namespace eigenflow

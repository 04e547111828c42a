// What the trainer does differently when its training rows are one rank's
// shard of a global training set (TrainOptions::communicator): which global
// rows this rank holds, the gradient summed across ranks, the first batch
// gathered for data-dependent initialisation, and the checks that every rank
// runs the same training.
//
// Why this gives the one-process model: every rank draws the same global
// minibatch order and the same noise for every row of a batch (its own rows
// use theirs), computes ∇ Σ_{i ∈ its rows} −log p(x_i) / m for the global batch
// size m, and the sum over ranks is the one-process gradient up to the order
// of floating-point additions. Every rank then takes the same optimizer step.
#pragma once

#include <algorithm>
#include <cmath>
#include <exception>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "eigenflow/autodiff/parameter.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/parallel.hpp"
#include "eigenflow/core/types.hpp"
#include "eigenflow/data/preprocess.hpp"
#include "eigenflow/train/batch_gradient.hpp"
#include "eigenflow/train/communicator.hpp"
#include "eigenflow/train/pooled_statistics.hpp"

namespace eigenflow::detail {

/// Collective: the global index of this rank's first row when every rank's rows follow the
/// lower ranks' (rank order), and the rows of all ranks.
struct RankBlock {
  Index first = 0, global_rows = 0;

  static RankBlock of(Communicator& communicator, Index local_rows) {
    const std::vector<double> counts = communicator.gather({static_cast<double>(local_rows)});
    RankBlock block;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      const auto rows = static_cast<Index>(counts[r]);
      if (static_cast<int>(r) < communicator.rank()) block.first += rows;
      block.global_rows += rows;
    }
    return block;
  }
};

/// Where this rank's training rows sit in the global training set.
struct ShardLayout {
  Index global_rows = 0;
  /// Global row → this rank's row, or −1 for another rank's row.
  std::vector<Index> local_row;

  /// shard_rows: the global index of each local row; empty: the shards in rank order
  /// (rank r's rows follow rank r − 1's). Collective; throws on every rank when the
  /// indices are out of range or two ranks (or one) claim a row twice.
  static ShardLayout build(Communicator& communicator, Index local_rows, const std::vector<Index>& shard_rows) {
    const RankBlock block = RankBlock::of(communicator, local_rows);
    ShardLayout layout;
    layout.global_rows = block.global_rows;
    layout.local_row.assign(static_cast<std::size_t>(layout.global_rows), -1);
    if (shard_rows.empty()) {
      for (Index i = 0; i < local_rows; ++i) layout.local_row[static_cast<std::size_t>(block.first + i)] = i;
      return layout;
    }
    std::exception_ptr failure;
    try {
      if (static_cast<Index>(shard_rows.size()) != local_rows)
        throw ValueError("train: expected one shard row index per training row (" + std::to_string(local_rows) + "), found " +
                         std::to_string(shard_rows.size()));
      for (Index i = 0; i < local_rows; ++i) {
        const Index row = shard_rows[static_cast<std::size_t>(i)];
        if (row < 0 || row >= layout.global_rows)
          throw ValueError("train: shard row index " + std::to_string(row) + " is outside the global training set's " +
                           std::to_string(layout.global_rows) + " rows");
        layout.local_row[static_cast<std::size_t>(row)] = i;
      }
    } catch (...) {
      failure = std::current_exception();
    }
    agree_or_throw(communicator, failure, "train");
    // Every global row held exactly once: the ranks' indicators sum to one everywhere.
    std::vector<double> held(layout.local_row.size(), 0.0);
    for (const Index row : shard_rows) held[static_cast<std::size_t>(row)] += 1;
    communicator.sum(held.data(), held.size());
    for (std::size_t row = 0; row < held.size(); ++row)
      if (held[row] != 1)
        throw ValueError("train: global training row " + std::to_string(row) + " is held by " +
                         std::to_string(static_cast<long long>(held[row])) + " ranks' shards, not by one");
    return layout;
  }
};

/// Collective: refuses a run whose ranks were given different settings (each rank's
/// `settings`, named by `names`, compared with rank 0's), on every rank.
inline void require_same_settings(Communicator& communicator, const std::vector<double>& settings,
                                  const std::vector<const char*>& names) {
  const std::vector<double> all = communicator.gather(settings);
  const std::size_t count = settings.size();
  if (all.size() != count * static_cast<std::size_t>(communicator.size()))
    throw ValueError("train: the ranks describe their settings differently (a different eigenflow on some rank?)");
  for (int rank = 1; rank < communicator.size(); ++rank)
    for (std::size_t k = 0; k < count; ++k) {
      const double theirs = all[static_cast<std::size_t>(rank) * count + k], first = all[k];
      if (!(theirs == first || (std::isnan(theirs) && std::isnan(first))))
        throw ValueError("train: rank " + std::to_string(rank) + "'s " + names[k] + " (" + std::to_string(theirs) +
                         ") differs from rank 0's (" + std::to_string(first) + "); every rank must train with the same settings");
    }
}

/// Collective: every parameter's grad ← Σ over ranks, in one call.
template <class S>
void sum_gradients(Communicator& communicator, const ParameterList<S>& parameters, std::vector<S>& buffer) {
  std::size_t size = 0;
  for (const auto* p : parameters) size += static_cast<std::size_t>(p->grad.size());
  buffer.resize(size);
  std::size_t at = 0;
  for (const auto* p : parameters) {
    std::copy(p->grad.data(), p->grad.data() + p->grad.size(), buffer.data() + at);
    at += static_cast<std::size_t>(p->grad.size());
  }
  communicator.sum(buffer.data(), buffer.size());
  at = 0;
  for (auto* p : parameters) {
    std::copy(buffer.data() + at, buffer.data() + at + p->grad.size(), p->grad.data());
    at += static_cast<std::size_t>(p->grad.size());
  }
}

/// Collective: the rows of one global batch that the ranks hold (row k of `points`
/// at batch position positions[k]), put back in batch order on every rank; a
/// context's columns follow the points' in `batch_context`.
template <class S>
void gather_batch(Communicator& communicator, Index batch_rows, const std::vector<Index>& positions, const Matrix<S>& points,
                  const Matrix<S>& context, Matrix<S>& batch_points, Matrix<S>& batch_context) {
  const Index cols = points.cols(), context_cols = context.cols(), width = 1 + cols + context_cols;
  std::vector<double> mine;
  mine.reserve(positions.size() * static_cast<std::size_t>(width));
  for (std::size_t k = 0; k < positions.size(); ++k) {
    const auto row = static_cast<Index>(k);
    mine.push_back(static_cast<double>(positions[k]));
    for (Index j = 0; j < cols; ++j) mine.push_back(static_cast<double>(points(row, j)));
    for (Index j = 0; j < context_cols; ++j) mine.push_back(static_cast<double>(context(row, j)));
  }
  const std::vector<double> all = communicator.gather(mine);
  batch_points.resize(batch_rows, cols);
  batch_context.resize(batch_rows, context_cols);
  for (std::size_t at = 0; at + static_cast<std::size_t>(width) <= all.size(); at += static_cast<std::size_t>(width)) {
    const auto row = static_cast<Index>(all[at]);
    for (Index j = 0; j < cols; ++j) batch_points(row, j) = static_cast<S>(all[at + 1 + static_cast<std::size_t>(j)]);
    for (Index j = 0; j < context_cols; ++j)
      batch_context(row, j) = static_cast<S>(all[at + 1 + static_cast<std::size_t>(cols + j)]);
  }
}

/// Collective: every rank's values for its chunks k ≡ rank (mod P) of `chunks` (chunk k's
/// size(k) values, its chunks in increasing k), put in chunk order on every rank.
template <class Size>
std::vector<double> in_chunk_order(Communicator& communicator, Index chunks, const std::vector<double>& mine, const Size& size) {
  const Index ranks = communicator.size();
  const std::vector<double> all = communicator.gather(mine);
  // Rank r sent its chunks r, r + P, … in order, after every lower rank's.
  std::vector<std::size_t> from(static_cast<std::size_t>(ranks));
  std::size_t at = 0;
  for (Index r = 0; r < ranks; ++r) {
    from[static_cast<std::size_t>(r)] = at;
    for (Index k = r; k < chunks; k += ranks) at += size(k);
  }
  std::vector<double> ordered;
  ordered.reserve(all.size());
  for (Index k = 0; k < chunks; ++k) {
    std::size_t& start = from[static_cast<std::size_t>(k % ranks)];
    ordered.insert(ordered.end(), all.begin() + static_cast<std::ptrdiff_t>(start),
                   all.begin() + static_cast<std::ptrdiff_t>(start + size(k)));
    start += size(k);
  }
  return ordered;
}

/// Collective: ∇ −(1/m) Σ log p over the global batch (`batch`, and `context` when
/// conditional, whole on every rank) as a sum over chunks of `chunk` rows added in chunk
/// order, chunk k's term computed by rank k mod P: the same bits for every P. Leaves the
/// gradient in the parameters' grad and returns the loss. `gradient` runs on one thread.
template <class Flow, class S>
double chunked_gradient(Communicator& communicator, Flow& flow, const ParameterList<S>& parameters, BatchGradient<S>& gradient,
                        const Matrix<S>& batch, const Matrix<S>* context, Index chunk) {
  const Index rows = batch.rows(), chunks = (rows + chunk - 1) / chunk;
  const Index ranks = communicator.size(), rank = communicator.rank();
  std::size_t size = 0;
  for (const auto* p : parameters) size += static_cast<std::size_t>(p->grad.size());
  const std::size_t width = size + 1;  // a chunk's term: its gradient, then its loss
  std::vector<double> mine;
  for (Index k = rank; k < chunks; k += ranks) {
    const Index first = k * chunk, count = std::min(chunk, rows - first);
    for (auto* p : parameters) p->zero_grad();
    const Matrix<S> x = batch.middleRows(first, count);
    const double loss = context ? gradient(flow, x, detail::middle_rows(*context, first, count)) : gradient(flow, x);
    const double share = static_cast<double>(count) / static_cast<double>(rows);
    for (const auto* p : parameters)
      for (Index i = 0; i < p->grad.size(); ++i) mine.push_back(static_cast<double>(p->grad.data()[i]) * share);
    mine.push_back(loss * share);
  }
  const std::vector<double> terms = in_chunk_order(communicator, chunks, mine, [width](Index) { return width; });
  std::vector<double> total(width, 0.0);
  for (Index k = 0; k < chunks; ++k) {
    const double* term = terms.data() + static_cast<std::size_t>(k) * width;
    for (std::size_t j = 0; j < width; ++j) total[j] += term[j];
  }
  std::size_t at = 0;
  for (auto* p : parameters)
    for (Index i = 0; i < p->grad.size(); ++i) p->grad.data()[i] = static_cast<S>(total[at++]);
  return total.back();
}

/// Collective: one value per row of a global set of `rows` rows held whole by every rank,
/// in row order on every rank: rank r computes the chunks k ≡ r (mod P) of `chunk` rows
/// (values(first, count) gives a chunk's), so each value is computed on the same rows at
/// the same positions for every P — the same bits.
template <class Values>
std::vector<double> values_by_chunks(Communicator& communicator, Index rows, Index chunk, const Values& values) {
  const Index chunks = (rows + chunk - 1) / chunk, ranks = communicator.size();
  auto size = [&](Index k) { return std::min(chunk, rows - k * chunk); };  // the last chunk may be short
  std::vector<double> mine;
  for (Index k = communicator.rank(); k < chunks; k += ranks) {
    const std::vector<double> part = values(k * chunk, size(k));
    mine.insert(mine.end(), part.begin(), part.end());
  }
  return in_chunk_order(communicator, chunks, mine, [&](Index k) { return static_cast<std::size_t>(size(k)); });
}

}  // namespace eigenflow::detail

// mpirun -np P eigenflow train: each rank reads only its part of the data and
// keeps its rows of each split, exactly the rows the one-process split would
// put there (the split's shuffle is drawn for all N rows on every rank).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <exception>
#include <numeric>
#include <string>
#include <tuple>
#include <utility>
#include <vector>

#include "context.hpp"
#include "options.hpp"

namespace eigenflow::cli {

/// A rank's own failure (its part of the file is malformed, empty, …): reported by
/// that rank alone; the other ranks stop with a RemoteError and say nothing.
class ShardError : public Error {
 public:
  using Error::Error;
};

/// This rank's rows of the one-process split, and the split's global sizes.
struct Shards {
  Communicator* communicator = nullptr;
  DataSplit rows;                     ///< this rank's training, validation and test points
  DataSplit context;                  ///< their context rows (no columns for an unconditional flow)
  std::vector<Index> training_rows;   ///< the global training-set index of each training row (TrainOptions::shard_rows)
  std::vector<Index> validation_rows, test_rows;  ///< the same for the held-out rows
  Index training = 0, validation = 0, test = 0;  ///< rows of each split, all ranks together
};

/// Collective: when any rank failed, the lowest failing rank throws a ShardError with its
/// message, every other rank a RemoteError; so exactly one rank reports.
inline void report_first_failure(Communicator& communicator, const std::string& failure) {
  const std::vector<double> failed = communicator.gather({failure.empty() ? 0.0 : 1.0});
  for (std::size_t rank = 0; rank < failed.size(); ++rank) {
    if (failed[rank] == 0) continue;
    if (static_cast<int>(rank) == communicator.rank()) throw ShardError("rank " + std::to_string(rank) + ": " + failure);
    throw RemoteError("rank " + std::to_string(rank) + " failed");
  }
}

/// Rows [first, first + count) of n rows split into blocks in rank order: this rank's block.
inline std::pair<Index, Index> rank_block(Index n, const Communicator& communicator) {
  const Index first = n * communicator.rank() / communicator.size(), last = n * (communicator.rank() + 1) / communicator.size();
  return {first, last - first};
}

/// Collective: this rank's part of --data (read_csv_part) or of the built-in set (every
/// rank generates it from the seed and keeps its block), its context columns moved last
/// as train_command moves them, split as train_command splits. Held-out files
/// (--validation-data, --test-data) are read whole by every rank, which keeps its block
/// of their rows: in rank order they are the file's rows, as one process has them.
inline Shards load_shards(const Options& o, Communicator& communicator) {
  const int rank = communicator.rank(), ranks = communicator.size();
  Random data_rng(o.seed);
  JointRows part;
  std::string failure;
  try {
    if (o.data_path.empty()) {
      const JointRows all = load_joint_rows(o, "", data_rng, o.dataset);
      const auto [first, count] = rank_block(all.values.rows(), communicator);
      require(count > 0, "the data set's " + std::to_string(all.values.rows()) + " rows leave this rank none");
      part = {all.values.middleRows(first, count), all.context_dim};
    } else {
      part = context_last(read_csv_part(o.data_path, rank, ranks), o, "'" + o.data_path + "'");
    }
    detail::require_finite("training data", part.values);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  report_first_failure(communicator, failure);
  const Index dim = part.values.cols() - part.context_dim;
  const std::vector<Index> integer_columns = dequantized_columns(o, dim);
  const Bounds bounds = bounds_of(o);

  // Every part has the file's columns; rows are numbered in rank order.
  const std::vector<double> shapes = communicator.gather({static_cast<double>(part.values.rows()), static_cast<double>(part.values.cols())});
  Index offset = 0, total_rows = 0;
  for (int r = 0; r < ranks; ++r) {
    const auto rows = static_cast<Index>(shapes[2 * static_cast<std::size_t>(r)]);
    const auto cols = static_cast<Index>(shapes[2 * static_cast<std::size_t>(r) + 1]);
    if (cols != part.values.cols())
      throw FormatError("'" + o.data_path + "': rank " + std::to_string(r) + "'s part has " + std::to_string(cols) +
                        " columns, rank " + std::to_string(rank) + "'s " + std::to_string(part.values.cols()));
    if (r < rank) offset += rows;
    total_rows += rows;
  }
  try {  // rows named as one process names them: by their place in the whole data
    check_preprocessing_flags(o, integer_columns, bounds, part.values.leftCols(dim), offset);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  report_first_failure(communicator, failure);
  const bool validation_given = !o.validation_path.empty(), test_given = !o.test_path.empty();
  const SplitPlan plan =
      plan_split(total_rows, validation_given ? 0 : o.validation_fraction, test_given ? 0 : o.test_fraction, data_rng);
  std::vector<Index> position(static_cast<std::size_t>(total_rows));  // global row → its place in the shuffle
  for (std::size_t p = 0; p < plan.order.size(); ++p) position[static_cast<std::size_t>(plan.order[p])] = static_cast<Index>(p);

  Shards shards;
  shards.communicator = &communicator;
  shards.training = static_cast<Index>(plan.train);
  shards.validation = static_cast<Index>(plan.validation);
  shards.test = static_cast<Index>(plan.test);
  std::vector<Index> validation_rows, test_rows, training_local;
  for (Index i = 0; i < part.values.rows(); ++i) {
    const auto p = static_cast<std::size_t>(position[static_cast<std::size_t>(offset + i)]);
    if (p < plan.train) {
      training_local.push_back(i);
      shards.training_rows.push_back(static_cast<Index>(p));
    } else if (p < plan.train + plan.validation) {
      validation_rows.push_back(i);
      shards.validation_rows.push_back(static_cast<Index>(p - plan.train));
    } else {
      test_rows.push_back(i);
      shards.test_rows.push_back(static_cast<Index>(p - plan.train - plan.validation));
    }
  }
  DataSplit joint{select_rows(part.values, training_local, 0, training_local.size()),
                  select_rows(part.values, validation_rows, 0, validation_rows.size()),
                  select_rows(part.values, test_rows, 0, test_rows.size())};
  // This rank's block of a held-out file's rows, their indices, and how many the file has.
  auto held_out = [&](const std::string& path, Matrix<double>& mine, std::vector<Index>& indices, Index& total) {
    std::string problem;
    try {
      const JointRows rows = load_joint_rows(o, path, data_rng, "'" + path + "'", part.context_dim);
      require_training_layout(rows, dim, part.context_dim, "'" + path + "'");
      detail::require_finite(("'" + path + "'").c_str(), rows.values);
      check_preprocessing_flags(o, integer_columns, bounds, rows.values.leftCols(dim));
      const auto [first, count] = rank_block(rows.values.rows(), communicator);
      mine = rows.values.middleRows(first, count);
      indices.resize(static_cast<std::size_t>(count));
      std::iota(indices.begin(), indices.end(), first);
      total = rows.values.rows();
    } catch (const std::exception& e) {
      problem = e.what();
    }
    report_first_failure(communicator, problem);
  };
  if (validation_given) held_out(o.validation_path, joint.validation, shards.validation_rows, shards.validation);
  if (test_given) held_out(o.test_path, joint.test, shards.test_rows, shards.test);
  std::tie(shards.rows, shards.context) = split_columns(joint, dim);
  failure = shards.rows.train.rows() > 0 ? "" : "no training rows in this rank's part after the split (fewer rows than ranks?)";
  report_first_failure(communicator, failure);
  return shards;
}

/// This rank's rows of each split plus the one process's fixed dequantisation draw
/// (train_command's `noisy`: dequantized_copy of the training, validation and test rows
/// in turn, from one engine). Every rank draws the noise of every row of each split in
/// that order (add_uniform_noise's: column by column, rows in split order) and adds
/// its own rows' — O(N·D) draws, no memory beyond an index per row.
inline DataSplit dequantized_shards(const DataSplit& split, const Shards& shards, const std::vector<Index>& columns, Random& rng) {
  auto noisy = [&](Matrix<double> rows, const std::vector<Index>& indices, Index total) {
    std::vector<Index> local(static_cast<std::size_t>(total), -1);  // split row → this rank's row
    for (std::size_t i = 0; i < indices.size(); ++i) local[static_cast<std::size_t>(indices[i])] = static_cast<Index>(i);
    for (const Index j : columns)
      for (Index g = 0; g < total; ++g) {
        const double u = rng.uniform();
        if (local[static_cast<std::size_t>(g)] >= 0) rows(local[static_cast<std::size_t>(g)], j) += u;
      }
    return rows;
  };
  DataSplit out;
  out.train = noisy(split.train, shards.training_rows, shards.training);
  out.validation = noisy(split.validation, shards.validation_rows, shards.validation);
  out.test = noisy(split.test, shards.test_rows, shards.test);
  return out;
}

}  // namespace eigenflow::cli

// mpirun -np P eigenflow train: each rank reads only its part of the data and
// keeps its rows of each split, exactly the rows the one-process split would
// put there (the split's shuffle is drawn for all N rows on every rank).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <exception>
#include <string>
#include <vector>

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
  DataSplit rows;                     ///< this rank's training, validation and test rows
  std::vector<Index> training_rows;   ///< the global training-set index of each training row (TrainOptions::shard_rows)
  Index training = 0, validation = 0, test = 0;  ///< rows of each split, all ranks together
  std::vector<std::string> header;    ///< the file's column names (empty without)
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

/// Collective: this rank's part of --data (read_csv_part) or of the built-in set (every
/// rank generates it from the seed and keeps its part), split as train_command splits.
inline Shards load_shards(const Options& o, Communicator& communicator) {
  const int rank = communicator.rank(), ranks = communicator.size();
  Random data_rng(o.seed);
  Matrix<double> part;
  Index total_rows = 0;
  std::vector<std::string> header;
  std::string failure;
  try {
    if (o.data_path.empty()) {
      const Matrix<double> all = generate_dataset(o.dataset, static_cast<Index>(o.n), data_rng, o.noise, o.dim);
      const Index first = all.rows() * rank / ranks, last = all.rows() * (rank + 1) / ranks;
      require(last > first, "the data set's " + std::to_string(all.rows()) + " rows leave this rank none");
      part = all.middleRows(first, last - first);
    } else {
      CsvTable table = read_csv_part(o.data_path, rank, ranks);
      part = std::move(table.values);
      header = std::move(table.header);
    }
    detail::require_finite("training data", part);
  } catch (const std::exception& e) {
    failure = e.what();
  }
  report_first_failure(communicator, failure);

  // Every part has the file's columns; rows are numbered in rank order.
  const std::vector<double> shapes = communicator.gather({static_cast<double>(part.rows()), static_cast<double>(part.cols())});
  Index offset = 0;
  for (int r = 0; r < ranks; ++r) {
    const auto rows = static_cast<Index>(shapes[2 * static_cast<std::size_t>(r)]);
    const auto cols = static_cast<Index>(shapes[2 * static_cast<std::size_t>(r) + 1]);
    if (cols != part.cols())
      throw FormatError("'" + o.data_path + "': rank " + std::to_string(r) + "'s part has " + std::to_string(cols) +
                        " columns, rank " + std::to_string(rank) + "'s " + std::to_string(part.cols()));
    if (r < rank) offset += rows;
    total_rows += rows;
  }
  const SplitPlan plan = plan_split(total_rows, o.validation_fraction, o.test_fraction, data_rng);
  std::vector<Index> position(static_cast<std::size_t>(total_rows));  // global row → its place in the shuffle
  for (std::size_t p = 0; p < plan.order.size(); ++p) position[static_cast<std::size_t>(plan.order[p])] = static_cast<Index>(p);

  Shards shards;
  shards.communicator = &communicator;
  shards.header = std::move(header);
  shards.training = static_cast<Index>(plan.train);
  shards.validation = static_cast<Index>(plan.validation);
  shards.test = static_cast<Index>(plan.test);
  std::vector<Index> validation_rows, test_rows, training_local;
  for (Index i = 0; i < part.rows(); ++i) {
    const auto p = static_cast<std::size_t>(position[static_cast<std::size_t>(offset + i)]);
    if (p < plan.train) {
      training_local.push_back(i);
      shards.training_rows.push_back(static_cast<Index>(p));
    } else if (p < plan.train + plan.validation) {
      validation_rows.push_back(i);
    } else {
      test_rows.push_back(i);
    }
  }
  shards.rows = {select_rows(part, training_local, 0, training_local.size()), select_rows(part, validation_rows, 0, validation_rows.size()),
                 select_rows(part, test_rows, 0, test_rows.size())};
  failure = shards.rows.train.rows() > 0 ? "" : "no training rows in this rank's part after the split (fewer rows than ranks?)";
  report_first_failure(communicator, failure);
  return shards;
}

}  // namespace eigenflow::cli

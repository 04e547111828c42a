// mpirun -np P eigenflow train: the flags' flow trained data-parallel
// (TrainOptions::communicator) on each rank's part of the data. The model is
// the one process's to the rounding of the gradient sums (tests/mpi,
// tests/cli/test_mpi_cli.sh). Rank 0 writes the model and prints; the other
// ranks' standard output is closed (main.cpp).
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <vector>

#include "options.hpp"
#include "shards.hpp"
#include "train_command.hpp"

namespace eigenflow::cli {

template <class S>
int train_data_parallel_command(const Options& given, Communicator& communicator) {
  const bool reporting = communicator.rank() == 0;
  std::string failure;  // the model file is rank 0's: only its file system need hold it
  if (reporting) try {
      require_writable_destination(given.out);
    } catch (const std::exception& e) {
      failure = e.what();
    }
  report_first_failure(communicator, failure);
  Shards shards = load_shards(given, communicator);
  const Index dim = shards.rows.train.cols(), context_dim = shards.context.train.cols();
  const Options o = with_data_defaults(given, shards.training, dim, context_dim);
  check_subspace_flags(o, dim);
  if (reporting)
    std::printf("data-parallel ranks=%d rows=%lld (each rank read its part)\n", communicator.size(),
                static_cast<long long>(shards.training + shards.validation + shards.test));
  check_preprocessing_combination(given, context_dim);
  std::optional<DataSplit> noisy;  // dequantised data: the one process's fixed draw of this rank's rows
  const TrainedFlow<S> fitted =
      o.flow.family == "subspace" ? fit_default_beyond_2d<S>(given, o, shards.rows, shards.context, &shards)
                                  : fit_flow<S>(o, shards.rows, shards.context, dequantized_columns(o, dim), bounds_of(o), noisy, &shards);

  // −Σ log p of each split over every rank's rows, then its mean.
  std::vector<double> totals(3, 0.0);
  const DataSplit& evaluated = noisy ? *noisy : shards.rows;
  const Matrix<double>* splits[] = {&evaluated.train, &evaluated.validation, &evaluated.test};
  const Matrix<double>* contexts[] = {&shards.context.train, &shards.context.validation, &shards.context.test};
  for (std::size_t k = 0; k < 3; ++k)
    if (splits[k]->rows() > 0) {
      const Matrix<S> context = as_scalar<S>(*contexts[k]);
      totals[k] = detail::total_nll(fitted.flow, Matrix<S>(as_scalar<S>(*splits[k])), context_dim > 0 ? &context : nullptr, 16384);
    }
  communicator.sum(totals.data(), totals.size());
  const Index counts[] = {shards.training, shards.validation, shards.test};
  auto mean = [&](std::size_t k) { return counts[k] > 0 ? totals[k] / static_cast<double>(counts[k]) : double(NAN); };
  if (reporting) {
    save_model(o.out, fitted.flow);  // after the last collective call: a failure here leaves no rank waiting
    std::printf("final train_nll=%s val_nll=%s test_nll=%s seconds=%.2f %s\n", format_nll(mean(0)).c_str(),
                format_nll(mean(1)).c_str(), format_nll(mean(2)).c_str(), fitted.seconds, fitted.kept.c_str());
    if (o.dequantize) print_bits_per_dim(mean(0), mean(1), mean(2), dim);
  }
  return 0;
}

}  // namespace eigenflow::cli

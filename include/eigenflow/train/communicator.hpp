// The processes of a data-parallel training run, as the trainer needs them:
// its rank, how many there are, element-wise sums across all of them
// (the gradient, the losses), and every rank's values gathered on every rank
// (the first batch for data-dependent initialisation, per-row validation
// gains). The trainer depends on this interface only, so the library builds
// without MPI; eigenflow/mpi/mpi_communicator.hpp implements it over MPI.
//
// Every call is collective: all ranks make it, in the same order.
#pragma once

#include <cstddef>
#include <exception>
#include <string>
#include <vector>

#include "eigenflow/core/error.hpp"

namespace eigenflow {

class Communicator {
 public:
  virtual ~Communicator() = default;
  virtual int rank() const = 0;
  virtual int size() const = 0;
  /// values ← Σ over ranks of values, element-wise; every rank ends with the same bits.
  virtual void sum(double* values, std::size_t count) = 0;
  virtual void sum(float* values, std::size_t count) = 0;
  /// Every rank's values, concatenated in rank order (ranks may give different counts).
  virtual std::vector<double> gather(const std::vector<double>& values) = 0;
};

/// One process as a communicator of one rank: data-parallel settings (chunk_rows) with
/// no other process, the same bits as any number of MPI ranks.
class SingleProcess final : public Communicator {
 public:
  int rank() const override { return 0; }
  int size() const override { return 1; }
  void sum(double*, std::size_t) override {}
  void sum(float*, std::size_t) override {}
  std::vector<double> gather(const std::vector<double>& values) override { return values; }
};

/// A failure on another rank, seen by a rank whose own part was fine: the failing
/// rank reports the cause, so a command line reporting errors prints this one
/// only when it has nothing better (it is a RemoteError, not the cause).
class RemoteError : public Error {
 public:
  using Error::Error;
};

namespace detail {
/// Collective: throws on every rank when `failure` (empty: this rank is fine) is
/// set on any; the failing rank rethrows its own exception, the others a
/// RemoteError naming the first failing rank. Keeps one rank's refused input from
/// leaving the others waiting forever in the next collective call.
inline void agree_or_throw(Communicator& communicator, std::exception_ptr failure, const std::string& where) {
  const std::vector<double> failed = communicator.gather({failure ? 1.0 : 0.0});
  if (failure) std::rethrow_exception(failure);
  for (std::size_t rank = 0; rank < failed.size(); ++rank)
    if (failed[rank] != 0) throw RemoteError(where + ": rank " + std::to_string(rank) + " failed (its message says why)");
}

/// check() on this rank; with a communicator (collective) a failure on any rank throws
/// on every rank (agree_or_throw), without one it throws here.
template <class Check>
void check_on_every_rank(Communicator* communicator, const std::string& where, const Check& check) {
  if (!communicator) {
    check();
    return;
  }
  std::exception_ptr failure;
  try {
    check();
  } catch (...) {
    failure = std::current_exception();
  }
  agree_or_throw(*communicator, failure, where);
}
}  // namespace detail

}  // namespace eigenflow

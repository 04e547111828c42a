// The trainer's Communicator over MPI (link eigenflow::mpi): data-parallel
// training across processes and machines, started by mpirun.
//
//   eigenflow::MpiSession session(argc, argv);   // MPI_Init … MPI_Finalize
//   eigenflow::MpiCommunicator world;            // MPI_COMM_WORLD
//   options.communicator = &world;               // TrainOptions
//
// Sums are MPI_Allreduce by default: fast, but MPI does not promise that the
// order of additions stays the same from run to run. Reduction::ordered
// gathers every rank's values and adds them in rank order on every rank, so a
// run is bit-identical to the next with the same ranks (P times the memory and
// traffic of an allreduce; the gradient is small, so this is cheap below a few
// dozen ranks).
#pragma once

#include <mpi.h>

#include <climits>
#include <cstddef>
#include <string>
#include <vector>

#include "eigenflow/train/communicator.hpp"

namespace eigenflow {

/// Initialises MPI for the life of the object (MPI_Init_thread, funneled: only
/// the main thread calls MPI; OpenMP threads inside a rank are fine) and
/// finalises it after. Does nothing when MPI was already initialised.
class MpiSession {
 public:
  MpiSession(int& argc, char**& argv) { initialize(&argc, &argv); }
  /// Without the program's arguments (MPI allows it): a test fixture, a library's own init.
  MpiSession() { initialize(nullptr, nullptr); }
  ~MpiSession() {
    if (owner_) MPI_Finalize();
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;

 private:
  void initialize(int* argc, char*** argv) {
    int initialized = 0;
    MPI_Initialized(&initialized);
    if (initialized) return;
    int provided = 0;
    if (MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided) != MPI_SUCCESS) throw Error("MPI_Init_thread failed");
    owner_ = true;
  }

  bool owner_ = false;
};

class MpiCommunicator final : public Communicator {
 public:
  enum class Reduction { allreduce, ordered };

  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD, Reduction reduction = Reduction::allreduce)
      : comm_(comm), reduction_(reduction) {
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &size_);
    // Failures come back as error codes (thrown below), not as MPI's default abort.
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
  }

  int rank() const override { return rank_; }
  int size() const override { return size_; }
  Reduction reduction() const { return reduction_; }

  void sum(double* values, std::size_t count) override { sum_of(values, count, MPI_DOUBLE); }
  void sum(float* values, std::size_t count) override { sum_of(values, count, MPI_FLOAT); }

  std::vector<double> gather(const std::vector<double>& values) override {
    const int mine = checked_count(values.size());
    std::vector<int> counts(static_cast<std::size_t>(size_)), offsets(static_cast<std::size_t>(size_));
    check(MPI_Allgather(&mine, 1, MPI_INT, counts.data(), 1, MPI_INT, comm_), "MPI_Allgather");
    long long total = 0;
    for (std::size_t r = 0; r < counts.size(); ++r) {
      offsets[r] = checked_count(static_cast<std::size_t>(total));
      total += counts[r];
    }
    std::vector<double> all(static_cast<std::size_t>(checked_count(static_cast<std::size_t>(total))));
    check(MPI_Allgatherv(values.data(), mine, MPI_DOUBLE, all.data(), counts.data(), offsets.data(), MPI_DOUBLE, comm_),
          "MPI_Allgatherv");
    return all;
  }

 private:
  template <class T>
  void sum_of(T* values, std::size_t count, MPI_Datatype type) {
    const int n = checked_count(count);
    if (reduction_ == Reduction::allreduce || size_ == 1) {
      check(MPI_Allreduce(MPI_IN_PLACE, values, n, type, MPI_SUM, comm_), "MPI_Allreduce");
      return;
    }
    // Σ_r values_r, added in rank order: the same bits on every rank and in every run.
    std::vector<T> all(count * static_cast<std::size_t>(size_));
    check(MPI_Allgather(values, n, type, all.data(), n, type, comm_), "MPI_Allgather");
    for (std::size_t i = 0; i < count; ++i) {
      T total = all[i];
      for (std::size_t r = 1; r < static_cast<std::size_t>(size_); ++r) total += all[r * count + i];
      values[i] = total;
    }
  }

  static int checked_count(std::size_t count) {
    if (count > static_cast<std::size_t>(INT_MAX))
      throw ValueError("MpiCommunicator: " + std::to_string(count) + " values exceed one MPI message's count limit");
    return static_cast<int>(count);
  }

  static void check(int code, const char* call) {
    if (code == MPI_SUCCESS) return;
    char text[MPI_MAX_ERROR_STRING];
    int length = 0;
    MPI_Error_string(code, text, &length);
    throw IoError(std::string(call) + " failed: " + std::string(text, static_cast<std::size_t>(length)));
  }

  MPI_Comm comm_;
  Reduction reduction_;
  int rank_ = 0, size_ = 1;
};

}  // namespace eigenflow

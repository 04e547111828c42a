// One training step's worth of calculus: the loss −mean log p(x) (or, for a
// conditional flow, −mean log p(x | c)) over a batch and its gradient, on one
// thread or several.
//
// With W workers, worker w takes rows [w·m/W, (w+1)·m/W) of the m-row batch
// onto its own tape; the loss is Σ_w (m_w/m) · (−mean log p over its rows), and
// each tape's parameter gradients are added after all have swept, one tape at
// a time, so the threads never write the same memory. Tapes and row buffers are
// kept for the last few batch sizes (a training loop has two: full and
// remainder): after the first step of a size, nothing is allocated.
#pragma once

#include <algorithm>
#include <memory>
#include <string>
#include <vector>

#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/autodiff/tape.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/parallel.hpp"

namespace eigenflow {

template <class S>
class BatchGradient {
 public:
  /// threads: 0 means available_threads(). A worker gets at least
  /// min_rows_per_thread rows, so small batches stay on one thread.
  explicit BatchGradient(int threads = 0, Index min_rows_per_thread = 256)
      : threads_(threads > 0 ? threads : available_threads()), min_rows_per_thread_(min_rows_per_thread) {
    if (threads < 0) throw ValueError("BatchGradient: threads must be non-negative, found " + std::to_string(threads));
    if (min_rows_per_thread < 1)
      throw ValueError("BatchGradient: min_rows_per_thread must be positive, found " + std::to_string(min_rows_per_thread));
  }

  /// Workers a batch of `rows` rows is split between.
  Index workers(Index rows) const { return std::clamp<Index>(rows / min_rows_per_thread_, 1, threads_); }

  /// Adds ∇ −mean log p(batch) into the parameters' grad (the caller zeroes them
  /// first) and returns the loss. Flow: negative_log_likelihood(tape, x) as FlowStack has it.
  template <class Flow>
  double operator()(Flow& flow, const Matrix<S>& batch) {
    return run(flow, batch, nullptr);
  }
  /// The same for a conditional flow: −mean log p(x | c), context one row per batch row.
  template <class Flow>
  double operator()(Flow& flow, const Matrix<S>& batch, const Matrix<S>& context) {
    if (context.rows() != batch.rows())
      throw ShapeError("BatchGradient: expected one context row per batch row (" + std::to_string(batch.rows()) +
                       "), found " + std::to_string(context.rows()));
    return run(flow, batch, &context);
  }

 private:
  struct Workspace {
    Index batch_rows = 0, cols = 0, context_cols = 0;
    std::vector<std::unique_ptr<Tape<S>>> tapes;  // Vars point at their tape: never moved
    std::vector<Matrix<S>> rows, context_rows;
    std::vector<double> loss;
  };

  static Index first_row(Index rows, Index w, Index count) { return w * rows / count; }

  // −mean log p(batch [| context]) and its gradient, split between the workers.
  template <class Flow>
  double run(Flow& flow, const Matrix<S>& batch, const Matrix<S>* context) {
    if (batch.rows() == 0) throw ValueError("BatchGradient: empty batch");
    Workspace& work = workspace_for(batch.rows(), batch.cols(), context ? context->cols() : 0);
    const Index count = static_cast<Index>(work.tapes.size());
    auto loss_on = [&](Tape<S>& tape, const Matrix<S>& rows, const Matrix<S>* rows_context) {
      return rows_context ? flow.negative_log_likelihood(tape, tape.constant(rows), tape.constant(*rows_context))
                          : flow.negative_log_likelihood(tape, tape.constant(rows));
    };
    if (count == 1) {
      Tape<S>& tape = *work.tapes[0];
      tape.clear();
      const Var<S> loss = loss_on(tape, batch, context);
      tape.backward(loss);
      return static_cast<double>(loss.value()(0, 0));
    }
    for (Index w = 0; w < count; ++w) {
      const auto slot = static_cast<std::size_t>(w);
      const Index first = first_row(batch.rows(), w, count);
      work.rows[slot] = batch.middleRows(first, work.rows[slot].rows());
      if (context) work.context_rows[slot] = detail::middle_rows(*context, first, work.rows[slot].rows());
    }
    detail::parallel_for(count, static_cast<int>(count), [&](Index w) {
      const auto slot = static_cast<std::size_t>(w);
      Tape<S>& tape = *work.tapes[slot];
      const Matrix<S>& rows = work.rows[slot];
      tape.clear();
      const Var<S> loss = scale(loss_on(tape, rows, context ? &work.context_rows[slot] : nullptr),
                                static_cast<S>(rows.rows()) / static_cast<S>(batch.rows()));
      work.loss[slot] = static_cast<double>(loss.value()(0, 0));
      tape.backward(loss, ParameterGradients::defer);
    });
    double loss = 0;
    for (Index w = 0; w < count; ++w) {
      work.tapes[static_cast<std::size_t>(w)]->add_parameter_gradients();
      loss += work.loss[static_cast<std::size_t>(w)];
    }
    return loss;
  }

  Workspace& workspace_for(Index batch_rows, Index cols, Index context_cols) {
    // One worker's tape serves any batch size (a data-parallel rank's share of a batch varies).
    const bool alone = workers(batch_rows) == 1;
    for (Workspace& work : workspaces_)
      if ((work.batch_rows == batch_rows || (alone && work.tapes.size() == 1)) && work.cols == cols &&
          work.context_cols == context_cols)
        return work;
    Workspace work;
    work.batch_rows = batch_rows;
    work.cols = cols;
    work.context_cols = context_cols;
    const Index count = workers(batch_rows);
    for (Index w = 0; w < count; ++w) {
      work.tapes.push_back(std::make_unique<Tape<S>>());
      work.tapes.back()->set_batch_statistics(true);  // training passes: BatchNorm uses each worker's rows
      const Index rows = first_row(batch_rows, w + 1, count) - first_row(batch_rows, w, count);
      work.rows.emplace_back(rows, cols);
      work.context_rows.emplace_back(rows, context_cols);
    }
    work.loss.assign(static_cast<std::size_t>(count), 0.0);
    if (workspaces_.size() == max_workspaces) workspaces_.erase(workspaces_.begin());  // batch sizes that vary
    workspaces_.push_back(std::move(work));
    return workspaces_.back();
  }

  static constexpr std::size_t max_workspaces = 4;
  int threads_;
  Index min_rows_per_thread_;
  std::vector<Workspace> workspaces_;
};

}  // namespace eigenflow

// A progress line for training: epoch, train NLL, validation NLL, steps/s and
// ETA. On a terminal it redraws one line in place; otherwise (logs, CI) it
// prints plain lines at most every `interval_seconds`, plus the last epoch.
#pragma once

#include <cmath>
#include <cstdio>

#include <unistd.h>

#include "eigenflow/train/trainer.hpp"

namespace eigenflow {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::FILE* stream = stderr, double interval_seconds = 1.0)
      : stream_(stream), terminal_(::isatty(::fileno(stream)) != 0), interval_(interval_seconds) {}

  bool operator()(const EpochReport& report) {
    const bool last = report.epoch == report.epochs;
    if (!terminal_ && !last && report.seconds - last_printed_ < interval_ && report.epoch != 1) return true;
    last_printed_ = report.seconds;
    char validation[32] = "-";
    if (!std::isnan(report.validation_nll)) std::snprintf(validation, sizeof validation, "%.4f", report.validation_nll);
    std::fprintf(stream_, "%sepoch %lld/%lld  train_nll %.4f  val_nll %s  %.0f steps/s  eta %.1fs%s",
                 terminal_ ? "\r\033[K" : "", static_cast<long long>(report.epoch), static_cast<long long>(report.epochs),
                 report.train_nll, validation, report.steps_per_second, report.eta_seconds, terminal_ ? "" : "\n");
    std::fflush(stream_);
    return true;
  }

  /// Ends the redrawn line (call once after training).
  void finish() {
    if (terminal_) std::fputc('\n', stream_);
  }

 private:
  std::FILE* stream_;
  bool terminal_;
  double interval_;
  double last_printed_ = -1e300;
};

}  // namespace eigenflow

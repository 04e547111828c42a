// A progress line for training (epoch, train NLL, validation NLL, steps/s,
// ETA) and for variational fits (step, ELBO, β, steps/s, ETA). On a terminal
// it redraws one line in place; otherwise (logs, CI) it prints plain lines at
// most every `interval_seconds`, plus the first and the last report. A caller
// may add its own figures to the end of the line (`extra`: e.g. a continuous
// flow's function evaluations per solve).
#pragma once

#include <cmath>
#include <cstdio>
#include <functional>
#include <string>

#include <unistd.h>

#include "eigenflow/train/trainer.hpp"
#include "eigenflow/vi/reverse_kl.hpp"

namespace eigenflow {

class ProgressPrinter {
 public:
  explicit ProgressPrinter(std::FILE* stream = stderr, double interval_seconds = 1.0)
      : stream_(stream), terminal_(::isatty(::fileno(stream)) != 0), interval_(interval_seconds) {}

  bool operator()(const EpochReport& report) {
    if (!due(report.seconds, report.epoch == 1 || report.epoch == report.epochs)) return true;
    char validation[32] = "-";
    if (!std::isnan(report.validation_nll)) std::snprintf(validation, sizeof validation, "%.4f", report.validation_nll);
    const std::string more = extra ? extra() : std::string();
    std::fprintf(stream_, "%sepoch %lld/%lld  train_nll %.4f  val_nll %s  %.0f steps/s  eta %.1fs%s%s", start(),
                 static_cast<long long>(report.epoch), static_cast<long long>(report.epochs), report.train_nll, validation,
                 report.steps_per_second, report.eta_seconds, more.c_str(), end());
    std::fflush(stream_);
    return true;
  }

  bool operator()(const FitReport& report) {
    if (!due(report.seconds, report.step == report.steps)) return true;
    std::fprintf(stream_, "%sstep %lld/%lld  elbo %.4f  beta %.3f  %.0f steps/s  eta %.1fs%s", start(), report.step, report.steps,
                 report.elbo, report.beta, report.steps_per_second, report.eta_seconds, end());
    std::fflush(stream_);
    return true;
  }

  /// Appended to every training line when set.
  std::function<std::string()> extra;

  /// Ends the redrawn line (call once after training).
  void finish() {
    if (terminal_) std::fputc('\n', stream_);
  }

 private:
  bool due(double seconds, bool always) {
    if (!terminal_ && !always && seconds - last_printed_ < interval_) return false;
    last_printed_ = seconds;
    return true;
  }
  const char* start() const { return terminal_ ? "\r\033[K" : ""; }
  const char* end() const { return terminal_ ? "" : "\n"; }

  std::FILE* stream_;
  bool terminal_;
  double interval_;
  double last_printed_ = -1e300;
};

}  // namespace eigenflow

// The commands' float and double instantiations, compiled once: the command line
// (main.cpp) and the Python module (python/src/training.cpp) run the same commands, and
// each instantiation costs minutes of compiling at -O3 (more under the sanitizers), which
// every build paid twice. commands_float.cpp and commands_double.cpp define them in the
// static library eigenflow_cli_commands; a file that includes this header leaves them to
// it, as include/eigenflow/prebuilt.hpp does for the layers.
#pragma once

#include <optional>
#include <vector>

#include "animate_command.hpp"
#include "fit_command.hpp"
#include "flow_builder.hpp"
#include "logprob_command.hpp"
#include "plot_command.hpp"
#include "sample_command.hpp"
#include "shards.hpp"
#include "train_command.hpp"

/// `prefix` is `extern template` (declaration) or `template` (definition); inside eigenflow::cli.
#define EIGENFLOW_CLI_COMMANDS(prefix, S)                                                                          \
  prefix int train_command<S>(const Options&, const RowsInMemory*);                                                \
  prefix TrainedFlow<S> fit_flow<S>(const Options&, const DataSplit&, const DataSplit&, const std::vector<Index>&, \
                                    const Bounds&, std::optional<DataSplit>&, const Shards*);                      \
  prefix TrainedFlow<S> fit_default_beyond_2d<S>(const Options&, const Options&, const DataSplit&, const DataSplit&, \
                                                 const Shards*);                                                   \
  prefix int fit_command<S>(const Options&);                                                                       \
  prefix FitResult fit_with_flags<S>(FlowStack<S>&, const Target<S>&, const Options&);                             \
  prefix FlowStack<S> build_flow<S>(const FlowSpec&, Index, Random&, Index);                                       \
  prefix int logprob_command<S>(const Options&, const FlowStack<S>&);                                              \
  prefix int sample_command<S>(const Options&, const FlowStack<S>&);                                               \
  prefix int plot_command<S>(const Options&, const FlowStack<S>&);                                                 \
  prefix int animate_command<S>(const Options&, const FlowStack<S>&);

#ifndef EIGENFLOW_CLI_COMMANDS_DEFINITION
namespace eigenflow::cli {
EIGENFLOW_CLI_COMMANDS(extern template, float)
EIGENFLOW_CLI_COMMANDS(extern template, double)
}  // namespace eigenflow::cli
#endif

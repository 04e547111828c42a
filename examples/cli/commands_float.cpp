// The commands in float, compiled once for the command line and the Python module (commands.hpp).
#define EIGENFLOW_CLI_COMMANDS_DEFINITION
#include "commands.hpp"

namespace eigenflow::cli {
EIGENFLOW_CLI_COMMANDS(template, float)
}  // namespace eigenflow::cli

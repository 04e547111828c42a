// eigenflow: normalizing flows over Eigen, header-only. This umbrella header
// brings in the whole public API.
#pragma once

#include "eigenflow/core/broadcast.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/functions.hpp"
#include "eigenflow/core/matrix_ops.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/core/types.hpp"

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/gradient_check.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/autodiff/parameter.hpp"
#include "eigenflow/autodiff/tape.hpp"

#include "eigenflow/nn/activation.hpp"
#include "eigenflow/nn/mlp.hpp"

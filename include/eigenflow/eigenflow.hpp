// eigenflow: normalizing flows over Eigen, header-only. This umbrella header
// brings in the whole public API.
#pragma once

#include "eigenflow/core/broadcast.hpp"
#include "eigenflow/core/checks.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/functions.hpp"
#include "eigenflow/core/matrix_ops.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/core/root_finding.hpp"
#include "eigenflow/core/types.hpp"

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/gradient_check.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/autodiff/parameter.hpp"
#include "eigenflow/autodiff/tape.hpp"

#include "eigenflow/nn/activation.hpp"
#include "eigenflow/nn/mlp.hpp"

#include "eigenflow/distributions/base_distribution.hpp"
#include "eigenflow/distributions/diagonal_gaussian.hpp"
#include "eigenflow/distributions/standard_normal.hpp"

#include "eigenflow/flows/additive_coupling.hpp"
#include "eigenflow/flows/affine_coupling.hpp"
#include "eigenflow/flows/flow_methods.hpp"
#include "eigenflow/flows/flow_stack.hpp"
#include "eigenflow/flows/inverted.hpp"
#include "eigenflow/flows/layer.hpp"
#include "eigenflow/flows/leaky_relu.hpp"
#include "eigenflow/flows/masks.hpp"
#include "eigenflow/flows/permutation.hpp"
#include "eigenflow/flows/planar.hpp"
#include "eigenflow/flows/radial.hpp"
#include "eigenflow/flows/standardize.hpp"
#include "eigenflow/flows/static_flow_stack.hpp"

#include "eigenflow/optim/adam.hpp"
#include "eigenflow/optim/clipping.hpp"
#include "eigenflow/optim/optimizer.hpp"
#include "eigenflow/optim/schedule.hpp"
#include "eigenflow/optim/sgd.hpp"

#include "eigenflow/data/blobs.hpp"
#include "eigenflow/data/boomerang.hpp"
#include "eigenflow/data/circles.hpp"
#include "eigenflow/data/csv.hpp"
#include "eigenflow/data/datasets.hpp"
#include "eigenflow/data/ffjord.hpp"
#include "eigenflow/data/gaussian_mixture.hpp"
#include "eigenflow/data/preprocess.hpp"
#include "eigenflow/data/shuffle.hpp"
#include "eigenflow/data/two_moons.hpp"

#include "eigenflow/io/atomic_file.hpp"
#include "eigenflow/io/checkpoint.hpp"
#include "eigenflow/io/json_reader.hpp"
#include "eigenflow/io/model_file.hpp"

#include "eigenflow/train/progress.hpp"
#include "eigenflow/train/trainer.hpp"

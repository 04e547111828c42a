// Prebuilt instantiations, an optional build-time accelerator.
//
// eigenflow is header-only: every translation unit that uses a layer compiles
// its math (the conditioner networks, the products, the spline) for each
// scalar, which costs minutes per file at -O3. A program made of many files
// can compile that once instead: link the CMake target eigenflow::prebuilt,
// which defines EIGENFLOW_PREBUILT and builds src/prebuilt/*.cpp. Then this
// header declares the float and double instantiations below `extern
// template`, and a file that includes eigenflow.hpp leaves them to the
// library (LayerBase's verbs are defined out of the class for this: extern
// template does not hold back inline functions). The library's costly
// non-template code is compiled there too (core/compiled.hpp). Results are
// identical; a file that does not define EIGENFLOW_PREBUILT compiles
// everything itself, as before.
#pragma once

#include "eigenflow/flows/additive_coupling.hpp"
#include "eigenflow/flows/affine_coupling.hpp"
#include "eigenflow/flows/autoregressive/masked_autoregressive.hpp"
#include "eigenflow/flows/flow_stack.hpp"
#include "eigenflow/flows/leaky_relu.hpp"
#include "eigenflow/flows/linear/actnorm.hpp"
#include "eigenflow/flows/linear/batch_norm.hpp"
#include "eigenflow/flows/linear/lu_linear.hpp"
#include "eigenflow/flows/permutation.hpp"
#include "eigenflow/flows/planar.hpp"
#include "eigenflow/flows/radial.hpp"
#include "eigenflow/flows/spline/spline_coupling.hpp"
#include "eigenflow/flows/standardize.hpp"
#include "eigenflow/io/model_file.hpp"
#include "eigenflow/train/trainer.hpp"

/// X(Layer, S) for every built-in layer class.
#define EIGENFLOW_PREBUILT_LAYERS(X, S)                                                                     \
  X(LeakyReLU, S) X(Planar, S) X(Radial, S) X(Permutation, S) X(Standardize, S) X(AffineCoupling, S) \
  X(AdditiveCoupling, S) X(SplineCoupling, S) X(MaskedAutoregressive, S) X(ActNorm, S) X(LuLinear, S) X(DenseLinear, S) \
  X(BatchNorm, S)

/// `prefix` is `extern template` (declaration) or `template` (definition).
#define EIGENFLOW_PREBUILT_LAYER(prefix, L, S) \
  prefix class eigenflow::L<S>;                \
  prefix class eigenflow::LayerBase<eigenflow::L<S>, S>;

/// The model file and the training loop on the run-time stack.
#define EIGENFLOW_PREBUILT_STACK(prefix, S)                                                                        \
  prefix void eigenflow::detail::add_built_in_layers<S>(eigenflow::LayerRegistry<S>&);                            \
  prefix nlohmann::json eigenflow::model_to_json<S>(const eigenflow::FlowStack<S>&);                               \
  prefix eigenflow::FlowStack<S> eigenflow::model_from_json<S>(const nlohmann::json&);                             \
  prefix eigenflow::FlowStack<S> eigenflow::load_model<S>(const std::string&);                                     \
  prefix void eigenflow::save_model<S>(const std::string&, const eigenflow::FlowStack<S>&);                        \
  prefix eigenflow::TrainResult eigenflow::train<eigenflow::FlowStack<S>, S>(                                      \
      eigenflow::FlowStack<S>&, eigenflow::Optimizer<S>&, const eigenflow::Matrix<S>&, const eigenflow::Matrix<S>&, \
      const eigenflow::TrainOptions&);                                                                             \
  prefix double eigenflow::mean_negative_log_likelihood<eigenflow::FlowStack<S>, S>(const eigenflow::FlowStack<S>&, \
                                                                                     const eigenflow::Matrix<S>&,   \
                                                                                     eigenflow::Index);

#ifdef EIGENFLOW_PREBUILT
#define EIGENFLOW_EXTERN_LAYER(L, S) EIGENFLOW_PREBUILT_LAYER(extern template, L, S)
EIGENFLOW_PREBUILT_LAYERS(EIGENFLOW_EXTERN_LAYER, float)
EIGENFLOW_PREBUILT_LAYERS(EIGENFLOW_EXTERN_LAYER, double)
EIGENFLOW_PREBUILT_STACK(extern template, float)
EIGENFLOW_PREBUILT_STACK(extern template, double)
#undef EIGENFLOW_EXTERN_LAYER
#endif

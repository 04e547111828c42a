// Model-file entry of "cnf" (docs/model-format.md):
//   {"type": "cnf", "duration": T,
//    "dynamics": {"type": "hyper_planar", "width": M, "net": TIME_MLP} | {"type": "mlp", "net": TIME_MLP},
//    "solver": {"method": "dopri5", "rtol": r, "atol": a, "max_steps": n} | {"method": "rk4", "steps": n},
//    "training": {"gradient": "backprop"|"adjoint", "trace": "exact"|"gaussian"|"rademacher",
//                 "kinetic": λ_K, "jacobian": λ_J, "seed": s},
//    "context_dim": K (when conditional)}
//   TIME_MLP = {"activation": "tanh"|"silu", "layers": [{"weight": [[…] per output] or [] (no inputs),
//                                                       "bias": […], "time": […]}, …]}
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eigenflow/flows/continuous/continuous_flow.hpp"
#include "eigenflow/flows/continuous/hyper_planar_dynamics.hpp"
#include "eigenflow/flows/continuous/mlp_dynamics.hpp"
#include "eigenflow/io/layer_registry.hpp"

namespace eigenflow::detail {

template <class S>
nlohmann::json time_mlp_to_json(const TimeMlp<S>& net) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& dense : net.layers())
    layers.push_back({{"weight", dense.weight.value.cols() == 0 ? nlohmann::json::array() : matrix_to_json<S>(dense.weight.value)},
                      {"bias", to_json_array<S>(dense.bias.value)},
                      {"time", to_json_array<S>(dense.time.value)}});
  return {{"activation", std::string(to_string(net.activation()))}, {"layers", layers}};
}

template <class S>
TimeMlp<S> time_mlp_from_json(const JsonReader& reader, Index inputs, Index outputs) {
  Activation activation{};
  const JsonReader activation_field = reader.field("activation");
  try {
    activation = parse_activation(activation_field.string());
    TimeMlp<S>::require_smooth(activation, "activation");
  } catch (const ValueError& e) {
    activation_field.fail(e.what());
  }
  const JsonReader layers = reader.field("layers");
  const std::size_t count = layers.array_size();
  if (count == 0) layers.fail("a network needs at least one layer");
  std::vector<typename TimeMlp<S>::Weights> weights;
  Index expected_in = inputs;
  for (std::size_t k = 0; k < count; ++k) {
    const JsonReader layer = layers.at(k);
    const JsonReader bias_field = layer.field("bias");
    Matrix<S> bias = bias_field.row_vector<S>(k + 1 == count ? outputs : -1);
    const Index out = bias.cols();
    const JsonReader weight_field = layer.field("weight");
    Matrix<S> weight(out, 0);
    if (expected_in == 0) {
      if (weight_field.array_size() != 0) weight_field.fail("this layer has no inputs: expected []");
    } else {
      weight = weight_field.matrix<S>();
      if (weight.cols() != expected_in || weight.rows() != out)
        weight_field.fail("expected " + shape_string(out, expected_in) + " (outputs x inputs), found " +
                          shape_string(weight.rows(), weight.cols()));
    }
    Matrix<S> time = layer.field("time").row_vector<S>(out);
    weights.push_back({std::move(weight), std::move(bias), std::move(time)});
    expected_in = out;
  }
  return TimeMlp<S>(activation, std::move(weights));
}

inline OdeOptions ode_options_from_json(const JsonReader& reader) {
  OdeOptions options;
  const JsonReader method = reader.field("method");
  try {
    options.method = parse_ode_method(method.string());
  } catch (const ValueError& e) {
    method.fail(e.what());
  }
  if (options.method == OdeMethod::rk4) {
    options.steps = static_cast<Index>(reader.field("steps").integer());
  } else {
    options.rtol = reader.field("rtol").number();
    options.atol = reader.field("atol").number();
    options.max_steps = static_cast<Index>(reader.field("max_steps").integer());
  }
  try {
    validate(options, "solver");
  } catch (const ValueError& e) {
    reader.fail(e.what());
  }
  return options;
}

inline nlohmann::json ode_options_to_json(const OdeOptions& options) {
  if (options.method == OdeMethod::rk4) return {{"method", "rk4"}, {"steps", options.steps}};
  return {{"method", "dopri5"}, {"rtol", options.rtol}, {"atol", options.atol}, {"max_steps", options.max_steps}};
}

inline CnfTraining cnf_training_from_json(const JsonReader& reader) {
  CnfTraining training;
  try {
    training.gradient = parse_cnf_gradient(reader.field("gradient").string());
    training.trace = parse_trace_estimator(reader.field("trace").string());
  } catch (const ValueError& e) {
    reader.fail(e.what());
  }
  training.kinetic = reader.field("kinetic").number();
  training.jacobian = reader.field("jacobian").number();
  const long long seed = reader.field("seed").integer();
  if (seed < 0) reader.field("seed").fail("seed must be non-negative");
  training.seed = static_cast<std::uint64_t>(seed);
  try {
    validate(training, "training");
  } catch (const ValueError& e) {
    reader.fail(e.what());
  }
  return training;
}

inline nlohmann::json cnf_training_to_json(const CnfTraining& training) {
  return {{"gradient", to_string(training.gradient)}, {"trace", to_string(training.trace)},
          {"kinetic", training.kinetic}, {"jacobian", training.jacobian},
          {"seed", static_cast<long long>(training.seed & 0x7fffffffffffffffULL)}};
}

template <class S>
void add_continuous_flow(LayerRegistry<S>& registry) {
  using HyperPlanarFlow = ContinuousFlow<S, HyperPlanarDynamics<S>>;
  using MlpFlow = ContinuousFlow<S, MlpDynamics<S>>;
  registry.add(
      "cnf",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const Index context_dim = context_dim_from_json(in);
        const OdeOptions solver = ode_options_from_json(in.field("solver"));
        const CnfTraining training = cnf_training_from_json(in.field("training"));
        const JsonReader duration_field = in.field("duration");
        const double duration = duration_field.number();
        if (!(duration > 0)) duration_field.fail("duration must be positive");
        const JsonReader dynamics = in.field("dynamics");
        const JsonReader type = dynamics.field("type");
        const std::string name = type.string();
        if (name == HyperPlanarDynamics<S>::name) {
          const JsonReader width_field = dynamics.field("width");
          const long long width = width_field.integer();
          if (width < 1 || width > 100000) width_field.fail("width must be in [1, 100000]");
          const Index M = static_cast<Index>(width);
          TimeMlp<S> net = time_mlp_from_json<S>(dynamics.field("net"), context_dim,
                                                 HyperPlanarDynamics<S>::outputs(dim, M));
          return std::make_unique<HyperPlanarFlow>(HyperPlanarDynamics<S>(dim, M, std::move(net)), solver,
                                                   static_cast<S>(duration), training);
        }
        if (name == MlpDynamics<S>::name) {
          TimeMlp<S> net = time_mlp_from_json<S>(dynamics.field("net"), dim + context_dim, dim);
          if (net.depth() < 1) dynamics.field("net").fail("needs at least one hidden layer");
          return std::make_unique<MlpFlow>(MlpDynamics<S>(dim, std::move(net)), solver, static_cast<S>(duration),
                                           training);
        }
        type.fail("unknown dynamics '" + name + "' (expected hyper_planar or mlp)");
      },
      [](const Layer<S>& layer) {
        nlohmann::json out;
        const auto common = [&](const auto& flow) {
          out["duration"] = static_cast<double>(flow.duration());
          out["solver"] = ode_options_to_json(flow.solver());
          out["training"] = cnf_training_to_json(flow.training());
          context_dim_to_json(out, flow.context_dim());
        };
        if (const auto* hyper = dynamic_cast<const HyperPlanarFlow*>(&layer)) {
          common(*hyper);
          out["dynamics"] = {{"type", HyperPlanarDynamics<S>::name},
                             {"width", hyper->dynamics().width()},
                             {"net", time_mlp_to_json(hyper->dynamics().net())}};
        } else if (const auto* mlp = dynamic_cast<const MlpFlow*>(&layer)) {
          common(*mlp);
          out["dynamics"] = {{"type", MlpDynamics<S>::name}, {"net", time_mlp_to_json(mlp->dynamics().net())}};
        } else {
          throw ValueError("cannot save a cnf layer with dynamics other than hyper_planar or mlp");
        }
        return out;
      });
}

}  // namespace eigenflow::detail

// Model-file entry of "spline_coupling" (docs/model-format.md):
//   {"type": "spline_coupling", "mask": [0/1 …], "bins": K, "tail_bound": B, "net": {MLP D -> (3K−1)·D}}
//   {"type": "elementwise_spline", "bins": K, "tail_bound": B, "theta": [(3K−1)·D]}
#pragma once

#include <memory>
#include <string>

#include "eigenflow/flows/spline/elementwise_spline.hpp"
#include "eigenflow/flows/spline/spline_coupling.hpp"
#include "eigenflow/io/layer_registry.hpp"

namespace eigenflow::detail {

/// "bins" and "tail_bound" of a spline (a spline coupling's or a transformer's fields).
inline SplineShape spline_shape_from_json(const JsonReader& reader) {
  SplineShape shape;
  const JsonReader bins = reader.field("bins");
  const long long count = bins.integer();
  if (count < 2 || count > SplineShape::max_bins)
    bins.fail("bins must be in [2, " + std::to_string(SplineShape::max_bins) + "], found " + std::to_string(count));
  shape.bins = static_cast<Index>(count);
  const JsonReader bound = reader.field("tail_bound");
  shape.tail_bound = bound.number();
  if (!(shape.tail_bound > 0)) bound.fail("tail_bound must be positive");
  return shape;
}

template <class S>
void add_spline_coupling(LayerRegistry<S>& registry) {
  registry.add(
      "spline_coupling",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const Index context_dim = context_dim_from_json(in);
        const RowVector<S> mask = mask_from_json<S>(in.field("mask"), dim, context_dim > 0);
        const SplineShape shape = spline_shape_from_json(in);
        Mlp<S> net = mlp_from_json<S>(in.field("net"), dim + context_dim, shape.params_per_dim() * dim);
        return std::make_unique<SplineCoupling<S>>(mask, std::move(net), shape);
      },
      [](const Layer<S>& layer) {
        const auto& coupling = layer_as<SplineCoupling<S>>(layer);
        nlohmann::json out{{"mask", to_json_array<S>(coupling.mask())},
                           {"bins", coupling.shape().bins},
                           {"tail_bound", coupling.shape().tail_bound},
                           {"net", mlp_to_json(coupling.net())}};
        context_dim_to_json(out, coupling.context_dim());
        return out;
      });
  registry.add(
      "elementwise_spline",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const SplineShape shape = spline_shape_from_json(in);
        return std::make_unique<ElementwiseSpline<S>>(in.field("theta").row_vector<S>(shape.params_per_dim() * dim), shape);
      },
      [](const Layer<S>& layer) {
        const auto& spline = layer_as<ElementwiseSpline<S>>(layer);
        return nlohmann::json{{"bins", spline.shape().bins},
                              {"tail_bound", spline.shape().tail_bound},
                              {"theta", to_json_array<S>(spline.theta())}};
      });
}

}  // namespace eigenflow::detail

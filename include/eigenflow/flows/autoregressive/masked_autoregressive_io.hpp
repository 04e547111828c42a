// Model-file entry of "masked_autoregressive" (docs/model-format.md):
//   {"type": "masked_autoregressive",
//    "transformer": {"type": "affine"} | {"type": "rational_quadratic", "bins": K, "tail_bound": B},
//    "degrees": [m(1), …, m(D)],            a permutation of 1..D: the autoregressive order
//    "hidden_degrees": [[…], …],            one list per hidden layer, entries in [1, D−1]
//    "context_dim": 0, "made": {MLP}}       masks are rebuilt from the degrees
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eigenflow/flows/autoregressive/masked_autoregressive.hpp"
#include "eigenflow/flows/spline/spline_coupling_io.hpp"
#include "eigenflow/io/layer_registry.hpp"

namespace eigenflow::detail {

inline Transformer transformer_from_json(const JsonReader& reader) {
  const JsonReader type = reader.field("type");
  const std::string name = type.string();
  if (name == "affine") return Transformer::affine();
  if (name != "rational_quadratic") type.fail("expected \"affine\" or \"rational_quadratic\", found \"" + name + "\"");
  return Transformer::rational_quadratic(spline_shape_from_json(reader));
}

inline nlohmann::json transformer_to_json(const Transformer& transformer) {
  if (transformer.kind == TransformerKind::affine) return {{"type", "affine"}};
  return {{"type", "rational_quadratic"}, {"bins", transformer.spline.bins}, {"tail_bound", transformer.spline.tail_bound}};
}

template <class S>
void add_masked_autoregressive(LayerRegistry<S>& registry) {
  registry.add(
      "masked_autoregressive",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const Transformer transformer = transformer_from_json(in.field("transformer"));
        const JsonReader degrees_field = in.field("degrees");
        std::vector<Index> degrees = index_array(degrees_field, dim);
        std::vector<bool> seen(static_cast<std::size_t>(dim), false);
        for (std::size_t j = 0; j < degrees.size(); ++j) {
          if (degrees[j] < 1 || degrees[j] > dim || seen[static_cast<std::size_t>(degrees[j] - 1)])
            degrees_field.at(j).fail("degrees must hold each of 1.." + std::to_string(dim) + " exactly once");
          seen[static_cast<std::size_t>(degrees[j] - 1)] = true;
        }
        const Index context_dim = context_dim_from_json(in);
        if (dim < 2 && context_dim == 0) in.fail("an autoregressive layer needs dimension >= 2 (>= 1 with a context)");
        const Index lowest = context_dim > 0 ? 0 : 1;  // with a context, units of degree 0 see it alone
        const JsonReader hidden_field = in.field("hidden_degrees");
        std::vector<std::vector<Index>> hidden;
        for (std::size_t layer = 0; layer < hidden_field.array_size(); ++layer) {
          const JsonReader layer_field = hidden_field.at(layer);
          hidden.push_back(index_array(layer_field));
          for (std::size_t k = 0; k < hidden.back().size(); ++k)
            if (hidden.back()[k] < lowest || hidden.back()[k] > dim - 1)
              layer_field.at(k).fail("hidden degrees must lie in [" + std::to_string(lowest) + ", " +
                                     std::to_string(dim - 1) + "]");
        }
        if (hidden.empty()) hidden_field.fail("a MADE needs at least one hidden layer");
        const JsonReader made_field = in.field("made");
        Mlp<S> net = mlp_from_json<S>(made_field, dim + context_dim, transformer.params_per_dim() * dim);
        if (net.layers().size() != hidden.size() + 1)
          made_field.fail("expected " + std::to_string(hidden.size() + 1) + " layers for " + std::to_string(hidden.size()) +
                          " hidden degree lists, found " + std::to_string(net.layers().size()));
        for (std::size_t layer = 0; layer < hidden.size(); ++layer)
          if (static_cast<Index>(hidden[layer].size()) != net.layers()[layer].weight.value.rows())
            hidden_field.at(layer).fail("expected " + std::to_string(net.layers()[layer].weight.value.rows()) +
                                        " degrees (one per hidden unit), found " + std::to_string(hidden[layer].size()));
        return std::make_unique<MaskedAutoregressive<S>>(
            Made<S>(std::move(degrees), std::move(hidden), transformer.params_per_dim(), context_dim, std::move(net)),
            transformer);
      },
      [](const Layer<S>& layer) {
        const auto& autoregressive = layer_as<MaskedAutoregressive<S>>(layer);
        const Made<S>& made = autoregressive.made();
        return nlohmann::json{{"transformer", transformer_to_json(autoregressive.transformer())},
                              {"degrees", made.degrees()},
                              {"hidden_degrees", made.hidden_degrees()},
                              {"context_dim", made.context_dim()},
                              {"made", mlp_to_json(made.net())}};
      });
}

}  // namespace eigenflow::detail

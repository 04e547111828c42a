// Model-file entries of the fixed (untrained) maps that bring data into a
// flow's working range (docs/model-format.md):
//   {"type": "standardize", "shift": [D], "scale": [D > 0]}
//   {"type": "logit", "lo": [D], "hi": [D], "alpha": a in [0, 0.5)}
#pragma once

#include <memory>
#include <string>

#include "eigenflow/flows/logit.hpp"
#include "eigenflow/flows/standardize.hpp"
#include "eigenflow/io/layer_registry.hpp"

namespace eigenflow::detail {

/// {"shift": [size], "scale": [size, each > 0]}: a standardize layer's entry, and a
/// stack's "preprocess" and "context_preprocess".
template <class S>
Standardize<S> standardize_from_json(const JsonReader& in, Index size) {
  const RowVector<S> shift = in.field("shift").row_vector<S>(size);
  const RowVector<S> scale = in.field("scale").row_vector<S>(size, [](S v) { return v > S(0); }, "scale must be positive");
  return Standardize<S>(shift, scale);
}
template <class S>
nlohmann::json standardize_to_json(const Standardize<S>& standardize) {
  return {{"shift", to_json_array<S>(standardize.shift())}, {"scale", to_json_array<S>(standardize.scale())}};
}

template <class S>
void add_preprocessing_maps(LayerRegistry<S>& registry) {
  registry.add(
      "standardize",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        return std::make_unique<Standardize<S>>(standardize_from_json<S>(in, dim));
      },
      [](const Layer<S>& layer) { return standardize_to_json(layer_as<Standardize<S>>(layer)); });
  registry.add(
      "logit",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const JsonReader alpha_field = in.field("alpha");
        const double alpha = alpha_field.number();
        if (!(alpha >= 0 && alpha < 0.5)) alpha_field.fail("alpha must be in [0, 0.5), found " + std::to_string(alpha));
        try {
          return std::make_unique<Logit<S>>(in.field("lo").row_vector<S>(dim), in.field("hi").row_vector<S>(dim), static_cast<S>(alpha));
        } catch (const ValueError& e) {  // the bounds' own check names the column
          in.fail(e.what());
        }
      },
      [](const Layer<S>& layer) {
        const auto& logit = layer_as<Logit<S>>(layer);
        return nlohmann::json{{"lo", to_json_array<S>(logit.lo())}, {"hi", to_json_array<S>(logit.hi())},
                              {"alpha", static_cast<double>(logit.alpha())}};
      });
}

}  // namespace eigenflow::detail

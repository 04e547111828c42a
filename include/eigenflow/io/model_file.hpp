// Model files: a FlowStack as JSON, format "eigenflow.model" version 1
// (specified in docs/model-format.md). Saving is atomic; loading validates
// every field and reports the JSON path of the first problem.
//
// Layer types are looked up in a registry (type name -> reader, writer), so a
// program can add its own layer types to the files it reads and writes.
#pragma once

#include <fstream>
#include <functional>
#include <map>
#include <memory>
#include <sstream>
#include <string>
#include <type_traits>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenflow/distributions/conditional_diagonal_gaussian.hpp"
#include "eigenflow/distributions/diagonal_gaussian.hpp"
#include "eigenflow/flows/additive_coupling.hpp"
#include "eigenflow/flows/autoregressive/masked_autoregressive_io.hpp"
#include "eigenflow/flows/continuous/continuous_flow_io.hpp"
#include "eigenflow/flows/affine_coupling.hpp"
#include "eigenflow/flows/flow_stack.hpp"
#include "eigenflow/flows/inverted.hpp"
#include "eigenflow/flows/leaky_relu.hpp"
#include "eigenflow/flows/linear/linear_io.hpp"
#include "eigenflow/flows/permutation.hpp"
#include "eigenflow/flows/planar.hpp"
#include "eigenflow/flows/preprocessing_io.hpp"
#include "eigenflow/flows/radial.hpp"
#include "eigenflow/flows/spline/spline_coupling_io.hpp"
#include "eigenflow/flows/subspace.hpp"
#include "eigenflow/io/atomic_file.hpp"
#include "eigenflow/io/json_reader.hpp"
#include "eigenflow/io/layer_registry.hpp"

namespace eigenflow {

inline constexpr const char* model_format_name = "eigenflow.model";
inline constexpr int model_format_version = 1;

namespace detail {

template <class S>
void add_built_in_layers(LayerRegistry<S>& r) {
  using nlohmann::json;
  r.add(
      "affine_coupling",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const Index context_dim = context_dim_from_json(in);
        const RowVector<S> mask = mask_from_json<S>(in.field("mask"), dim, context_dim > 0);
        const JsonReader activation_field = in.field("scale_activation");
        const std::string activation = activation_field.string();
        if (activation != "tanh" && activation != "identity")
          activation_field.fail("expected \"tanh\" or \"identity\", found \"" + activation + "\"");
        const ScaleActivation scale = activation == "tanh" ? ScaleActivation::tanh : ScaleActivation::identity;
        const Index in_dim = dim + context_dim;
        if (in.has("net")) {
          if (in.has("s_net") || in.has("t_net")) in.fail("give either \"net\" or \"s_net\" and \"t_net\", not both");
          return std::make_unique<AffineCoupling<S>>(mask, mlp_from_json<S>(in.field("net"), in_dim, 2 * dim), scale);
        }
        return std::make_unique<AffineCoupling<S>>(mask, mlp_from_json<S>(in.field("s_net"), in_dim, dim),
                                                   mlp_from_json<S>(in.field("t_net"), in_dim, dim), scale);
      },
      [](const Layer<S>& layer) {
        const auto& coupling = layer_as<AffineCoupling<S>>(layer);
        json out = {{"mask", to_json_array<S>(coupling.mask())},
                    {"scale_activation", coupling.scale_activation() == ScaleActivation::tanh ? "tanh" : "identity"}};
        if (coupling.net()) {
          out["net"] = mlp_to_json(*coupling.net());
        } else {
          out["s_net"] = mlp_to_json(*coupling.s_net());
          out["t_net"] = mlp_to_json(*coupling.t_net());
        }
        context_dim_to_json(out, coupling.context_dim());
        return out;
      });
  r.add(
      "additive_coupling",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const Index context_dim = context_dim_from_json(in);
        return std::make_unique<AdditiveCoupling<S>>(mask_from_json<S>(in.field("mask"), dim, context_dim > 0),
                                                     mlp_from_json<S>(in.field("t_net"), dim + context_dim, dim));
      },
      [](const Layer<S>& layer) {
        const auto& coupling = layer_as<AdditiveCoupling<S>>(layer);
        json out{{"mask", to_json_array<S>(coupling.mask())}, {"t_net", mlp_to_json(coupling.t_net())}};
        context_dim_to_json(out, coupling.context_dim());
        return out;
      });
  r.add(
      "leaky_relu",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const JsonReader slope = in.field("negative_slope");
        const double value = slope.number();
        if (!(value > 0)) slope.fail("negative_slope must be positive, found " + std::to_string(value));
        return std::make_unique<LeakyReLU<S>>(dim, static_cast<S>(value));
      },
      [](const Layer<S>& layer) { return json{{"negative_slope", static_cast<double>(layer_as<LeakyReLU<S>>(layer).negative_slope())}}; });
  r.add(
      "planar",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const RowVector<S> w = in.field("w").row_vector<S>(dim);
        if (!(w.squaredNorm() > S(0))) in.field("w").fail("w must have non-zero norm");
        return std::make_unique<Planar<S>>(in.field("u").row_vector<S>(dim), w, static_cast<S>(in.field("b").number()));
      },
      [](const Layer<S>& layer) {
        const auto& planar = layer_as<Planar<S>>(layer);
        return json{{"u", to_json_array<S>(planar.u())}, {"w", to_json_array<S>(planar.w())},
                    {"b", static_cast<double>(planar.b())}};
      });
  r.add(
      "radial",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        return std::make_unique<Radial<S>>(in.field("z0").row_vector<S>(dim), static_cast<S>(in.field("alpha_raw").number()),
                                           static_cast<S>(in.field("beta_raw").number()));
      },
      [](const Layer<S>& layer) {
        const auto& radial = layer_as<Radial<S>>(layer);
        return json{{"z0", to_json_array<S>(radial.z0())}, {"alpha_raw", static_cast<double>(radial.alpha_raw())},
                    {"beta_raw", static_cast<double>(radial.beta_raw())}};
      });
  r.add(
      "permutation",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const JsonReader perm_field = in.field("perm");
        const std::size_t size = perm_field.array_size();
        if (size != static_cast<std::size_t>(dim))
          perm_field.fail("expected " + std::to_string(dim) + " indices, found " + std::to_string(size));
        std::vector<Index> perm;
        for (std::size_t j = 0; j < size; ++j) perm.push_back(static_cast<Index>(perm_field.at(j).integer()));
        try {
          return std::make_unique<Permutation<S>>(perm);
        } catch (const Error& e) {
          perm_field.fail(e.what());
        }
      },
      [](const Layer<S>& layer) { return json{{"perm", layer_as<Permutation<S>>(layer).perm()}}; });
  // Any layer in the other direction: {"type": "inverted", "layer": {the inner layer}}.
  r.add(
      "inverted",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const JsonReader inner = in.field("layer");
        if (inner.has("type") && inner.node()["type"] == "inverted")
          inner.fail("an inverted inverted layer is the layer itself: save the inner one");  // also bounds the recursion
        if (inner.has("type") && inner.node()["type"] == "subspace")
          inner.fail("an inverted layer cannot hold a subspace layer (invert its inner layers instead)");
        return std::make_unique<Inverted<Layer<S>>>(LayerRegistry<S>::instance().read(inner, dim));
      },
      [](const Layer<S>& layer) {
        return json{{"layer", LayerRegistry<S>::instance().write(layer_as<InvertedLayer<S>>(layer).inner_layer())}};
      });
  // An inner flow on the first k coordinates: {"type": "subspace", "active": k, "layers": [layers of dimension k]}.
  // Layers that hold layers are not nested in one another (which also bounds the reader's recursion).
  r.add(
      "subspace",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const JsonReader active_field = in.field("active");
        const long long active = active_field.integer();
        if (active < 0 || active > dim)
          active_field.fail("expected an integer in [0, " + std::to_string(dim) + "], found " + std::to_string(active));
        auto subspace = std::make_unique<Subspace<S>>(dim, static_cast<Index>(active));
        const JsonReader layers = in.field("layers");
        const std::size_t count = layers.array_size();
        if (count > 0 && active == 0) layers.fail("a subspace of 0 active coordinates has no inner layers");
        for (std::size_t k = 0; k < count; ++k) {
          const JsonReader inner = layers.at(k);
          const std::string type = inner.field("type").string();
          if (type == "subspace" || type == "inverted") inner.field("type").fail("a subspace's inner layer cannot be a '" + type + "' layer");
          try {
            subspace->append(LayerRegistry<S>::instance().read(inner, static_cast<Index>(active)));
          } catch (const FormatError&) {
            throw;
          } catch (const Error& e) {  // e.g. contexts of different widths
            inner.fail(e.what());
          }
        }
        return subspace;
      },
      [](const Layer<S>& layer) {
        const auto& subspace = layer_as<Subspace<S>>(layer);
        json layers = json::array();
        for (std::size_t k = 0; k < subspace.size(); ++k) layers.push_back(LayerRegistry<S>::instance().write(subspace.layer(k)));
        return json{{"active", subspace.active()}, {"layers", layers}};
      });
  add_masked_autoregressive(r);
  add_spline_coupling(r);
  add_linear_family(r);
  add_preprocessing_maps(r);
  add_continuous_flow(r);
}

}  // namespace detail


template <class S>
constexpr const char* scalar_name() {
  return std::is_same_v<S, float> ? "float32" : "float64";
}

/// The model as a JSON document.
template <class S>
nlohmann::json model_to_json(const FlowStack<S>& flow) {
  nlohmann::json out = {{"format", model_format_name}, {"version", model_format_version}, {"dim", flow.dim()},
                        {"scalar", scalar_name<S>()}};
  if (flow.preprocess()) out["preprocess"] = detail::standardize_to_json(*flow.preprocess());
  if (!flow.dequantized().empty()) out["dequantize"] = flow.dequantized();
  if (flow.context_dim() > 0) out["context_dim"] = flow.context_dim();
  if (flow.context_preprocess()) out["context_preprocess"] = detail::standardize_to_json(*flow.context_preprocess());
  const auto& base = flow.base();
  if (const auto* diagonal = dynamic_cast<const DiagonalGaussian<S>*>(&base))
    out["base"] = {{"type", base.type()}, {"mean", detail::to_json_array<S>(diagonal->mean())},
                   {"log_std", detail::to_json_array<S>(diagonal->log_std())}};
  else if (const auto* conditional = dynamic_cast<const ConditionalDiagonalGaussian<S>*>(&base))
    out["base"] = {{"type", base.type()}, {"net", detail::mlp_to_json(conditional->net())}};
  else
    out["base"] = {{"type", base.type()}};
  nlohmann::json layers = nlohmann::json::array();
  for (std::size_t k = 0; k < flow.size(); ++k) layers.push_back(LayerRegistry<S>::instance().write(flow.layer(k)));
  out["layers"] = layers;
  return out;
}

/// The scalar type a model document declares: "float32" or "float64".
inline std::string model_scalar(const nlohmann::json& document) {
  const detail::JsonReader root(document, "");
  const detail::JsonReader format = root.field("format");
  if (format.string() != model_format_name) format.fail("expected \"" + std::string(model_format_name) + "\", found \"" + format.string() + "\"");
  const detail::JsonReader version = root.field("version");
  if (version.integer() != model_format_version)
    version.fail("unsupported version " + std::to_string(version.integer()) + " (this build reads version " +
                 std::to_string(model_format_version) + ")");
  const detail::JsonReader scalar = root.field("scalar");
  const std::string name = scalar.string();
  if (name != "float32" && name != "float64") scalar.fail("expected \"float32\" or \"float64\", found \"" + name + "\"");
  return name;
}

/// Builds a FlowStack<S> from a document, validating every field.
template <class S>
FlowStack<S> model_from_json(const nlohmann::json& document) {
  model_scalar(document);  // format, version, scalar
  const detail::JsonReader root(document, "");
  const detail::JsonReader dim_field = root.field("dim");
  const long long dim = dim_field.integer();
  if (dim < 1 || dim > 1000000) dim_field.fail("dim must be a positive integer, found " + std::to_string(dim));
  const auto d = static_cast<Index>(dim);
  Index context_dim = 0;
  if (root.has("context_dim")) {
    const detail::JsonReader field = root.field("context_dim");
    const long long width = field.integer();
    if (width < 1 || width > 1000000) field.fail("context_dim must be a positive integer, found " + std::to_string(width));
    context_dim = static_cast<Index>(width);
  }
  FlowStack<S> flow(d, context_dim);
  if (root.has("preprocess")) {
    const Standardize<S> preprocess = detail::standardize_from_json<S>(root.field("preprocess"), d);
    flow.set_preprocess(preprocess.shift(), preprocess.scale());
  }
  if (root.has("context_preprocess")) {
    const detail::JsonReader field = root.field("context_preprocess");
    if (context_dim == 0) field.fail("a context preprocess needs a context_dim");
    const Standardize<S> preprocess = detail::standardize_from_json<S>(field, context_dim);
    flow.set_context_preprocess(preprocess.shift(), preprocess.scale());
  }
  if (root.has("dequantize")) {
    const detail::JsonReader dequantize = root.field("dequantize");
    try {
      flow.set_dequantized(detail::index_array(dequantize));
    } catch (const ValueError& e) {
      dequantize.fail(e.what());
    }
  }
  const detail::JsonReader base = root.field("base");
  const detail::JsonReader base_type = base.field("type");
  const std::string base_name = base_type.string();
  if (base_name == "diagonal_normal") {
    flow.set_base(std::make_unique<DiagonalGaussian<S>>(base.field("mean").row_vector<S>(d), base.field("log_std").row_vector<S>(d)));
  } else if (base_name == "conditional_diagonal_normal") {
    if (context_dim == 0) base_type.fail("a conditional base needs a context_dim");
    flow.set_base(std::make_unique<ConditionalDiagonalGaussian<S>>(d, detail::mlp_from_json<S>(base.field("net"), context_dim, 2 * d)));
  } else if (base_name != "standard_normal") {
    base_type.fail("unknown base \"" + base_name + "\" (known: standard_normal, diagonal_normal, conditional_diagonal_normal)");
  }
  const detail::JsonReader layers = root.field("layers");
  for (std::size_t k = 0; k < layers.array_size(); ++k) {
    const detail::JsonReader entry = layers.at(k);
    std::unique_ptr<Layer<S>> layer = LayerRegistry<S>::instance().read(entry, d);
    if (layer->context_dim() != 0 && layer->context_dim() != context_dim)
      entry.fail("this layer reads a context of " + std::to_string(layer->context_dim()) + " columns, the model's context_dim is " +
                 std::to_string(context_dim));
    flow.append(std::move(layer));
  }
  return flow;
}

/// Parses model text; FormatError on malformed or truncated JSON, and on
/// numbers JSON allows but a double cannot hold (1e999; found by fuzzing).
inline nlohmann::json parse_model_text(const std::string& text, const std::string& name) {
  try {
    return nlohmann::json::parse(text);
  } catch (const nlohmann::json::exception& e) {
    throw FormatError("model file '" + name + "' is not valid JSON: " + e.what());
  }
}

/// Reads and parses a model file.
inline nlohmann::json read_model_document(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open model file '" + path + "'");
  std::stringstream text;
  text << in.rdbuf();
  return parse_model_text(text.str(), path);
}

template <class S>
FlowStack<S> load_model(const std::string& path) {
  const nlohmann::json document = read_model_document(path);
  try {
    return model_from_json<S>(document);
  } catch (const FormatError& e) {
    throw FormatError(path + ": " + e.what());
  }
}

/// Writes the model atomically: a crash leaves the old file or the new one.
template <class S>
void save_model(const std::string& path, const FlowStack<S>& flow) {
  const std::string text = model_to_json(flow).dump(1);
  write_file_atomically(path, [&](std::ostream& out) { out << text << '\n'; });
}

}  // namespace eigenflow

// The layer registry: a layer type's name -> its model-file reader and
// writer, so that a program can add its own layer types to the files it
// reads and writes. Each layer family registers itself from a *_io.hpp
// header beside its own (e.g. flows/spline/spline_coupling_io.hpp); the
// JSON helpers they share are here.
#pragma once

#include <functional>
#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include <nlohmann/json.hpp>

#include "eigenflow/flows/layer.hpp"
#include "eigenflow/flows/masks.hpp"
#include "eigenflow/io/json_reader.hpp"
#include "eigenflow/nn/mlp.hpp"

namespace eigenflow {

template <class S>
class LayerRegistry;

namespace detail {

template <class S>
nlohmann::json to_json_array(const Matrix<S>& row) {
  nlohmann::json out = nlohmann::json::array();
  for (Index j = 0; j < row.size(); ++j) out.push_back(static_cast<double>(row.data()[j]));
  return out;
}

/// A matrix as an array of its rows.
template <class S>
nlohmann::json matrix_to_json(const Matrix<S>& matrix) {
  nlohmann::json rows = nlohmann::json::array();
  for (Index i = 0; i < matrix.rows(); ++i) rows.push_back(to_json_array<S>(matrix.row(i)));
  return rows;
}

template <class S>
nlohmann::json mlp_to_json(const Mlp<S>& mlp) {
  nlohmann::json layers = nlohmann::json::array();
  for (const auto& dense : mlp.layers())
    layers.push_back({{"weight", matrix_to_json<S>(dense.weight.value)}, {"bias", to_json_array<S>(dense.bias.value)}});
  return {{"activation", std::string(to_string(mlp.activation()))}, {"layers", layers}};
}

template <class S>
Mlp<S> mlp_from_json(const JsonReader& reader, Index inputs, Index outputs) {
  Activation activation{};
  const JsonReader activation_field = reader.field("activation");
  try {
    activation = parse_activation(activation_field.string());
  } catch (const ValueError& e) {
    activation_field.fail(e.what());
  }
  const JsonReader layers = reader.field("layers");
  const std::size_t count = layers.array_size();
  if (count == 0) layers.fail("an MLP needs at least one layer");
  std::vector<std::pair<Matrix<S>, Matrix<S>>> weights;
  Index expected_in = inputs;
  for (std::size_t k = 0; k < count; ++k) {
    const JsonReader layer = layers.at(k);
    const JsonReader weight_field = layer.field("weight");
    Matrix<S> weight = weight_field.matrix<S>();
    if (weight.cols() != expected_in)
      weight_field.fail("expected rows of " + std::to_string(expected_in) + " inputs, found " + std::to_string(weight.cols()));
    if (k + 1 == count && weight.rows() != outputs)
      weight_field.fail("the last layer must have " + std::to_string(outputs) + " outputs, found " + std::to_string(weight.rows()));
    Matrix<S> bias = layer.field("bias").row_vector<S>(weight.rows());
    expected_in = weight.rows();
    weights.emplace_back(std::move(weight), std::move(bias));
  }
  return Mlp<S>(activation, std::move(weights));
}

template <class S>
RowVector<S> mask_from_json(const JsonReader& reader, Index dim, bool conditional = false) {
  RowVector<S> mask = reader.row_vector<S>(dim);
  try {
    validate_mask("mask", mask, conditional);
  } catch (const Error& e) {
    reader.fail(e.what());
  }
  return mask;
}

/// A layer's model-file entry as its concrete type (the writer is only given layers of its type).
template <class L, class S>
const L& layer_as(const Layer<S>& layer) {
  return static_cast<const L&>(layer);
}

/// A list of integers, of the expected length when expected ≥ 0.
inline std::vector<Index> index_array(const JsonReader& reader, Index expected = -1) {
  const std::size_t size = reader.array_size();
  if (expected >= 0 && size != static_cast<std::size_t>(expected))
    reader.fail("expected " + std::to_string(expected) + " integers, found " + std::to_string(size));
  std::vector<Index> out;
  for (std::size_t j = 0; j < size; ++j) out.push_back(static_cast<Index>(reader.at(j).integer()));
  return out;
}

/// A network layer's "context_dim": the context columns its conditioner reads
/// (conditional flows); absent means 0, as in files written before contexts.
inline Index context_dim_from_json(const JsonReader& layer) {
  if (!layer.has("context_dim")) return 0;
  const JsonReader field = layer.field("context_dim");
  const long long width = field.integer();
  if (width < 0 || width > 1000000) field.fail("context_dim must be an integer in [0, 1000000], found " + std::to_string(width));
  return static_cast<Index>(width);
}

/// Adds "context_dim" to a network layer's entry when it reads a context.
inline void context_dim_to_json(nlohmann::json& out, Index context_dim) {
  if (context_dim > 0) out["context_dim"] = context_dim;
}

/// Every built-in layer type, added to a fresh registry (defined in io/model_file.hpp).
template <class S>
void add_built_in_layers(LayerRegistry<S>& registry);

}  // namespace detail

/// Reader and writer of each layer type, by its type name.
template <class S>
class LayerRegistry {
 public:
  using Reader = std::function<std::unique_ptr<Layer<S>>(const detail::JsonReader&, Index dim)>;
  using Writer = std::function<nlohmann::json(const Layer<S>&)>;

  /// The registry with every built-in layer type (registered in io/model_file.hpp).
  static LayerRegistry& instance() {
    static LayerRegistry registry = [] {
      LayerRegistry built_in;
      detail::add_built_in_layers(built_in);
      return built_in;
    }();
    return registry;
  }

  /// Adds or replaces a type. The writer receives layers whose type() is `type`.
  void add(const std::string& type, Reader reader, Writer writer) {
    entries_[type] = {std::move(reader), std::move(writer)};
  }

  nlohmann::json write(const Layer<S>& layer) const {
    const auto it = entries_.find(layer.type());
    if (it == entries_.end()) throw ValueError("cannot save layer type '" + layer.type() + "': not in the layer registry");
    nlohmann::json out = it->second.writer(layer);
    out["type"] = layer.type();
    return out;
  }

  std::unique_ptr<Layer<S>> read(const detail::JsonReader& reader, Index dim) const {
    const detail::JsonReader type_field = reader.field("type");
    const std::string type = type_field.string();
    const auto it = entries_.find(type);
    if (it == entries_.end()) {
      std::string known;
      for (const auto& entry : entries_) known += (known.empty() ? "" : ", ") + entry.first;
      type_field.fail("unknown layer type '" + type + "' (known: " + known + ")");
    }
    try {
      return it->second.reader(reader, dim);
    } catch (const FormatError&) {
      throw;
    } catch (const Error& e) {  // a constructor's own check, e.g. a planar w of zero norm
      reader.fail(e.what());
    }
  }

 private:
  struct Entry {
    Reader reader;
    Writer writer;
  };

  std::map<std::string, Entry> entries_;
};

}  // namespace eigenflow

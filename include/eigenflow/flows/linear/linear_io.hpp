// Model-file entries of the linear family (docs/model-format.md):
//   {"type": "actnorm", "bias": [D], "log_scale": [D], "initialized": true|false}
//   {"type": "lu_linear", "perm": [D], "lower": [[D]×D], "upper": [[D]×D], "sign": [±1 ×D], "log_abs_s": [D]}
//   {"type": "dense_linear", "weight": [[D]×D]}
//   {"type": "batch_norm", "log_gamma": [D], "beta": [D], "mean": [D], "variance": [D ≥ 0], "epsilon": > 0}
#pragma once

#include <memory>
#include <string>
#include <vector>

#include "eigenflow/flows/linear/actnorm.hpp"
#include "eigenflow/flows/linear/batch_norm.hpp"
#include "eigenflow/flows/linear/lu_linear.hpp"
#include "eigenflow/io/layer_registry.hpp"

namespace eigenflow::detail {

/// A dim x dim matrix field.
template <class S>
Matrix<S> square_matrix_from_json(const JsonReader& reader, Index dim) {
  if (reader.array_size() != static_cast<std::size_t>(dim))
    reader.fail("expected " + std::to_string(dim) + " rows, found " + std::to_string(reader.array_size()));
  Matrix<S> out(dim, dim);
  for (Index i = 0; i < dim; ++i) out.row(i) = reader.at(static_cast<std::size_t>(i)).row_vector<S>(dim);
  return out;
}

template <class S>
void add_linear_family(LayerRegistry<S>& registry) {
  registry.add(
      "actnorm",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        return std::make_unique<ActNorm<S>>(in.field("bias").row_vector<S>(dim), in.field("log_scale").row_vector<S>(dim),
                                            in.field("initialized").boolean());
      },
      [](const Layer<S>& layer) {
        const auto& actnorm = layer_as<ActNorm<S>>(layer);
        return nlohmann::json{{"bias", to_json_array<S>(actnorm.bias())},
                              {"log_scale", to_json_array<S>(actnorm.log_scale())},
                              {"initialized", actnorm.initialized()}};
      });
  registry.add(
      "lu_linear",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const RowVector<S> sign =
            in.field("sign").row_vector<S>(dim, [](S v) { return v == S(1) || v == S(-1); }, "sign entries must be 1 or -1");
        const JsonReader perm_field = in.field("perm");
        try {
          return std::make_unique<LuLinear<S>>(index_array(perm_field, dim), square_matrix_from_json<S>(in.field("lower"), dim),
                                               square_matrix_from_json<S>(in.field("upper"), dim), sign,
                                               in.field("log_abs_s").row_vector<S>(dim));
        } catch (const ValueError& e) {  // the permutation's own check names the entry
          perm_field.fail(e.what());
        }
      },
      [](const Layer<S>& layer) {
        const auto& linear = layer_as<LuLinear<S>>(layer);
        return nlohmann::json{{"perm", linear.perm()},
                              {"lower", matrix_to_json<S>(linear.lower())},
                              {"upper", matrix_to_json<S>(linear.upper())},
                              {"sign", to_json_array<S>(linear.sign())},
                              {"log_abs_s", to_json_array<S>(linear.log_abs_s())}};
      });
  registry.add(
      "dense_linear",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const JsonReader weight_field = in.field("weight");
        const Matrix<S> weight = square_matrix_from_json<S>(weight_field, dim);
        try {
          return std::make_unique<DenseLinear<S>>(weight);
        } catch (const Error& e) {  // singular
          weight_field.fail(e.what());
        }
      },
      [](const Layer<S>& layer) { return nlohmann::json{{"weight", matrix_to_json<S>(layer_as<DenseLinear<S>>(layer).weight())}}; });
  registry.add(
      "batch_norm",
      [](const JsonReader& in, Index dim) -> std::unique_ptr<Layer<S>> {
        const RowVector<S> variance =
            in.field("variance").row_vector<S>(dim, [](S v) { return v >= S(0); }, "variances must be non-negative");
        const JsonReader epsilon_field = in.field("epsilon");
        const auto epsilon = static_cast<S>(epsilon_field.number());
        if (!(epsilon > S(0))) epsilon_field.fail("epsilon must be positive");
        return std::make_unique<BatchNorm<S>>(in.field("log_gamma").row_vector<S>(dim), in.field("beta").row_vector<S>(dim),
                                              in.field("mean").row_vector<S>(dim), variance, epsilon);
      },
      [](const Layer<S>& layer) {
        const auto& norm = layer_as<BatchNorm<S>>(layer);
        return nlohmann::json{{"log_gamma", to_json_array<S>(norm.log_gamma())},
                              {"beta", to_json_array<S>(norm.beta())},
                              {"mean", to_json_array<S>(norm.mean())},
                              {"variance", to_json_array<S>(norm.variance())},
                              {"epsilon", norm.epsilon()}};
      });
}

}  // namespace eigenflow::detail

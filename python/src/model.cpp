// eigenflow._eigenflow.Model: a FlowStack in its own precision (float32 or float64, as its
// model file says), with the library's verbs on numpy arrays. The GIL is released while
// the library computes; arrays are converted before and after, under it.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <eigenflow/eigenflow.hpp>

#include <cstdint>
#include <optional>
#include <string>
#include <utility>
#include <variant>

#include "arrays.hpp"

namespace eigenflow::python {

namespace {

/// The context rows a verb of this flow needs: none for an unconditional one, context_dim columns otherwise.
template <class S, class Flow>
std::optional<Matrix<S>> context_rows(const std::optional<InputArray>& c, const Flow& flow, const std::string& verb) {
  if (!c) {
    if (flow.context_dim() > 0)
      throw ValueError(verb + ": this model is conditional on " + std::to_string(flow.context_dim()) + " columns; give a context");
    return std::nullopt;
  }
  if (flow.context_dim() == 0) throw ValueError(verb + ": this model is unconditional; give no context");
  return to_matrix<S>(*c, verb + ": the context", flow.context_dim());
}

class Model {
 public:
  /// name: where the text came from, for error messages.
  static Model from_json(const std::string& text, const std::string& name = "<text>") {
    return from_document(parse_model_text(text, name), name);
  }
  static Model load(const std::string& path) { return from_document(read_model_document(path), path); }

  /// The model file's text (what save_model writes, without its final newline).
  std::string to_json() const {
    return std::visit([](const auto& flow) { return model_to_json(flow).dump(1); }, flow_);
  }
  void save(const std::string& path) const {
    std::visit([&](const auto& flow) { save_model(path, flow); }, flow_);
  }

  Index dim() const { return std::visit([](const auto& flow) { return flow.dim(); }, flow_); }
  Index context_dim() const { return std::visit([](const auto& flow) { return flow.context_dim(); }, flow_); }
  std::string precision() const { return std::holds_alternative<FlowStack<float>>(flow_) ? "float32" : "float64"; }

  py::array log_prob(const InputArray& x, const std::optional<InputArray>& c) const {
    return std::visit(
        [&](const auto& flow) -> py::array {
          using S = typename std::decay_t<decltype(flow)>::Scalar;
          const Matrix<S> points = to_matrix<S>(x, "log_prob: X", flow.dim());
          const std::optional<Matrix<S>> context = context_rows<S>(c, flow, "log_prob");
          ColumnVector<S> out;
          {
            py::gil_scoped_release release;
            out = context ? flow.log_prob(points, *context) : flow.log_prob(points);
          }
          return to_array(std::move(out));
        },
        flow_);
  }

  /// (points, log|det J|) of the data-to-latent map, or of its inverse.
  py::tuple transform(const InputArray& x, const std::optional<InputArray>& c, bool inverse) const {
    return std::visit(
        [&](const auto& flow) -> py::tuple {
          using S = typename std::decay_t<decltype(flow)>::Scalar;
          const char* verb = inverse ? "inverse" : "forward";
          const Matrix<S> points = to_matrix<S>(x, std::string(verb) + ": the points", flow.dim());
          const std::optional<Matrix<S>> context = context_rows<S>(c, flow, verb);
          Transformed<S> out;
          {
            py::gil_scoped_release release;
            if (inverse) out = context ? flow.inverse(points, *context) : flow.inverse(points);
            else out = context ? flow.forward(points, *context) : flow.forward(points);
          }
          return py::make_tuple(to_array(std::move(out.points)), to_array(std::move(out.log_det)));
        },
        flow_);
  }

  /// n samples and their log-densities; with a context, one sample per context row (n = its rows) or n for one row.
  py::tuple sample_and_log_prob(Index n, const std::optional<InputArray>& c, std::uint64_t seed) const {
    if (n < 0) throw ValueError("sample: the number of samples must be non-negative, found " + std::to_string(n));
    return std::visit(
        [&](const auto& flow) -> py::tuple {
          using S = typename std::decay_t<decltype(flow)>::Scalar;
          std::optional<Matrix<S>> context = context_rows<S>(c, flow, "sample");
          if (context && context->rows() == 1 && n != 1) context = context->replicate(n, 1).eval();
          if (context && context->rows() != n)
            throw ShapeError("sample: expected one context row, or one per sample (" + std::to_string(n) + "), found " +
                             std::to_string(context->rows()));
          Random rng(seed);
          Samples<S> out;
          {
            py::gil_scoped_release release;
            out = context ? flow.sample_and_log_prob(n, *context, rng) : flow.sample_and_log_prob(n, rng);
          }
          return py::make_tuple(to_array(std::move(out.points)), to_array(std::move(out.log_prob)));
        },
        flow_);
  }

 private:
  explicit Model(FlowStack<float> flow) : flow_(std::move(flow)) {}
  explicit Model(FlowStack<double> flow) : flow_(std::move(flow)) {}

  /// The model of a parsed model file, in its own precision.
  static Model from_document(const nlohmann::json& document, const std::string& name) {
    try {
      if (model_scalar(document) == "float32") return Model(model_from_json<float>(document));
      return Model(model_from_json<double>(document));
    } catch (const FormatError& e) {
      throw FormatError(name + ": " + e.what());
    }
  }

  std::variant<FlowStack<float>, FlowStack<double>> flow_;
};

}  // namespace

void bind_model(py::module_& m) {
  py::class_<Model>(m, "Model", "A normalizing flow (a FlowStack) in its own precision, as a model file holds it.")
      .def_static("from_json", [](const std::string& text) { return Model::from_json(text); }, py::arg("text"),
                  "The model of a model file's text.")
      .def_static("load", &Model::load, py::arg("path"), "The model of a model file.")
      .def("to_json", &Model::to_json, "The model file's text.")
      .def("save", &Model::save, py::arg("path"), "Writes the model file (atomically).")
      .def_property_readonly("dim", &Model::dim)
      .def_property_readonly("context_dim", &Model::context_dim)
      .def_property_readonly("precision", &Model::precision)
      .def("log_prob", &Model::log_prob, py::arg("X"), py::arg("context") = py::none(), "log p(x) per row (log p(x | c) with a context).")
      .def("forward", [](const Model& model, const InputArray& x, const std::optional<InputArray>& c) { return model.transform(x, c, false); },
           py::arg("X"), py::arg("context") = py::none(), "(z, log|det dz/dx|): data to latent.")
      .def("inverse", [](const Model& model, const InputArray& z, const std::optional<InputArray>& c) { return model.transform(z, c, true); },
           py::arg("Z"), py::arg("context") = py::none(), "(x, log|det dx/dz|): latent to data.")
      .def("sample_and_log_prob", &Model::sample_and_log_prob, py::arg("n"), py::arg("context") = py::none(), py::arg("seed") = 0,
           "(samples, their log p): n draws from the model.")
      .def(py::pickle([](const Model& model) { return model.to_json(); },
                      [](const std::string& text) { return Model::from_json(text, "<pickle>"); }));
}

}  // namespace eigenflow::python

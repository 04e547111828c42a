// eigenflow._eigenflow.train: `eigenflow train`'s own path (examples/cli/train_command.hpp)
// on rows held in numpy arrays instead of files: the same defaults, split, seeds and model,
// so that the same rows and options give the same model file, byte for byte; and
// fit_target: `eigenflow fit`'s (variational inference on a built-in target). Options are
// the command line's flags by name (underscores for dashes); unknown names are refused.
// Progress reaches Python through a callback (python_progress), with the GIL taken back.
#include <pybind11/numpy.h>
#include <pybind11/pybind11.h>
#include <pybind11/stl.h>

#include <eigenflow/eigenflow.hpp>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <random>
#include <sstream>
#include <string>
#include <utility>

#include "arrays.hpp"
#include "commands.hpp"  // the command line's commands, compiled once in eigenflow_cli_commands

namespace eigenflow::python {

namespace {

/// The command line's Options from {flag name: value}.
cli::Options options_from(const py::dict& given, bool& activation_given, bool& lr_given) {
  cli::Options o;
  o.test_fraction = 0;  // fit(X) trains on X; held-out rows are the caller's to keep
  for (const auto& item : given) {  // (not a structured binding: C++17 lambdas cannot capture one)
    const std::string name = py::str(item.first);
    const py::handle value = item.second;
    auto number = [&] { return value.cast<double>(); };
    auto integer = [&] { return value.cast<long long>(); };
    auto text = [&] { return value.cast<std::string>(); };
    if (name == "flow") o.flow.family = text();
    else if (name == "layers") o.flow.layers = integer();
    else if (name == "hidden") o.flow.hidden = integer();
    else if (name == "depth") o.flow.depth = integer();
    else if (name == "bins") o.bins = integer();
    else if (name == "tail_bound") o.flow.spline.tail_bound = number();
    else if (name == "mix") o.flow.mix = text();
    else if (name == "actnorm") o.flow.actnorm = value.cast<bool>();
    else if (name == "activation") { o.activation = text(); activation_given = true; }
    else if (name == "epochs") o.epochs = integer();
    else if (name == "batch") o.batch = integer();
    else if (name == "patience") o.patience = integer();
    else if (name == "lr") { o.lr = number(); lr_given = true; }
    else if (name == "weight_decay") o.weight_decay = number();
    else if (name == "jitter") o.jitter = number();
    else if (name == "average_decay") o.average_decay = number();
    else if (name == "clip") o.clip = number();
    else if (name == "schedule") o.schedule = text();
    else if (name == "seed") o.seed = value.cast<unsigned long long>();
    else if (name == "precision") o.precision = text();
    else if (name == "validation_fraction") o.validation_fraction = number();
    else if (name == "test_fraction") o.test_fraction = number();
    else if (name == "threads") o.threads = integer();
    else if (name == "active") o.active = integer();
    else if (name == "budget") o.budget = number();
    else if (name == "keep_last") o.keep_last = value.cast<bool>();
    else if (name == "steps") o.steps = integer();
    else if (name == "fit_batch") o.fit_batch = integer();
    else if (name == "fit_lr") o.fit_lr = number();
    else if (name == "fit_clip") o.fit_clip = number();
    else if (name == "anneal") o.anneal = integer();
    else if (name == "samples") o.fit_samples = integer();
    else throw ValueError("unknown option '" + name + "'");
  }
  if (o.precision != "float" && o.precision != "double")
    throw ValueError("precision must be 'float' or 'double', found '" + o.precision + "'");
  if (o.schedule != "cosine" && o.schedule != "constant")
    throw ValueError("schedule must be 'cosine' or 'constant', found '" + o.schedule + "'");
  return o;
}

/// [x | c] as one matrix.
Matrix<double> joined(const Matrix<double>& x, const std::optional<Matrix<double>>& c) {
  if (!c) return x;
  if (c->rows() != x.rows())
    throw ShapeError("train: the context has " + std::to_string(c->rows()) + " rows for " + std::to_string(x.rows()) + " points");
  Matrix<double> out(x.rows(), x.cols() + c->cols());
  out << x, *c;
  return out;
}

std::optional<Matrix<double>> optional_rows(const std::optional<InputArray>& a, const std::string& name, Index columns = -1) {
  if (!a) return std::nullopt;
  return to_matrix<double>(*a, name, columns);
}

/// A file name of its own in the temporary directory, for the command's model file.
std::filesystem::path temporary_model_path() {
  std::random_device entropy;
  return std::filesystem::temp_directory_path() / ("eigenflow-" + std::to_string(entropy()) + std::to_string(entropy()) + ".json");
}

std::string read_and_remove(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  std::stringstream text;
  text << in.rdbuf();
  in.close();
  std::filesystem::remove(path);
  std::string out = text.str();
  if (!out.empty() && out.back() == '\n') out.pop_back();
  return out;
}

py::dict as_dict(const EpochReport& r) {
  return py::dict(py::arg("epoch") = r.epoch, py::arg("epochs") = r.epochs, py::arg("train_nll") = r.train_nll,
                  py::arg("validation_nll") = r.validation_nll, py::arg("improved") = r.improved, py::arg("seconds") = r.seconds,
                  py::arg("steps_per_second") = r.steps_per_second, py::arg("eta_seconds") = r.eta_seconds);
}

py::dict as_dict(const FitReport& r) {
  return py::dict(py::arg("step") = r.step, py::arg("steps") = r.steps, py::arg("elbo") = r.elbo, py::arg("beta") = r.beta,
                  py::arg("seconds") = r.seconds, py::arg("steps_per_second") = r.steps_per_second,
                  py::arg("eta_seconds") = r.eta_seconds);
}

/// Progress to Python, called by the training loop (GIL released) after each report: with
/// the GIL taken back, a pending signal ends training (Ctrl-C: KeyboardInterrupt), then the
/// callback, when there is one, gets the report as a dict; a false answer stops training as
/// early stopping would, an exception ends it and reaches the caller (no model is made).
/// `callback` must outlive training: it is held by reference, so that copies of the hook
/// made while the GIL is released never touch a reference count.
template <class Report>
std::function<bool(const Report&)> python_progress(const py::object& callback) {
  return [&callback](const Report& report) {
    std::fflush(stdout);  // the library's lines before anything the callback prints
    std::fflush(stderr);
    py::gil_scoped_acquire hold;
    if (PyErr_CheckSignals() != 0) throw py::error_already_set();
    if (callback.is_none()) return true;
    const py::object answer = callback(as_dict(report));
    return answer.is_none() || static_cast<bool>(py::bool_(answer));
  };
}

void require_callable(const py::object& callback) {
  if (!callback.is_none() && !PyCallable_Check(callback.ptr()))
    throw ValueError("callback must be callable (it gets each progress report as a dict), found " +
                     std::string(py::str(py::type::of(callback).attr("__name__"))));
}

/// The model file's text of `eigenflow train` with these options on these rows.
std::string train(const py::dict& given, const InputArray& x, const std::optional<InputArray>& context,
                  const std::optional<InputArray>& x_val, const std::optional<InputArray>& context_val, const py::object& callback) {
  bool activation_given = false, lr_given = false;
  cli::Options o = options_from(given, activation_given, lr_given);
  require_callable(callback);
  o.on_epoch = python_progress<EpochReport>(callback);
  const Matrix<double> points = to_matrix<double>(x, "train: X");
  const std::optional<Matrix<double>> c = optional_rows(context, "train: the context");
  const Index context_dim = c ? c->cols() : 0;
  if ((x_val && context_dim > 0 && !context_val) || (!x_val && context_val))
    throw ValueError("train: X_val and context_val go together for a conditional model (and context_val alone means nothing)");
  cli::RowsInMemory rows{{joined(points, c), context_dim}, std::nullopt, std::nullopt};
  if (x_val) rows.validation = joined(to_matrix<double>(*x_val, "train: X_val", points.cols()), optional_rows(context_val, "train: context_val", context_dim));
  const std::filesystem::path out = temporary_model_path();
  o.out = out.string();
  const cli::Options resolved = cli::resolved_train_options(o, activation_given, lr_given);
  {
    py::gil_scoped_release release;
    cli::set_threads(resolved.threads);
    if (resolved.precision == "float") cli::train_command<float>(resolved, &rows);
    else cli::train_command<double>(resolved, &rows);
    std::fflush(stdout);
    std::fflush(stderr);
  }
  return read_and_remove(out);
}

/// The model file's text of `eigenflow fit --target NAME` with these options.
std::string fit_target(const py::dict& given, const std::string& target, const py::object& callback) {
  bool activation_given = false, lr_given = false;
  cli::Options o = options_from(given, activation_given, lr_given);
  require_callable(callback);
  o.on_fit_report = python_progress<FitReport>(callback);
  o.target = target;
  if (o.flow.family.empty()) o.flow.family = "planar";
  if (activation_given) o.flow.activation = parse_activation(o.activation);
  const std::filesystem::path out = temporary_model_path();
  o.out = out.string();
  {
    py::gil_scoped_release release;
    cli::set_threads(o.threads);
    if (o.precision == "float") cli::fit_command<float>(o);
    else cli::fit_command<double>(o);
    std::fflush(stdout);
    std::fflush(stderr);
  }
  return read_and_remove(out);
}

/// rows x cols numbers returned by a Python target (a 1-D array when cols = 1), as S.
template <class S>
Matrix<S> returned_rows(const py::handle& returned, Index rows, Index cols, const std::string& name) {
  py::array a = py::array::ensure(returned);
  if (!a) throw ValueError(name + ": not an array of numbers");
  if (a.ndim() == 1 && cols == 1 && static_cast<Index>(a.shape(0)) == rows) a = a.reshape({static_cast<py::ssize_t>(rows), py::ssize_t(1)});
  if (!(a.ndim() == 2 && static_cast<Index>(a.shape(0)) == rows && static_cast<Index>(a.shape(1)) == cols))
    throw ShapeError(name + ": expected " + std::to_string(rows) + " rows of " + std::to_string(cols) + " (one per point)");
  return to_matrix<S>(a, name, cols);
}

/// A target from a Python callable f(x) -> log p~(x) per row, or (log p~(x), its gradient
/// per row). The tape sees U = −log p~ through its value and gradient at the batch:
/// U(x) = Σ_j x_j·(−g_j) + (U₀ − Σ_j x₀_j·(−g_j)), exact in value and gradient at x₀ = x.
/// Without a gradient, central differences (step 1e-4·(1 + |x|), 2D calls per batch).
/// The callable is held through a shared_ptr: copies of the target made while the GIL is
/// released never touch its reference count; each call takes the GIL.
template <class S>
Target<S> python_target(const std::shared_ptr<py::function>& f, Index dim) {
  auto call = [f, dim](const Matrix<S>& x, bool need_gradient) {
    py::gil_scoped_acquire hold;
    auto values = [&](const Matrix<S>& at) -> std::pair<Matrix<S>, std::optional<Matrix<S>>> {
      const py::object out = (*f)(to_array(at));
      if (py::isinstance<py::tuple>(out) && py::len(out) == 2) {
        const py::tuple pair = py::reinterpret_borrow<py::tuple>(out);
        return {returned_rows<S>(pair[0], at.rows(), 1, "the target's log density"),
                returned_rows<S>(pair[1], at.rows(), dim, "the target's gradient")};
      }
      return {returned_rows<S>(out, at.rows(), 1, "the target's log density"), std::nullopt};
    };
    auto [log_p, gradient] = values(x);
    if (need_gradient && !gradient) {
      gradient = Matrix<S>(x.rows(), dim);
      for (Index j = 0; j < dim; ++j) {
        const ColumnVector<S> step = (x.col(j).array().abs() + S(1)) * S(1e-4);
        Matrix<S> up = x, down = x;
        up.col(j) += step;
        down.col(j) -= step;
        gradient->col(j) = ((values(up).first - values(down).first).array() / (2 * step.array())).matrix();
      }
    }
    return std::make_pair(std::move(log_p), std::move(gradient));
  };
  return Target<S>(
      "python", dim, [call](const Matrix<S>& x) { return Matrix<S>(-call(x, false).first); },
      [call](Tape<S>& tape, const Var<S>& x) {
        const auto [log_p, gradient] = call(x.value(), true);
        const Matrix<S> slope = -*gradient;  // dU/dx
        const Matrix<S> offset = -log_p - (x.value().array() * slope.array()).rowwise().sum().matrix();
        return add(row_sums(mul(x, tape.constant(slope))), tape.constant(offset));
      });
}

/// Variational inference on a Python target: the flow (in the sampling direction, its base
/// N(0, I) moved to loc + scale·u) fitted by reverse KL as `eigenflow fit` fits it; returns
/// the model file's text and the importance-sampling estimate of log Z.
py::tuple fit_callable(const py::dict& given, const py::function& f, Index dim, const InputArray& loc, const InputArray& scale,
                       const py::object& callback) {
  bool activation_given = false, lr_given = false;
  cli::Options o = options_from(given, activation_given, lr_given);
  require_callable(callback);
  o.on_fit_report = python_progress<FitReport>(callback);
  if (dim < 1) throw ValueError("fit_target: dim must be at least 1, found " + std::to_string(dim));
  if (o.flow.family.empty()) o.flow.family = "planar";
  if (activation_given) o.flow.activation = parse_activation(o.activation);
  cli::check_fit_flags(o);
  auto run = [&](auto scalar) -> py::tuple {
    using S = decltype(scalar);
    const Matrix<S> shift = to_matrix<S>(loc, "fit_target: loc", dim), spread = to_matrix<S>(scale, "fit_target: scale", dim);
    if (shift.rows() != 1 || spread.rows() != 1 || !(spread.array() > 0).all())
      throw ValueError("fit_target: loc and scale must be one row of " + std::to_string(dim) + " values, scale positive");
    const Target<S> target = python_target<S>(std::make_shared<py::function>(f), dim);
    cli::FlowSpec spec = o.flow;
    spec.sampling = true;
    Random model_rng(o.seed + 1);
    FlowStack<S> flow = cli::build_flow<S>(spec, dim, model_rng);
    flow.set_preprocess(shift.row(0), spread.row(0));
    ImportanceEstimate estimate;
    {
      py::gil_scoped_release release;  // the target takes it back for each call
      cli::set_threads(o.threads);
      cli::fit_with_flags(flow, target, o);
      Random check_rng(o.seed + 3);
      estimate = estimate_log_normalizer(flow, target, static_cast<Index>(o.fit_samples), check_rng);
      std::fflush(stdout);
      std::fflush(stderr);
    }
    return py::make_tuple(model_to_json(flow).dump(1), estimate.elbo, estimate.log_normalizer, estimate.log_normalizer_se,
                          estimate.ess_fraction(), estimate.pareto_k);
  };
  return o.precision == "float" ? run(float()) : run(double());
}

}  // namespace

void bind_training(py::module_& m) {
  m.def("fit_callable", &fit_callable, py::arg("options"), py::arg("log_density"), py::arg("dim"), py::arg("loc"), py::arg("scale"),
        py::arg("callback") = py::none(),
        "Variational inference on a Python log density: (model text, elbo, log_z, log_z_se, ess_fraction, pareto_k).");
  m.def("fit_target", &fit_target, py::arg("options"), py::arg("target"), py::arg("callback") = py::none(),
        "The model file's text of `eigenflow fit --target TARGET` with these options (its flags, underscores for dashes).");
  m.def("train", &train, py::arg("options"), py::arg("X"), py::arg("context") = py::none(), py::arg("X_val") = py::none(),
        py::arg("context_val") = py::none(), py::arg("callback") = py::none(),
        "The model file's text of `eigenflow train` with these options (its flags, underscores for dashes) on these rows.");
}

}  // namespace eigenflow::python

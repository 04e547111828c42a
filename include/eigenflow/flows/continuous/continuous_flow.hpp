// A continuous normalizing flow (Chen et al. 2018; FFJORD, Grathwohl et al. 2019;
// seed 003 section 3) as a layer: data x sits at t = T, the latent z at t = 0,
// and with dz/dt = f(z, t) (the dynamics) the instantaneous change of variables
//   d log p(z(t))/dt = −tr(∂f/∂z(t))
// gives, integrating the pair (z, L) with dL/dt = tr(∂f/∂z) from T down to 0,
//   forward  z = z(0),  log|det ∂z/∂x| = L(0) = −∫_0^T tr(∂f/∂z) dt,
// and from 0 up to T the inverse, with log|det ∂x/∂z| = +∫_0^T tr dt. The map is
// a bijection for any Lipschitz f (ODE solutions do not cross), so f needs no
// invertibility constraint; its exactness is the solver's: a plain pass is
// accurate to the solver's tolerance (docs/layers.md states what it reaches).
//
// Training (taped passes) records the accepted solver steps on the tape
// (discretise-then-optimise) or, with CnfGradient::adjoint, one node whose
// backward solves the adjoint ODE (continuous_adjoint.hpp; memory independent of
// the number of steps). Taped passes may estimate the trace (Hutchinson) and add
// RNODE's penalty (Finlay et al. 2020) λ_K·∫‖f‖² dt + λ_J·∫‖∂f/∂z‖²_F dt to the
// loss by subtracting it from the returned log-det; plain passes (log_prob,
// sampling, evaluation) always use the exact trace and no penalty.
#pragma once

#include <atomic>
#include <cstdint>
#include <cstring>
#include <string>
#include <utility>
#include <vector>

#include "eigenflow/core/random.hpp"
#include "eigenflow/flows/continuous/continuous_adjoint.hpp"
#include "eigenflow/flows/continuous/dynamics.hpp"
#include "eigenflow/flows/continuous/ode_solver.hpp"
#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

enum class TraceEstimator { exact, gaussian, rademacher };
enum class CnfGradient { backprop, adjoint };

inline std::string to_string(TraceEstimator estimator) {
  return estimator == TraceEstimator::exact ? "exact" : estimator == TraceEstimator::gaussian ? "gaussian" : "rademacher";
}
inline TraceEstimator parse_trace_estimator(const std::string& name) {
  if (name == "exact") return TraceEstimator::exact;
  if (name == "gaussian") return TraceEstimator::gaussian;
  if (name == "rademacher") return TraceEstimator::rademacher;
  throw ValueError("unknown trace estimator '" + name + "' (expected exact, gaussian or rademacher)");
}
inline std::string to_string(CnfGradient gradient) { return gradient == CnfGradient::backprop ? "backprop" : "adjoint"; }
inline CnfGradient parse_cnf_gradient(const std::string& name) {
  if (name == "backprop") return CnfGradient::backprop;
  if (name == "adjoint") return CnfGradient::adjoint;
  throw ValueError("unknown gradient method '" + name + "' (expected backprop or adjoint)");
}

/// How a continuous flow trains (its taped passes).
struct CnfTraining {
  CnfGradient gradient = CnfGradient::backprop;
  TraceEstimator trace = TraceEstimator::exact;
  double kinetic = 0;       ///< λ_K, the weight of ∫‖f‖² dt
  double jacobian = 0;      ///< λ_J, the weight of ∫‖∂f/∂z‖²_F dt
  std::uint64_t seed = 0;   ///< of the Hutchinson probes
};

inline void validate(const CnfTraining& training, const std::string& where) {
  if (!(training.kinetic >= 0) || !(training.jacobian >= 0) || !std::isfinite(training.kinetic) ||
      !std::isfinite(training.jacobian))
    throw ValueError(where + ": the kinetic and jacobian weights must be finite and non-negative, found " +
                     std::to_string(training.kinetic) + " and " + std::to_string(training.jacobian));
}

/// Evaluations of f over solves, for the training progress line (NFE per solve).
struct OdeCounts {
  long long evaluations = 0;
  long long solves = 0;
};

/// What a layer that solves ODEs reports; a stack's total is ode_counts(flow).
class OdeCounter {
 public:
  virtual ~OdeCounter() = default;
  virtual OdeCounts counts() const = 0;
  virtual void reset_counts() = 0;
};

/// A layer that is the flow of an ODE over t ∈ [0, T] (latent at 0, data at T): its points
/// at intermediate times, for animations (`eigenflow animate`).
template <class S>
class TimePath {
 public:
  virtual ~TimePath() = default;
  virtual S duration() const = 0;
  /// z(t) at each of `times` (in [0, T]) from z(0) = z; context: one row per point, or null.
  virtual std::vector<Matrix<S>> path(const Matrix<S>& z, const std::vector<S>& times,
                                      const Matrix<S>* context = nullptr) const = 0;
};

/// The ODE solves of every layer of a FlowStack that solves ODEs.
template <class Flow>
OdeCounts ode_counts(const Flow& flow) {
  OdeCounts total;
  for (std::size_t k = 0; k < flow.size(); ++k)
    if (const auto* counter = dynamic_cast<const OdeCounter*>(&flow.layer(k))) {
      const OdeCounts counts = counter->counts();
      total.evaluations += counts.evaluations;
      total.solves += counts.solves;
    }
  return total;
}

namespace detail {
/// A counter a copyable layer can hold (copies start from the current count).
struct AtomicCount {
  std::atomic<long long> value{0};
  AtomicCount() = default;
  AtomicCount(const AtomicCount& other) : value(other.value.load()) {}
  AtomicCount& operator=(const AtomicCount& other) {
    value = other.value.load();
    return *this;
  }
};

/// A Hutchinson probe per row, a function of the seed and of the row's values
/// only: the same on any thread count and batch split.
template <class S>
Matrix<S> hutchinson_probe(const Matrix<S>& points, TraceEstimator estimator, std::uint64_t seed) {
  Matrix<S> probe(points.rows(), points.cols());
  for (Index i = 0; i < points.rows(); ++i) {
    std::uint64_t key = seed ^ 0x9e3779b97f4a7c15ULL;
    for (Index j = 0; j < points.cols(); ++j) {
      const double value = static_cast<double>(points(i, j));
      std::uint64_t bits = 0;
      std::memcpy(&bits, &value, sizeof bits);
      key = (key ^ bits) * 0x100000001b3ULL;  // FNV-style mixing
    }
    Random rng(key);
    for (Index j = 0; j < points.cols(); ++j)
      probe(i, j) = estimator == TraceEstimator::gaussian ? static_cast<S>(rng.normal())
                                                          : ((rng() >> 63) ? S(1) : S(-1));
  }
  return probe;
}
}  // namespace detail

template <class S, class Dynamics>
class ContinuousFlow : public LayerBase<ContinuousFlow<S, Dynamics>, S>,
                       public OdeCounter,
                       public TimePath<S> {
 public:
  ContinuousFlow(Dynamics dynamics, OdeOptions solver = {}, S duration = S(1), CnfTraining training = {})
      : dynamics_(std::move(dynamics)), solver_(solver), duration_(duration), training_(training) {
    validate(solver_, "ContinuousFlow");
    validate(training_, "ContinuousFlow");
    if (!(duration > S(0)) || !std::isfinite(static_cast<double>(duration)))
      throw ValueError("ContinuousFlow: the duration T must be positive and finite, found " +
                       std::to_string(static_cast<double>(duration)));
  }

  Index dim() const override { return dynamics_.dim(); }
  std::string type() const override { return "cnf"; }
  Index context_dim() const override { return dynamics_.context_dim(); }
  ParameterList<S> parameters() override { return dynamics_.parameters(); }

  const Dynamics& dynamics() const { return dynamics_; }
  const OdeOptions& solver() const { return solver_; }
  S duration() const override { return duration_; }
  const CnfTraining& training() const { return training_; }
  void set_solver(const OdeOptions& solver) {
    validate(solver, "ContinuousFlow::set_solver");
    solver_ = solver;
  }
  void set_training(const CnfTraining& training) {
    validate(training, "ContinuousFlow::set_training");
    training_ = training;
  }

  /// Evaluations of f and solves since construction or reset_counts().
  OdeCounts counts() const override { return {evaluations_.value.load(), solves_.value.load()}; }
  void reset_counts() override {
    evaluations_.value = 0;
    solves_.value = 0;
  }

  template <class C>
  std::pair<typename C::Value, typename C::Value> forward_math(C& context, const typename C::Value& x) const {
    return integrate(context, x, duration_, S(0), "cnf.forward");
  }
  template <class C>
  std::pair<typename C::Value, typename C::Value> inverse_math(C& context, const typename C::Value& z) const {
    return integrate(context, z, S(0), duration_, "cnf.inverse");
  }

  /// The points z(t) at each of `times` (in [0, T], any order), starting from z(0) = z: the
  /// path of latent samples towards the data, for animations. context: one row per point, or null.
  std::vector<Matrix<S>> path(const Matrix<S>& z, const std::vector<S>& times,
                              const Matrix<S>* context = nullptr) const override {
    detail::require_columns("cnf.path", z, dim());
    if (context_dim() > 0 && (!context || context->rows() != z.rows() || context->cols() != context_dim()))
      throw ShapeError("cnf.path: expected a context of " + detail::shape_string(z.rows(), context_dim()));
    PlainContext<S> plain;
    plain.given = context_dim() > 0 ? context : nullptr;
    const auto bound = dynamics_.bind(plain);
    const Matrix<S>* given = plain.given;
    std::vector<Matrix<S>> out;
    for (const S t : times) {
      if (!(t >= S(0) && t <= duration_))
        throw ValueError("cnf.path: times must lie in [0, T=" + std::to_string(static_cast<double>(duration_)) + "]");
      OdeOptions options = solver_;
      options.error_columns = dim();
      const auto velocity = [&](S time, const Matrix<S>& y) {
        return dynamics_.evaluate(plain, bound, y, time, given, TraceRequest<S>{}).velocity;
      };
      out.push_back(solve_ode<S>(velocity, z, S(0), t, options, nullptr, nullptr, "cnf.path"));
    }
    return out;
  }

 private:
  // The augmented state y = [z | L (| kinetic | jacobian)] from t0 to t1.
  template <class C>
  std::pair<typename C::Value, typename C::Value> integrate(C& context, const typename C::Value& v, S t0, S t1,
                                                            const char* where) const {
    using V = typename C::Value;
    const Index D = dim();
    const V* given = context_dim() > 0 ? &detail::given_context(context, context_dim(), where) : nullptr;
    const bool penalised = C::taped && (training_.kinetic > 0 || training_.jacobian > 0);
    const Matrix<S> probe = C::taped ? probe_for(value_of(v)) : Matrix<S>();
    const TraceRequest<S> request = request_for(probe, penalised);
    V y1;
    if constexpr (C::taped) {
      if (training_.gradient == CnfGradient::adjoint) y1 = adjoint_solve(context.tape, v, given, request, penalised, t0, t1, where);
    }
    if (!C::taped || training_.gradient == CnfGradient::backprop) {
      const auto bound = dynamics_.bind(context);
      const V y0 = concat_columns(v, context.constant(Matrix<S>::Zero(value_of(v).rows(), penalised ? 3 : 1)));
      const auto f = [&](S t, const V& y) { return rate(context, bound, given, request, penalised, t, y); };
      y1 = solve(f, y0, t0, t1, nullptr, where);
    }
    V log_det = columns(y1, D, 1);
    if (penalised) {
      // ∫_0^T of the penalties: the accumulated columns, sign-corrected for the direction.
      const S sign = t1 > t0 ? S(1) : S(-1);
      const V penalty = add(scale(columns(y1, D + 1, 1), static_cast<S>(sign * static_cast<S>(training_.kinetic))),
                            scale(columns(y1, D + 2, 1), static_cast<S>(sign * static_cast<S>(training_.jacobian))));
      log_det = sub(log_det, penalty);
    }
    return {columns(y1, 0, D), log_det};
  }

  // dy/dt = [f | tr ∂f/∂z (| ‖f‖² | ‖∂f/∂z‖²_F)] at (y, t).
  template <class C, class Bound>
  typename C::Value rate(C& context, const Bound& bound, const typename C::Value* given,
                         const TraceRequest<S>& request, bool penalised, S t, const typename C::Value& y) const {
    using V = typename C::Value;
    const auto ev = dynamics_.evaluate(context, bound, columns(y, 0, dim()), t, given, request);
    V dy = concat_columns(ev.velocity, ev.trace);
    if (penalised) {
      const V kinetic = row_sums(square(ev.velocity));
      dy = concat_columns(dy, concat_columns(kinetic, request.jacobian ? ev.jacobian : scale(kinetic, S(0))));
    }
    return dy;
  }

  // One solve with the layer's options, counted; the trace column is under error control, the penalties are not.
  template <class F, class V>
  V solve(F& f, const V& y0, S t0, S t1, std::vector<S>* grid, const char* where) const {
    OdeOptions options = solver_;
    options.error_columns = dim() + 1;
    OdeStats stats;
    V y1 = solve_ode<S>(f, y0, t0, t1, options, &stats, grid, where);
    evaluations_.value += stats.evaluations;
    solves_.value += 1;
    return y1;
  }

  // The Hutchinson probe of a taped pass from its input points (empty: exact trace).
  Matrix<S> probe_for(const Matrix<S>& points) const {
    if (training_.trace == TraceEstimator::exact) return {};
    return detail::hutchinson_probe(points, training_.trace, training_.seed);
  }
  TraceRequest<S> request_for(const Matrix<S>& probe, bool penalised) const {
    TraceRequest<S> request;
    if (probe.size() > 0) request.probe = &probe;
    request.jacobian = penalised && training_.jacobian > 0;
    return request;
  }

  // The adjoint method's forward: a plain solve, recorded as one node whose inputs are the points,
  // the context and a leaf per parameter; its backward is adjoint_backward.
  Var<S> adjoint_solve(Tape<S>& tape, const Var<S>& v, const Var<S>* given, const TraceRequest<S>& request,
                       bool penalised, S t0, S t1, const char* where) const {
    PlainContext<S> plain;
    plain.given = given ? &given->value() : nullptr;
    const auto bound = dynamics_.bind(plain);
    Matrix<S> y0 = Matrix<S>::Zero(v.rows(), dim() + (penalised ? 3 : 1));
    y0.leftCols(dim()) = v.value();
    const auto f = [&](S t, const Matrix<S>& y) { return rate(plain, bound, plain.given, request, penalised, t, y); };
    std::vector<S> grid;
    Matrix<S> y1 = solve(f, y0, t0, t1, &grid, where);
    std::vector<std::size_t> leaves;
    for (Parameter<S>* parameter : const_cast<Dynamics&>(dynamics_).parameters())
      leaves.push_back(tape.parameter(*parameter).index());
    auto& node = tape.push(y1.rows(), y1.cols(), &adjoint_backward);
    node.value = std::move(y1);
    node.input = {v.index(), given ? given->index() : v.index()};
    node.integer = {given ? 1 : 0, penalised ? 1 : 0};
    node.saved = Eigen::Map<const Matrix<S>>(grid.data(), 1, static_cast<Index>(grid.size()));
    node.owner = this;
    node.more_inputs = std::move(leaves);
    return tape.last();
  }

  static void adjoint_backward(Tape<S>& tape, std::size_t self) {
    static_cast<const ContinuousFlow*>(tape.node(self).owner)->adjoint_gradients(tape, self);
  }

  // Adds ∂loss/∂(points, context, parameters) from the node's adjoint, by the adjoint ODE solved on
  // the forward grid in reverse; each stage's vector-Jacobian products come from one small tape.
  void adjoint_gradients(Tape<S>& tape, std::size_t self) const {
    const auto& node = tape.node(self);
    const Matrix<S>& points = tape.node(node.input[0]).value;
    const bool has_context = node.integer[0] != 0, penalised = node.integer[1] != 0;
    const Matrix<S>* context = has_context ? &tape.node(node.input[1]).value : nullptr;
    const std::vector<S> grid(node.saved.data(), node.saved.data() + node.saved.size());
    const Matrix<S> probe = probe_for(points);
    const TraceRequest<S> request = request_for(probe, penalised);
    const ParameterList<S> parameters = const_cast<Dynamics&>(dynamics_).parameters();
    std::vector<Matrix<S>> parameter_adjoints;
    for (const Parameter<S>* parameter : parameters)
      parameter_adjoints.push_back(Matrix<S>::Zero(parameter->value.rows(), parameter->value.cols()));
    Matrix<S> context_adjoint = context ? Matrix<S>::Zero(context->rows(), context->cols()) : Matrix<S>();
    thread_local Tape<S> local;
    auto stage = [&](S t, const Matrix<S>& y, const Matrix<S>& a, S weight) {
      local.clear();
      TapeContext<S> scope{local};
      Var<S> c;
      if (context) {
        c = local.variable(*context);
        scope.given = &c;
      }
      const std::size_t first = local.size();
      const auto bound = dynamics_.bind(scope);
      const Var<S> state = local.variable(y);
      const Var<S> g = rate(scope, bound, scope.given, request, penalised, t, state);
      local.backward(sum(mul(g, local.constant(a))), ParameterGradients::defer);  // aᵀg: its gradient is aᵀ∂g
      std::size_t k = 0;
      for (std::size_t i = first; i < local.size() && k < parameters.size(); ++i)
        if (local.node(i).parameter == parameters[k]) parameter_adjoints[k++] += weight * local.node(i).adjoint;
      if (context) context_adjoint += weight * c.adjoint();
      return std::pair<Matrix<S>, Matrix<S>>{g.value(), state.adjoint()};
    };
    Matrix<S> y = node.value, a = node.adjoint;
    detail::adjoint_sweep(stage, y, a, grid, solver_.method);
    const auto input_points = node.input[0], input_context = node.input[1];
    const std::vector<std::size_t> leaves = node.more_inputs;
    tape.node(input_points).adjoint += a.leftCols(dim());
    if (context) tape.node(input_context).adjoint += context_adjoint;
    for (std::size_t k = 0; k < leaves.size(); ++k) tape.node(leaves[k]).adjoint += parameter_adjoints[k];
  }

  Dynamics dynamics_;
  OdeOptions solver_;
  S duration_;
  CnfTraining training_;
  mutable detail::AtomicCount evaluations_, solves_;
};

}  // namespace eigenflow

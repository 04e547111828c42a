// The network inside a continuous flow's dynamics: an MLP in which every layer
// also sees the time t (FFJORD's "concat" layers, Grathwohl et al. 2019):
//   a_k = h_{k−1}·W_kᵀ + b_k + t·τ_k,   h_k = σ(a_k) (hidden layers),   output a_L,
// with h_{−1} the input (it may have no columns: then the network is a function
// of t alone, as seed 003's hypernetwork is). σ must be smooth (tanh or silu):
// a continuous flow's log-density differentiates σ′, and ODE solvers need a
// Lipschitz-smooth right-hand side. apply() can also return σ′(a_k) of each
// hidden layer, from which the dynamics build Jacobian-vector products.
#pragma once

#include <cmath>
#include <string>
#include <utility>
#include <vector>

#include "eigenflow/autodiff/context.hpp"
#include "eigenflow/autodiff/ops.hpp"
#include "eigenflow/core/random.hpp"
#include "eigenflow/nn/activation.hpp"

namespace eigenflow {

template <class S>
class TimeMlp {
 public:
  struct Dense {
    Parameter<S> weight;  // out x in (in may be 0)
    Parameter<S> bias;    // 1 x out
    Parameter<S> time;    // 1 x out: τ, the weight of t
  };
  struct Weights {
    Matrix<S> weight, bias, time;
  };

  /// Throws ValueError unless σ is one of the smooth activations a continuous flow can use.
  static void require_smooth(Activation activation, const std::string& where) {
    if (activation != Activation::tanh && activation != Activation::silu)
      throw ValueError(where + ": continuous-flow dynamics need a smooth activation (tanh or silu), found " +
                       std::string(to_string(activation)));
  }

  /// PyTorch's initialisation with t counted as an input: W, b, τ ~ U(−1/√(in+1), 1/√(in+1));
  /// the last layer scaled by last_layer_scale (0: the network starts at 0).
  TimeMlp(Index inputs, Index hidden, Index depth, Index outputs, Activation activation, Random& rng,
          double last_layer_scale = 1.0)
      : activation_(activation) {
    require_smooth(activation, "TimeMlp");
    if (inputs < 0 || outputs <= 0 || depth < 0 || (depth > 0 && hidden <= 0))
      throw ValueError("TimeMlp: needs inputs >= 0, outputs > 0, depth >= 0 and hidden > 0, found inputs=" +
                       std::to_string(inputs) + " outputs=" + std::to_string(outputs) + " depth=" +
                       std::to_string(depth) + " hidden=" + std::to_string(hidden));
    std::vector<Weights> layers;
    Index in = inputs;
    for (Index k = 0; k <= depth; ++k) {
      const Index out = k == depth ? outputs : hidden;
      const double bound = 1.0 / std::sqrt(static_cast<double>(in + 1)) * (k == depth ? last_layer_scale : 1.0);
      Weights w{Matrix<S>(out, in), Matrix<S>(1, out), Matrix<S>(1, out)};
      for (Matrix<S>* m : {&w.weight, &w.bias, &w.time})
        for (Index i = 0; i < m->size(); ++i) m->data()[i] = static_cast<S>(rng.uniform(-bound, bound));
      layers.push_back(std::move(w));
      in = out;
    }
    build(std::move(layers));
  }

  /// From explicit weights (model files); shapes and values are checked.
  TimeMlp(Activation activation, std::vector<Weights> layers) : activation_(activation) {
    require_smooth(activation, "TimeMlp");
    if (layers.empty()) throw ValueError("TimeMlp: needs at least one layer");
    for (std::size_t k = 0; k < layers.size(); ++k) {
      const std::string where = "TimeMlp layer " + std::to_string(k);
      const Weights& w = layers[k];
      if (k > 0 && w.weight.cols() != layers[k - 1].weight.rows())
        throw ShapeError(where + ": takes " + std::to_string(w.weight.cols()) + " inputs but the previous layer gives " +
                         std::to_string(layers[k - 1].weight.rows()));
      if (w.bias.rows() != 1 || w.bias.cols() != w.weight.rows() || w.time.rows() != 1 ||
          w.time.cols() != w.weight.rows())
        throw ShapeError(where + ": bias and time must be 1 x " + std::to_string(w.weight.rows()));
      detail::require_finite((where + " (weight)").c_str(), w.weight);
      detail::require_finite((where + " (bias)").c_str(), w.bias);
      detail::require_finite((where + " (time)").c_str(), w.time);
    }
    build(std::move(layers));
  }

  Index input_dim() const { return dense_.front().weight.value.cols(); }
  Index output_dim() const { return dense_.back().weight.value.rows(); }
  Index depth() const { return static_cast<Index>(dense_.size()) - 1; }
  Index hidden() const { return depth() > 0 ? dense_.front().weight.value.rows() : 0; }
  Activation activation() const { return activation_; }
  const std::vector<Dense>& layers() const { return dense_; }

  ParameterList<S> parameters() {
    ParameterList<S> list;
    for (auto& d : dense_) list.insert(list.end(), {&d.weight, &d.bias, &d.time});
    return list;
  }
  void set_name(const std::string& prefix) {
    for (std::size_t k = 0; k < dense_.size(); ++k) {
      const std::string base = prefix + "layers." + std::to_string(k) + ".";
      dense_[k].weight.name = base + "weight";
      dense_[k].bias.name = base + "bias";
      dense_[k].time.name = base + "time";
    }
  }

  /// The parameters as Values of a context, fetched once per ODE solve (not per evaluation),
  /// in the order of parameters().
  template <class C>
  struct Bound {
    std::vector<typename C::Value> weight, bias, time;
  };
  template <class C>
  Bound<C> bind(C& context) const {
    Bound<C> bound;
    for (const auto& d : dense_) {
      bound.weight.push_back(context.param(d.weight));
      bound.bias.push_back(context.param(d.bias));
      bound.time.push_back(context.param(d.time));
    }
    return bound;
  }

  /// The output and, when asked, σ′(a_k) of every hidden layer.
  template <class V>
  struct Pass {
    V output;
    std::vector<V> slope;
  };
  /// input: N x input_dim(), or null when input_dim() is 0 (the output is then one row).
  template <class C>
  Pass<typename C::Value> apply(const Bound<C>& bound, const typename C::Value* input, S t, bool slopes) const {
    using V = typename C::Value;
    Pass<V> pass;
    V h;
    for (std::size_t k = 0; k < dense_.size(); ++k) {
      const V shifted_bias = add(bound.bias[k], scale(bound.time[k], t));  // b_k + t·τ_k
      V a = (k == 0 && input == nullptr) ? shifted_bias
                                         : linear(k == 0 ? *input : h, bound.weight[k], shifted_bias);
      if (k + 1 == dense_.size()) {
        pass.output = std::move(a);
        break;
      }
      if (activation_ == Activation::tanh) {
        h = tanh(a);
        if (slopes) pass.slope.push_back(add_scalar(scale(square(h), S(-1)), S(1)));  // 1 − tanh²
      } else {
        const V s = sigmoid(a);
        h = mul(a, s);  // silu(a) = a·σ(a)
        if (slopes) pass.slope.push_back(mul(s, add_scalar(mul(a, add_scalar(scale(s, S(-1)), S(1))), S(1))));  // σ(1 + a(1 − σ))
      }
    }
    return pass;
  }

 private:
  void build(std::vector<Weights> layers) {
    for (auto& w : layers)
      dense_.push_back({Parameter<S>("", std::move(w.weight)), Parameter<S>("", std::move(w.bias)),
                        Parameter<S>("", std::move(w.time))});
    set_name("");
  }

  Activation activation_;
  std::vector<Dense> dense_;
};

}  // namespace eigenflow

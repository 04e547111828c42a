// Subspace: an inner flow on the first k of the D coordinates, the other D − k
// passed through unchanged (non-Gaussian component analysis as a flow layer).
//   forward  z = (f(u), g)      for x = (u, g), u = x_{1..k}
//   inverse  x = (f⁻¹(u'), g)   for z = (u', g)
//   log|det ∂z/∂x| = log|det ∂f/∂u|
// Behind a linear map and in front of a standard normal base it is the model
//   log p(x) = log|det A| + log p_f(u) + log N(g; 0, I),   (u, g) = A·x,
// in which the D − k Gaussian directions have no conditioner, so nothing there
// can memorise the training rows. k = 0 is the identity (the model is then the
// Gaussian the linear map makes); k = D is the inner flow itself.
// The inner flow is a list of layers of dimension k applied in order; a
// conditional inner layer reads the pass's context as it would in a stack.
#pragma once

#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class S>
class Subspace : public Layer<S> {
 public:
  /// The layers of the inner flow act on the first `active` of `dim` coordinates
  /// (each of dimension `active`; none: the identity).
  Subspace(Index dim, Index active, std::vector<std::unique_ptr<Layer<S>>> inner = {}) : dim_(dim), active_(active) {
    detail::require_positive_dim("Subspace", dim);
    if (active < 0 || active > dim)
      throw ValueError("Subspace: the active dimension must be in [0, " + std::to_string(dim) + "], found " +
                       std::to_string(active));
    for (auto& layer : inner) append(std::move(layer));
  }
  Subspace(const Subspace& other) : Layer<S>(other), dim_(other.dim_), active_(other.active_), context_dim_(other.context_dim_) {
    for (const auto& layer : other.inner_) inner_.push_back(layer->clone());
  }
  Subspace& operator=(const Subspace& other) {
    if (this != &other) *this = Subspace(other);
    return *this;
  }
  Subspace(Subspace&&) noexcept = default;
  Subspace& operator=(Subspace&&) noexcept = default;

  /// Appends a layer of dimension active() to the inner flow (applied last in forward).
  Layer<S>& append(std::unique_ptr<Layer<S>> layer) {
    const std::string where = "Subspace::append: inner layer " + std::to_string(inner_.size());
    if (!layer) throw ValueError(where + ": null layer");
    if (layer->dim() != active_ || active_ == 0)
      throw ShapeError(where + " (" + layer->type() + ") has dimension " + std::to_string(layer->dim()) +
                       ", the subspace " + std::to_string(active_));
    const Index width = layer->context_dim();
    if (width > 0 && context_dim_ > 0 && width != context_dim_)
      throw ShapeError(where + " (" + layer->type() + ") reads a context of " + std::to_string(width) +
                       " columns, the layers before it " + std::to_string(context_dim_));
    if (width > 0) context_dim_ = width;
    inner_.push_back(std::move(layer));
    return *inner_.back();
  }

  Index dim() const override { return dim_; }
  std::string type() const override { return "subspace"; }
  /// k: the coordinates the inner flow transforms.
  Index active() const { return active_; }
  std::size_t size() const { return inner_.size(); }
  const Layer<S>& layer(std::size_t index) const { return *inner_.at(index); }
  Layer<S>& layer(std::size_t index) { return *inner_.at(index); }
  Index context_dim() const override { return context_dim_; }

  Transformed<S> forward(const Matrix<S>& x) const override { return pass("forward", x, nullptr, false); }
  Transformed<S> inverse(const Matrix<S>& z) const override { return pass("inverse", z, nullptr, true); }
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x) override { return pass("forward", tape, x, nullptr, false); }
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z) override { return pass("inverse", tape, z, nullptr, true); }
  Transformed<S> forward(const Matrix<S>& x, const Matrix<S>& c) const override { return pass("forward", x, &c, false); }
  Transformed<S> inverse(const Matrix<S>& z, const Matrix<S>& c) const override { return pass("inverse", z, &c, true); }
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x, const Var<S>& c) override {
    return pass("forward", tape, x, &c, false);
  }
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z, const Var<S>& c) override {
    return pass("inverse", tape, z, &c, true);
  }

  ParameterList<S> parameters() override {
    ParameterList<S> list;
    for (auto& layer : inner_)
      for (auto* p : layer->parameters()) list.push_back(p);
    return list;
  }
  /// Each inner layer initialises itself from its own inputs (ActNorm), as in a stack.
  void initialize(const Matrix<S>& inputs) override {
    if (inner_.empty()) return;
    check_points("initialize", inputs);
    Matrix<S> u = inputs.leftCols(active_);
    for (auto& layer : inner_) {
      layer->initialize(u);
      u = layer->forward(u).points;
    }
  }
  bool has_statistics() const override {
    for (const auto& layer : inner_)
      if (layer->has_statistics()) return true;
    return false;
  }
  void update_statistics(const Matrix<S>& inputs, Communicator* communicator = nullptr) override {
    if (!has_statistics()) return;
    check_points("update_statistics", inputs);
    Matrix<S> u = inputs.leftCols(active_);
    for (auto& layer : inner_) {
      layer->update_statistics(u, communicator);
      u = layer->forward(u).points;
    }
  }
  std::unique_ptr<Layer<S>> clone() const override { return std::make_unique<Subspace>(*this); }

 private:
  void check_points(const char* verb, const Matrix<S>& points) const {
    if (points.cols() != dim_) detail::throw_wrong_columns("subspace." + std::string(verb), points.rows(), points.cols(), dim_);
  }
  void check_context(const char* verb, const Matrix<S>& points, const Matrix<S>* c) const {
    check_points(verb, points);
    if (context_dim_ == 0) return;
    if (!c)
      throw ShapeError("subspace." + std::string(verb) + ": this layer is conditioned on a context of " +
                       std::to_string(context_dim_) + " columns; none given");
    if (c->rows() != points.rows() || c->cols() != context_dim_)
      throw ShapeError("subspace." + std::string(verb) + ": expected a context of " +
                       detail::shape_string(points.rows(), context_dim_) + " (one row per point), found " +
                       detail::shape_string(c->rows(), c->cols()));
  }

  // The inner layers over u, in order (reverse order for the inverse), each given c when there is one.
  Transformed<S> pass(const char* verb, const Matrix<S>& v, const Matrix<S>* c, bool inverse) const {
    check_context(verb, v, c);
    Transformed<S> out{v, ColumnVector<S>::Zero(v.rows())};
    if (inner_.empty()) return out;
    Matrix<S> u = v.leftCols(active_);
    for (std::size_t step = 0; step < inner_.size(); ++step) {
      const Layer<S>& layer = *inner_[inverse ? inner_.size() - 1 - step : step];
      Transformed<S> next = inverse ? (c ? layer.inverse(u, *c) : layer.inverse(u)) : (c ? layer.forward(u, *c) : layer.forward(u));
      u = std::move(next.points);
      out.log_det += next.log_det;
    }
    out.points.leftCols(active_) = u;
    return out;
  }
  TapedTransformed<S> pass(const char* verb, Tape<S>& tape, const Var<S>& v, const Var<S>* c, bool inverse) {
    check_context(verb, v.value(), c ? &c->value() : nullptr);
    Var<S> log_det = tape.constant(Matrix<S>::Zero(v.value().rows(), 1));
    if (inner_.empty()) return {v, log_det};
    Var<S> u = active_ == dim_ ? v : columns(v, 0, active_);
    for (std::size_t step = 0; step < inner_.size(); ++step) {
      Layer<S>& layer = *inner_[inverse ? inner_.size() - 1 - step : step];
      const TapedTransformed<S> next = inverse ? (c ? layer.inverse(tape, u, *c) : layer.inverse(tape, u))
                                               : (c ? layer.forward(tape, u, *c) : layer.forward(tape, u));
      u = next.points;
      log_det = add(log_det, next.log_det);
    }
    return {active_ == dim_ ? u : concat_columns(u, columns(v, active_, dim_ - active_)), log_det};
  }

  Index dim_;
  Index active_;
  Index context_dim_ = 0;
  std::vector<std::unique_ptr<Layer<S>>> inner_;
};

}  // namespace eigenflow

// Inverted<L>: a layer with its two directions swapped. forward is L's
// inverse and inverse is L's forward, each with its own log-det, e.g. a
// planar or radial layer placed in the sampling direction (as in variational
// inference), where its analytic forward is the cheap direction, or IAF
// (Kingma et al. 2016) = Inverted<MaskedAutoregressive>: one-pass sampling.
//
// L is a concrete layer (held by value, for compile-time stacks) or Layer<S>
// itself (held by pointer: what a model file loads, type "inverted").
#pragma once

#include <memory>
#include <string>
#include <type_traits>
#include <utility>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

/// What every Inverted<L> offers whatever L is: its inner layer (model files write it).
template <class S>
class InvertedLayer : public Layer<S> {
 public:
  std::string type() const override { return "inverted"; }
  virtual const Layer<S>& inner_layer() const = 0;
};

template <class L>
class Inverted : public InvertedLayer<typename L::Scalar> {
  static constexpr bool held_by_pointer = std::is_abstract_v<L>;
  using Storage = std::conditional_t<held_by_pointer, std::unique_ptr<L>, L>;

 public:
  using S = typename L::Scalar;

  explicit Inverted(Storage inner) : inner_(std::move(inner)) {
    if constexpr (held_by_pointer)
      if (!inner_) throw ValueError("Inverted: null inner layer");
  }
  Inverted(const Inverted& other) : InvertedLayer<S>(other), inner_(copy(other.inner_)) {}
  Inverted& operator=(const Inverted& other) {
    if (this != &other) inner_ = copy(other.inner_);
    return *this;
  }
  Inverted(Inverted&&) noexcept = default;
  Inverted& operator=(Inverted&&) noexcept = default;

  const L& inner() const { return get(inner_); }
  L& inner() { return get(inner_); }
  const Layer<S>& inner_layer() const override { return inner(); }

  Index dim() const override { return inner().dim(); }
  Transformed<S> forward(const Matrix<S>& x) const override { return inner().inverse(x); }
  Transformed<S> inverse(const Matrix<S>& z) const override { return inner().forward(z); }
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x) override { return inner().inverse(tape, x); }
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z) override { return inner().forward(tape, z); }
  Index context_dim() const override { return inner().context_dim(); }
  Transformed<S> forward(const Matrix<S>& x, const Matrix<S>& c) const override { return inner().inverse(x, c); }
  Transformed<S> inverse(const Matrix<S>& z, const Matrix<S>& c) const override { return inner().forward(z, c); }
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x, const Var<S>& c) override { return inner().inverse(tape, x, c); }
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z, const Var<S>& c) override { return inner().forward(tape, z, c); }
  ParameterList<S> parameters() override { return inner().parameters(); }
  std::unique_ptr<Layer<S>> clone() const override { return std::make_unique<Inverted>(*this); }

 private:
  static Storage copy(const Storage& storage) {
    if constexpr (held_by_pointer) return storage->clone();
    else return storage;
  }
  template <class Held>
  static auto& get(Held& storage) {
    if constexpr (held_by_pointer) return *storage;
    else return storage;
  }

  Storage inner_;
};

}  // namespace eigenflow

// Inverted<L>: a layer with its two directions swapped. forward is L's
// inverse and inverse is L's forward, each with its own log-det, e.g. a
// planar or radial layer placed in the sampling direction (as in variational
// inference), where its analytic forward is the cheap direction.
#pragma once

#include <string>
#include <utility>

#include "eigenflow/flows/layer.hpp"

namespace eigenflow {

template <class L>
class Inverted : public Layer<typename L::Scalar> {
 public:
  using S = typename L::Scalar;

  explicit Inverted(L inner) : inner_(std::move(inner)) {}

  const L& inner() const { return inner_; }
  L& inner() { return inner_; }

  Index dim() const override { return inner_.dim(); }
  std::string type() const override { return "inverted"; }
  Transformed<S> forward(const Matrix<S>& x) const override { return inner_.inverse(x); }
  Transformed<S> inverse(const Matrix<S>& z) const override { return inner_.forward(z); }
  TapedTransformed<S> forward(Tape<S>& tape, const Var<S>& x) override { return inner_.inverse(tape, x); }
  TapedTransformed<S> inverse(Tape<S>& tape, const Var<S>& z) override { return inner_.forward(tape, z); }
  ParameterList<S> parameters() override { return inner_.parameters(); }
  std::unique_ptr<Layer<S>> clone() const override { return std::make_unique<Inverted>(*this); }

 private:
  L inner_;
};

}  // namespace eigenflow

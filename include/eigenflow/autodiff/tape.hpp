// The reverse-mode tape: a linear record of matrix-valued nodes.
//
// Each node holds a value matrix, an adjoint matrix and a plain function
// pointer that adds the node's adjoint into its inputs' adjoints (the
// backward rule sits next to its forward in ops.hpp). Backward is one sweep
// in reverse creation order, no recursion and no graph of pointers.
//
// Memory: nodes live in a std::deque, so references stay valid while the
// tape grows, and clear() only rewinds a counter. A rebuilt graph of the same
// shapes reuses every slot and every matrix buffer: after the first step a
// training step makes no heap allocation in the tape, and capacity() and
// bytes() stay flat (tests assert it on these counters).
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <deque>
#include <vector>

#include "eigenflow/autodiff/parameter.hpp"
#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"

namespace eigenflow {

template <class Scalar>
class Tape;

/// What backward() does with the adjoints of parameter leaves.
enum class ParameterGradients {
  accumulate,  ///< add them into Parameter::grad during the sweep
  defer,       ///< leave them on the tape for add_parameter_gradients(): tapes on other
               ///< threads can then sweep at the same time without racing on grad
};

/// A handle to a node: {tape, index}. Cheap to copy; valid until the tape is cleared.
template <class Scalar>
class Var {
 public:
  Var() = default;
  Var(Tape<Scalar>* tape, std::size_t index) : tape_(tape), index_(index) {}

  Tape<Scalar>& tape() const { return *tape_; }
  std::size_t index() const { return index_; }
  const Matrix<Scalar>& value() const { return tape_->node(index_).value; }
  const Matrix<Scalar>& adjoint() const { return tape_->node(index_).adjoint; }
  Index rows() const { return value().rows(); }
  Index cols() const { return value().cols(); }

 private:
  Tape<Scalar>* tape_ = nullptr;
  std::size_t index_ = 0;
};

template <class Scalar>
class Tape {
  static_assert(is_supported_scalar_v<Scalar>, "eigenflow supports float and double");

 public:
  using BackwardFn = void (*)(Tape&, std::size_t self);

  /// One recorded operation. `saved` keeps op-specific constants (a mask, the
  /// column indices of a gather) so nothing outside the tape must outlive it.
  struct Node {
    Matrix<Scalar> value;
    Matrix<Scalar> adjoint;
    Matrix<Scalar> saved;
    BackwardFn backward = nullptr;
    std::array<std::size_t, 2> input{};
    std::array<Scalar, 2> scalar{};
    std::array<Index, 2> integer{};
    Parameter<Scalar>* parameter = nullptr;
    // For ops that are whole solvers (a continuous flow's adjoint): the object
    // whose backward this is (it outlives the sweep), and inputs beyond two.
    const void* owner = nullptr;
    std::vector<std::size_t> more_inputs;
  };

  Tape() = default;
  Tape(const Tape&) = delete;  // Vars point at their tape
  Tape& operator=(const Tape&) = delete;

  /// Forgets every node but keeps their storage for the next graph.
  void clear() { used_ = 0; }
  /// Forgets the nodes recorded after the first `size` (a rejected trial step of
  /// an adaptive ODE solver); Vars to them become invalid.
  void rewind(std::size_t size) {
    if (size > used_) throw Error("Tape::rewind: cannot rewind forward");
    used_ = size;
  }

  /// Whether the passes recorded on this tape are training passes: a batch-norm
  /// layer then normalises by the statistics of this tape's rows rather than
  /// by its population statistics. BatchGradient turns it on for its tapes.
  bool batch_statistics() const { return batch_statistics_; }
  void set_batch_statistics(bool on) { batch_statistics_ = on; }

  std::size_t size() const { return used_; }
  /// Node slots ever created: the high-water mark of size().
  std::size_t capacity() const { return nodes_.size(); }
  /// Bytes held by all node matrices, used or not.
  std::size_t bytes() const {
    std::size_t total = 0;
    for (const auto& node : nodes_)
      total += sizeof(Scalar) * static_cast<std::size_t>(node.value.size() + node.adjoint.size() +
                                                         node.saved.size());
    return total;
  }

  /// A leaf without gradient (data, masks).
  template <class Derived>
  Var<Scalar> constant(const Eigen::MatrixBase<Derived>& value) {
    Node& node = push(value.rows(), value.cols(), nullptr);
    node.value = value.template cast<Scalar>();
    return Var<Scalar>(this, used_ - 1);
  }

  /// A leaf whose adjoint can be read after backward (e.g. inputs under test).
  template <class Derived>
  Var<Scalar> variable(const Eigen::MatrixBase<Derived>& value) {
    return constant(value);
  }

  /// A leaf that borrows a parameter's value; backward adds its adjoint into parameter.grad.
  Var<Scalar> parameter(Parameter<Scalar>& parameter) {
    Node& node = push(parameter.value.rows(), parameter.value.cols(), &accumulate_into_parameter);
    node.value = parameter.value;
    node.parameter = &parameter;
    if (parameter.grad.rows() != parameter.value.rows() || parameter.grad.cols() != parameter.value.cols())
      parameter.zero_grad();
    return Var<Scalar>(this, used_ - 1);
  }

  /// Reverse sweep from a 1x1 node: seeds its adjoint with 1 and accumulates
  /// adjoints into every node recorded before it and into parameter grads.
  void backward(const Var<Scalar>& loss, ParameterGradients parameter_gradients = ParameterGradients::accumulate) {
    if (&loss.tape() != this) throw Error("Tape::backward: the loss belongs to another tape");
    const std::size_t last = loss.index();
    if (last >= used_) throw Error("Tape::backward: the loss node was cleared");
    const Node& root = nodes_[last];
    if (root.value.rows() != 1 || root.value.cols() != 1)
      throw ShapeError("Tape::backward: the loss must be 1x1, found " +
                       detail::shape_string(root.value.rows(), root.value.cols()));
    // Adjoints start at zero, lazily: node() zeroes one when it is first reached,
    // and node_to_overwrite() lets a rule that writes all of it skip the zeroing.
    zero_pending_.assign(last + 1, true);
    for (std::size_t i = 0; i <= last; ++i) nodes_[i].adjoint.resize(nodes_[i].value.rows(), nodes_[i].value.cols());
    node(last).adjoint(0, 0) = Scalar(1);
    const bool defer = parameter_gradients == ParameterGradients::defer;
    swept_ = defer ? last + 1 : 0;
    for (std::size_t i = last + 1; i-- > 0;) {
      if (nodes_[i].backward == nullptr || (defer && nodes_[i].parameter != nullptr)) continue;
      nodes_[i].backward(*this, i);
    }
    for (std::size_t i = 0; i <= last; ++i) node(i);  // the ones nothing reached: zero
    zero_pending_.clear();
  }

  /// Adds the parameter leaves' adjoints from the last backward(loss, ParameterGradients::defer)
  /// into their Parameter::grad.
  void add_parameter_gradients() {
    for (std::size_t i = 0; i < std::min(swept_, used_); ++i)
      if (nodes_[i].parameter != nullptr) accumulate_into_parameter(*this, i);
    swept_ = 0;
  }

  // ---- for op implementations -------------------------------------------

  Node& node(std::size_t index) {
    Node& node = nodes_[index];
    if (index < zero_pending_.size() && zero_pending_[index]) {
      zero_pending_[index] = false;
      node.adjoint.setZero();
    }
    return node;
  }
  const Node& node(std::size_t index) const { return nodes_[index]; }

  /// During backward: the node, for a rule that is about to write all of its
  /// adjoint. `fresh` says the adjoint is still (conceptually) zero, so the rule
  /// may overwrite it instead of adding (its buffer then holds stale values).
  Node& node_to_overwrite(std::size_t index, bool& fresh) {
    fresh = index < zero_pending_.size() && zero_pending_[index];
    if (fresh) zero_pending_[index] = false;
    return nodes_[index];
  }

  /// Appends a node whose value has shape rows x cols (reusing a slot and its
  /// buffers where one is free) and returns it; its index is size() - 1.
  Node& push(Index rows, Index cols, BackwardFn backward) {
    if (used_ == nodes_.size()) nodes_.emplace_back();
    Node& node = nodes_[used_++];
    node.value.resize(rows, cols);
    node.backward = backward;
    node.parameter = nullptr;
    node.owner = nullptr;
    node.more_inputs.clear();
    return node;
  }

  /// Wraps the most recently pushed node in a Var.
  Var<Scalar> last() { return Var<Scalar>(this, used_ - 1); }

 private:
  static void accumulate_into_parameter(Tape& tape, std::size_t self) {
    Node& node = tape.node(self);
    node.parameter->grad += node.adjoint;
  }

  std::deque<Node> nodes_;
  std::size_t used_ = 0;
  bool batch_statistics_ = false;
  std::size_t swept_ = 0;  // nodes whose parameter adjoints a deferred backward left pending
  std::vector<bool> zero_pending_;  // during backward: adjoints not yet zeroed (see node())
};

/// The value of a plain matrix is itself; of a Var, the matrix on its tape.
template <class Scalar>
const Matrix<Scalar>& value_of(const Var<Scalar>& var) { return var.value(); }
template <class Scalar>
const Matrix<Scalar>& value_of(const Matrix<Scalar>& matrix) { return matrix; }

}  // namespace eigenflow

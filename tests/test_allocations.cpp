// After its first step, a training step makes no heap allocation: the tape
// reuses its nodes and buffers, the optimizer its moments, and the products
// stay within Eigen's stack blocking. Counted two ways: a replaced global
// operator new (everything C++ allocates), and Eigen's own malloc guard
// (EIGEN_RUNTIME_NO_MALLOC; Eigen allocates through malloc, not new), whose
// failures are counted here rather than asserted so that Release builds see them.
#include <atomic>
#include <cstdlib>
#include <new>

namespace {
std::atomic<long long> eigen_malloc_while_forbidden{0};
}
#define EIGEN_RUNTIME_NO_MALLOC
#define eigen_assert(x) ((x) ? void(0) : void(eigen_malloc_while_forbidden.fetch_add(1)))

#include <catch2/catch.hpp>
#include <eigenflow/eigenflow.hpp>

namespace {
std::atomic<long long> allocations{0};
}

// GCC cannot tell that these replacements pair malloc with free by design.
#if defined(__GNUC__) && !defined(__clang__)
#pragma GCC diagnostic ignored "-Wmismatched-new-delete"
#endif
void* operator new(std::size_t size) {
  allocations.fetch_add(1, std::memory_order_relaxed);
  if (void* p = std::malloc(size == 0 ? 1 : size)) return p;
  throw std::bad_alloc();
}
void* operator new[](std::size_t size) { return operator new(size); }
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  allocations.fetch_add(1, std::memory_order_relaxed);
  return std::malloc(size == 0 ? 1 : size);
}
void* operator new[](std::size_t size, const std::nothrow_t& tag) noexcept { return operator new(size, tag); }
void operator delete(void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete[](void* p, const std::nothrow_t&) noexcept { std::free(p); }
void operator delete(void* p) noexcept { std::free(p); }
void operator delete[](void* p) noexcept { std::free(p); }
void operator delete(void* p, std::size_t) noexcept { std::free(p); }
void operator delete[](void* p, std::size_t) noexcept { std::free(p); }

using namespace eigenflow;

namespace {

template <class S>
FlowStack<S> coupling_flow(int layers, Index hidden, Activation activation, Conditioner conditioner, Random& rng) {
  FlowStack<S> flow(2);
  for (int k = 0; k < layers; ++k)
    flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, k % 2), {hidden, 2, activation}, conditioner,
                                        ScaleActivation::tanh, rng));
  return flow;
}

/// Heap allocations, by operator new or by Eigen, made by `steps` training steps after `warmup` steps.
template <class S>
long long allocations_per_steps(FlowStack<S>& flow, Index batch, int threads, int warmup, int steps) {
  Random rng(7);
  const Matrix<S> data = generate_dataset("two-moons", 4 * batch, rng).template cast<S>();
  AdamW<S> optimizer(flow.parameters());
  BatchGradient<S> gradient(threads);
  Matrix<S> points(batch, 2);
  long long before = 0, eigen_before = 0;
  for (int step = 0; step < warmup + steps; ++step) {
    if (step == warmup) {
      before = allocations.load();
      eigen_before = eigen_malloc_while_forbidden.load();
      Eigen::internal::set_is_malloc_allowed(false);
    }
    points = data.middleRows((step % 4) * batch, batch);
    optimizer.zero_grad();
    gradient(flow, points);
    optimizer.step();
  }
  Eigen::internal::set_is_malloc_allowed(true);
  const long long by_new = allocations.load() - before, by_eigen = eigen_malloc_while_forbidden.load() - eigen_before;
  UNSCOPED_INFO("operator new: " << by_new << ", Eigen: " << by_eigen << " in " << steps << " steps");
  return by_new + by_eigen;
}

}  // namespace

TEST_CASE("a training step allocates nothing after the first", "[allocations]") {
  Random rng(1);
  SECTION("seed 003's small recipe in float: GELU, shared conditioner, batch 32") {
    auto flow = coupling_flow<float>(4, 32, Activation::gelu, Conditioner::shared, rng);
    CHECK(allocations_per_steps(flow, 32, 1, 2, 50) == 0);
  }
  SECTION("ReLU, separate conditioners, batch 256, double") {
    auto flow = coupling_flow<double>(6, 64, Activation::relu, Conditioner::separate, rng);
    CHECK(allocations_per_steps(flow, 256, 1, 2, 10) == 0);
  }
  SECTION("seed 001's large recipe in float, the batch split over two workers") {
    auto flow = coupling_flow<float>(6, 128, Activation::relu, Conditioner::separate, rng);
    CHECK(allocations_per_steps(flow, 1024, 2, 2, 5) == 0);
  }
  SECTION("the counters count") {
    const long long before = allocations.load();
    int* volatile p = new int(3);  // volatile: the pair may not be elided
    delete p;
    CHECK(allocations.load() - before == 1);
    const long long eigen_before = eigen_malloc_while_forbidden.load();
    Eigen::internal::set_is_malloc_allowed(false);
    Eigen::MatrixXd m(3, 3);
    Eigen::internal::set_is_malloc_allowed(true);
    m.setZero();
    CHECK(eigen_malloc_while_forbidden.load() - eigen_before == 1);
  }
}

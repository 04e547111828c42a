// Speed of eigenflow on the recipes of the seeds, for the side-by-side
// comparison with PyTorch (side_by_side.sh). Prints "name value unit" lines.
//   small      seed 003: 4 affine couplings, one conditioner each (2 hidden × 32, GELU, tanh on s),
//              batch 32, Adam 1e-3, 1600 training points: ms per training step
//   large      seed 001: 6 affine couplings, separate s and t nets (2 hidden × 128, ReLU, tanh on s),
//              full batch of 3000, float32: ms per epoch (one step)
//   inference  log_prob and sample of 1,000,000 points with the large model: points per second
//   double     the large case in float64
//   isa        the path the kernels run on (core/isa.hpp: portable, avx2 or avx512)
//   sgemm/dgemm  GEMM rate of this build's products (1024³), the ceiling to compare with
//   maf/nsf/nsf_ar_step_dD  5 MAF, spline-coupling or NSF-AR layers (MADE or MLP 2 hidden × 64, ReLU;
//              8 bins, B = 4; orders alternate), batch 256 of 4096 Gaussian points in D = 2 and 16:
//              ms per training step
//   maf/iaf_sample_d16  10,000 samples from 5 layers in D = 16: points per second (MAF
//              samples in D passes per layer, IAF in one)
//   scale_realnvp/glow/maf_dD  (only when named: benchmarks/scaling.sh) 4 affine couplings, 4 glow
//              blocks [ActNorm, LU linear, affine coupling] or 4 MAF layers, conditioners
//              2 hidden × 64 ReLU, batch 256, D = 2, 8, 32, 128: ms per training step;
//              scale_realnvp_bB and _lL: the realnvp one at D = 8 with batch B = 64 … 4096, or with
//              L = 2 … 16 couplings (batch 256)
//   cond_maf/nsf/nsf_ar_step_d16  (only when named) the maf/nsf/nsf_ar_step_d16 models conditioned on a
//              context of 4 columns (every conditioner reads it): what conditioning costs
//   subspace_step_d16_kK  the subspace flow (train/subspace_fit.hpp: the whitening and R as LU maps,
//              then on k = 2 or 8 of D = 16 coordinates 4 × [LU map, spline coupling 2 hidden × 64
//              ReLU, 8 bins, B = 5] and an elementwise spline), batch 256 of 4096 mixed-moons rows:
//              ms per training step (pytorch_subspace.py builds the same)
//   planar_vi_step  variational inference (issue 15): 32 planar layers in the sampling direction,
//              reverse KL against U1, batch 256, Adam 1e-2, float32: ms per step
// Cases with the suffix _2t run the same on two threads (threads over the batch
// for training, over row chunks for inference, over c's columns for GEMM).
// Arguments, if any, name the cases to run (e.g. `speed large_epoch` for a profiler).
#include <eigenflow/eigenflow.hpp>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <functional>
#include <limits>
#include <string>
#include <vector>

#ifdef _OPENMP
#include <omp.h>
#endif

namespace {

using namespace eigenflow;
using Clock = std::chrono::steady_clock;

/// Seconds per call after `warmup` calls: the best of `blocks` blocks of repeats / blocks
/// calls. Other tenants of the VM add time and never remove it; pytorch_flows.py times
/// the same way (5 blocks; one for the million-point inference, which runs once there too).
double seconds_per_call(const std::function<void()>& call, int warmup, int repeats, int blocks = 5) {
  const int per_block = std::max(1, repeats / blocks);
  for (int i = 0; i < warmup; ++i) call();
  double best = std::numeric_limits<double>::infinity();
  for (int block = 0; block < blocks; ++block) {
    const auto start = Clock::now();
    for (int i = 0; i < per_block; ++i) call();
    best = std::min(best, std::chrono::duration<double>(Clock::now() - start).count() / per_block);
  }
  return best;
}

template <class S>
FlowStack<S> coupling_stack(int layers, Index hidden, Activation activation, Conditioner conditioner, Random& rng) {
  FlowStack<S> flow(2);
  for (int k = 0; k < layers; ++k)
    flow.append(AffineCoupling<S>::make(alternating_mask<S>(2, k % 2), {hidden, 2, activation}, conditioner, ScaleActivation::tanh, rng));
  return flow;
}

/// The autoregressive and spline stacks of the maf/nsf/nsf_ar/iaf cases (pytorch_flows.py builds the same).
template <class S>
FlowStack<S> autoregressive_stack(const std::string& kind, Index dim, Random& rng, Index context_dim = 0) {
  FlowStack<S> flow(dim, context_dim);
  const ConditionerShape shape{64, 2, Activation::relu, context_dim};
  for (int k = 0; k < 5; ++k) {
    const InputOrder order = k % 2 == 0 ? InputOrder::natural : InputOrder::reverse;
    if (kind == "nsf") {
      flow.append(SplineCoupling<S>::make(alternating_mask<S>(dim, k % 2), shape, {8, 4.0}, rng));
      continue;
    }
    auto layer = MaskedAutoregressive<S>::make(
        dim, kind == "nsf_ar" ? Transformer::rational_quadratic({8, 4.0}) : Transformer::affine(), shape, order, rng);
    if (kind == "iaf") flow.append(Inverted<MaskedAutoregressive<S>>(std::move(layer)));
    else flow.append(std::move(layer));
  }
  return flow;
}

/// The stacks of the scale_* cases: the same conditioner width at every D.
template <class S>
FlowStack<S> scaling_stack(const std::string& kind, Index dim, Random& rng, int layers = 4) {
  FlowStack<S> flow(dim);
  const ConditionerShape shape{64, 2, Activation::relu};
  for (int k = 0; k < layers; ++k) {
    if (kind == "maf") {
      flow.append(MaskedAutoregressive<S>::make(dim, Transformer::affine(), shape,
                                                k % 2 == 0 ? InputOrder::natural : InputOrder::reverse, rng));
      continue;
    }
    if (kind == "glow") {
      flow.append(ActNorm<S>(dim));
      flow.append(LuLinear<S>::random(dim, rng));
    }
    flow.append(AffineCoupling<S>::make(alternating_mask<S>(dim, k % 2), shape, Conditioner::separate, ScaleActivation::tanh, rng));
  }
  return flow;
}

template <class S>
double step_seconds(FlowStack<S>& flow, const Matrix<S>& data, Index batch, int threads, int repeats,
                    const Matrix<S>* context = nullptr) {
  AdamOptions options;
  options.learning_rate = 1e-3;
  Adam<S> optimizer(flow.parameters(), options);
  BatchGradient<S> gradient(threads);
  Matrix<S> points = data.topRows(batch), contexts(batch, context ? context->cols() : 0);
  Index offset = 0;
  return seconds_per_call(
      [&] {
        points = data.middleRows(offset, batch);
        if (context) contexts = context->middleRows(offset, batch);
        offset = (offset + batch) % (data.rows() - batch + 1);
        optimizer.zero_grad();
        if (context) gradient(flow, points, contexts);
        else gradient(flow, points);
        optimizer.step();
      },
      5, repeats);
}

#ifdef _OPENMP
constexpr bool have_openmp = true;
#else
constexpr bool have_openmp = false;
#endif

void set_threads(int threads) {
#ifdef _OPENMP
  omp_set_num_threads(threads);
#endif
  Eigen::setNbThreads(threads);
}

/// This build's matrix product (detail::gemm_add: our kernel in AVX-512 builds, Eigen's
/// otherwise) on 1024³, in GFLOP/s; with several threads each takes a share of c's columns.
template <class S>
double gemm_gflops(int threads) {
  const Index n = 1024, share = n / threads;
  const Matrix<S> a = Matrix<S>::Random(n, n);
  std::vector<Matrix<S>> b, c;
  for (int t = 0; t < threads; ++t) {
    b.push_back(Matrix<S>::Random(n, share));
    c.push_back(Matrix<S>::Zero(n, share));
  }
  const double seconds = seconds_per_call(
      [&] {
        detail::parallel_for(threads, threads, [&](Index t) {
          const auto i = static_cast<std::size_t>(t);
          detail::gemm_add(c[i], S(1), a, false, b[i], false);
        });
      },
      1, 5);
  return 2.0 * n * n * share * threads / seconds / 1e9;
}

}  // namespace

int main(int argc, char** argv) {
  const auto wanted = [&](const std::string& name) {
    if (argc < 2) return true;
    for (int i = 1; i < argc; ++i)
      if (name == argv[i]) return true;
    return false;
  };
  if (wanted("isa")) std::printf("isa %s\n", std::string(to_string(active_isa())).c_str());  // the kernels' path
  Random rng(0);
  const Matrix<double> moons = generate_dataset("two-moons", 3000, rng);
  const Standardization standardization = Standardization::fit(moons);
  const Matrix<double> standard = standardization.apply(moons);
  const Matrix<float> all = standard.cast<float>();
  const Matrix<float> million = rng.normal_matrix<float>(1000000, 2);

  auto small = coupling_stack<float>(4, 32, Activation::gelu, Conditioner::shared, rng);
  auto large = coupling_stack<float>(6, 128, Activation::relu, Conditioner::separate, rng);
  auto large_double = coupling_stack<double>(6, 128, Activation::relu, Conditioner::separate, rng);

  for (const int threads : {1, 2}) {
    if (threads > 1 && !have_openmp) continue;  // nothing to measure on two threads
    set_threads(threads);
    const std::string suffix = threads == 1 ? "" : "_" + std::to_string(threads) + "t";
    if (threads == 1 && wanted("small_step")) {  // batch 32 is far below a useful split
      const double small_ms = 1e3 * step_seconds(small, Matrix<float>(all.topRows(1600)), 32, 1, 2000);
      std::printf("small_step %.4f ms\n", small_ms);
    }
    if (wanted("large_epoch" + suffix))
      std::printf("large_epoch%s %.3f ms\n", suffix.c_str(), 1e3 * step_seconds(large, all, 3000, threads, 30));
    if (wanted("double_epoch" + suffix))
      std::printf("double_epoch%s %.3f ms\n", suffix.c_str(), 1e3 * step_seconds(large_double, standard, 3000, threads, 15));
    if (wanted("inference_log_prob" + suffix)) {
      const double log_prob_s = seconds_per_call([&] { (void)large.log_prob(million); }, 0, 1, 1);
      std::printf("inference_log_prob%s %.0f points/s\n", suffix.c_str(), 1e6 / log_prob_s);
    }
    if (wanted("inference_sample" + suffix)) {
      Random sample_rng(1);
      const double sample_s = seconds_per_call([&] { (void)large.sample(1000000, sample_rng); }, 0, 1, 1);
      std::printf("inference_sample%s %.0f points/s\n", suffix.c_str(), 1e6 / sample_s);
    }
    if (threads == 1) {
      for (const Index dim : {2, 16}) {
        const Matrix<float> points = rng.normal_matrix<float>(4096, dim);
        for (const std::string kind : {"maf", "nsf", "nsf_ar"}) {
          const std::string name = kind + "_step_d" + std::to_string(dim);
          if (!wanted(name)) continue;
          auto flow = autoregressive_stack<float>(kind, dim, rng);
          std::printf("%s %.4f ms\n", name.c_str(), 1e3 * step_seconds(flow, points, 256, 1, 100));
        }
      }
      for (const Index active : {2, 8}) {
        const std::string name = "subspace_step_d16_k" + std::to_string(active);
        if (!wanted(name)) continue;
        Random subspace_rng(3);  // its own, so that the cases after it keep their weights
        const Matrix<double> rows = generate_dataset("mixed-moons", 4096, subspace_rng, 0.08, 16);
        SubspaceFlowOptions options;
        options.start = SubspaceStart::random_rotation;  // R's start does not change a step's cost
        auto flow = subspace_flow<float>(rows, active, options, subspace_rng);
        std::printf("%s %.4f ms\n", name.c_str(), 1e3 * step_seconds(flow, Matrix<float>(rows.cast<float>()), 256, 1, 100));
      }
      for (const std::string kind : {"maf", "iaf"}) {
        if (!wanted(kind + "_sample_d16")) continue;
        const auto flow = autoregressive_stack<float>(kind, 16, rng);
        Random sample_rng(2);
        const double seconds = seconds_per_call([&] { (void)flow.sample(10000, sample_rng); }, 0, 3, 3);
        std::printf("%s_sample_d16 %.0f points/s\n", kind.c_str(), 1e4 / seconds);
      }
    }
    if (threads == 1 && wanted("planar_vi_step")) {
      FlowStack<float> flow(2);
      for (int k = 0; k < 32; ++k) flow.append(Inverted<Planar<float>>(Planar<float>::random(2, rng)));
      const Target<float> target = make_builtin_target<float>("u1");
      AdamOptions options;
      options.learning_rate = 1e-2;
      Adam<float> optimizer(flow.parameters(), options);
      FitOptions fit;  // the library's loop, timed over 200 steps a call
      fit.steps = 200;
      fit.report_every = 200;
      const double seconds = seconds_per_call(
          [&] {
            fit.seed += 1;
            fit_reverse_kl(flow, optimizer, target, fit);
          },
          1, 10);
      std::printf("planar_vi_step %.4f ms\n", 1e3 * seconds / 200);
    }
    if (threads == 1 && argc > 1) {  // the conditional cases run only when named
      const Matrix<float> points = rng.normal_matrix<float>(4096, 16), contexts = rng.normal_matrix<float>(4096, 4);
      for (const std::string kind : {"maf", "nsf", "nsf_ar"}) {
        if (!wanted("cond_" + kind + "_step_d16")) continue;
        auto flow = autoregressive_stack<float>(kind, 16, rng, 4);
        std::printf("cond_%s_step_d16 %.4f ms\n", kind.c_str(), 1e3 * step_seconds(flow, points, 256, 1, 100, &contexts));
      }
    }
    if (threads == 1 && argc > 1) {  // the scaling cases run only when named
      for (const std::string kind : {"realnvp", "glow", "maf"})
        for (const Index dim : {2, 8, 32, 128}) {
          const std::string name = "scale_" + kind + "_d" + std::to_string(dim);
          if (!wanted(name)) continue;
          const Matrix<float> points = rng.normal_matrix<float>(2048, dim);
          auto flow = scaling_stack<float>(kind, dim, rng);
          std::printf("%s %.4f ms\n", name.c_str(), 1e3 * step_seconds(flow, points, 256, 1, 50));
        }
      const Matrix<float> points = rng.normal_matrix<float>(8192, 8);
      for (const Index batch : {64, 256, 1024, 4096}) {  // realnvp at D = 8, against the batch size
        const std::string name = "scale_realnvp_b" + std::to_string(batch);
        if (!wanted(name)) continue;
        auto flow = scaling_stack<float>("realnvp", 8, rng);
        std::printf("%s %.4f ms\n", name.c_str(), 1e3 * step_seconds(flow, points, batch, 1, 50));
      }
      for (const int layers : {2, 4, 8, 16}) {  // realnvp at D = 8, batch 256, against the layer count
        const std::string name = "scale_realnvp_l" + std::to_string(layers);
        if (!wanted(name)) continue;
        auto flow = scaling_stack<float>("realnvp", 8, rng, layers);
        std::printf("%s %.4f ms\n", name.c_str(), 1e3 * step_seconds(flow, points, 256, 1, 50));
      }
    }
    if (wanted("sgemm" + suffix)) std::printf("sgemm%s %.1f GFLOP/s\n", suffix.c_str(), gemm_gflops<float>(threads));
    if (wanted("dgemm" + suffix)) std::printf("dgemm%s %.1f GFLOP/s\n", suffix.c_str(), gemm_gflops<double>(threads));
  }
  return 0;
}

// Variational inference (Rezende & Mohamed 2015): fit 32 planar layers, in the
// sampling direction, to the unnormalised density exp(−U1) by reverse KL, then
// check q by importance sampling. Also shows a target written by hand.
#include <eigenflow/eigenflow.hpp>

#include <cstdio>

int main() {
  using namespace eigenflow;
  Random rng(1);
  FlowStack<float> flow(2);
  for (int k = 0; k < 32; ++k) flow.append(Inverted<Planar<float>>(Planar<float>::random(2, rng)));

  // U1 is built in (make_builtin_target<float>("u1")); written by hand with eigenflow's
  // ops, which take Matrix<float> and tape Vars alike, it reads:
  const Target<float> target = make_target<float>("u1", 2, [](const auto& z) {
    const auto z1 = columns(z, 0, 1);
    const auto ring = scale(square(add_scalar(row_norms(z), -2.0f)), 0.5f / 0.16f);          // ½((‖z‖ − 2)/0.4)²
    const auto left = scale(square(add_scalar(z1, -2.0f)), -0.5f / 0.36f);                   // −½((z₁ − 2)/0.6)²
    const auto right = scale(square(add_scalar(z1, 2.0f)), -0.5f / 0.36f);                   // −½((z₁ + 2)/0.6)²
    return sub(ring, row_logsumexp(concat_columns(left, right)));
  });

  Adam<float> optimizer(flow.parameters(), AdamOptions{1e-2});
  FitOptions options;
  options.steps = 40000;
  options.anneal_steps = 20000;  // β from 0.01 to 1: q spreads over both halves first
  options.clip_norm = 5;
  options.schedule = LearningRateSchedule::cosine(1e-2, options.steps, 1e-4);
  options.report_every = 10000;
  options.on_report = [](const FitReport& r) {
    std::printf("step %lld  elbo %.4f  beta %.2f\n", r.step, r.elbo, r.beta);
    return true;
  };
  const FitResult result = fit_reverse_kl(flow, optimizer, target, options);

  Random check(2);
  const ImportanceEstimate e = estimate_log_normalizer(flow, target, 100000, check);
  const double log_z = target_info("u1").log_normalizer;
  std::printf("ELBO %.4f, log Z_hat %.4f +- %.4f (true %.4f), KL(q||p) %.4f, ESS %.1f%%, Pareto k %.2f, %.1f s\n", e.elbo,
              e.log_normalizer, e.log_normalizer_se, log_z, log_z - e.elbo, 100 * e.ess_fraction(), e.pareto_k, result.seconds);
  return 0;
}

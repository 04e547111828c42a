// Quickstart: train a RealNVP on two moons, then sample from it and
// evaluate densities. The README's first code snippet.
#include <eigenflow/eigenflow.hpp>

#include <cstdio>

int main() {
  using namespace eigenflow;
  Random rng(42);

  // 3000 points of scikit-learn's make_moons (noise 0.05), split 80/20.
  const Matrix<double> data = generate_dataset("two-moons", 3000, rng);
  const DataSplit split = split_dataset(data, /*validation*/ 0.2, /*test*/ 0.0, rng);

  // Six affine couplings with alternating masks; the model standardises its
  // input itself, so densities and samples stay in raw coordinates.
  FlowStack<double> flow(2);
  const Standardization standardization = Standardization::fit(split.train);
  flow.set_preprocess(standardization.shift, standardization.scale);
  for (int k = 0; k < 6; ++k)
    flow.append(AffineCoupling<double>::make(alternating_mask(2, k % 2), {/*hidden*/ 32, /*depth*/ 2, Activation::relu},
                                             Conditioner::separate, ScaleActivation::tanh, rng));

  // Maximum likelihood with AdamW, early stopping on the validation NLL.
  AdamW<double> optimizer(flow.parameters());
  TrainOptions options;
  options.epochs = 300;
  options.batch_size = 128;
  options.patience = 40;
  options.schedule = LearningRateSchedule::cosine(2e-3, 300 * 19, 2e-5);
  const TrainResult result = train(flow, optimizer, split.train, split.validation, options);
  std::printf("best validation NLL %.4f nats at epoch %lld (%.1f s)\n", result.best_validation_nll,
              static_cast<long long>(result.best_epoch), result.seconds);

  // Sample by the inverse pass; evaluate log p(x) of the samples.
  const Samples<double> samples = flow.sample_and_log_prob(5, rng);
  for (Index i = 0; i < samples.points.rows(); ++i)
    std::printf("x = (%+.3f, %+.3f)   log p(x) = %.3f\n", samples.points(i, 0), samples.points(i, 1), samples.log_prob(i));

  save_model("quickstart_model.json", flow);  // reload with load_model<double>(path)
  return 0;
}

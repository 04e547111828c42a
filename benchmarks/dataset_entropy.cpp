// Prints the differential entropy (nats, raw coordinates) of a built-in data
// set's distribution:
//   dataset_entropy NAME N NOISE DRAWS [DIM]   (NOISE '-': the set's own, or none; DIM: for the sets that take one, e.g. mixed-moons)
// The entropy is a Monte Carlo mean over DRAWS fresh points from the exact
// mixture; its standard error is printed beside it.
#include <eigenflow/eigenflow.hpp>

#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <optional>
#include <string>

int main(int argc, char** argv) {
  using namespace eigenflow;
  if (argc < 5) {
    std::fprintf(stderr, "usage: dataset_entropy NAME N NOISE DRAWS [DIM]\n");
    return 2;
  }
  try {
    const std::string name = argv[1];
    const auto n = static_cast<Index>(std::atoll(argv[2]));
    std::optional<double> noise;
    if (std::string(argv[3]) != "-") noise = std::atof(argv[3]);
    const auto draws = static_cast<Index>(std::atoll(argv[4]));
    const Index dim = argc > 5 ? static_cast<Index>(std::atoll(argv[5])) : dataset_info(name).default_dim;
    const auto log_density = dataset_log_density(name, n, noise, dim);
    Random rng(2024);
    const double entropy = dataset_entropy(name, n, noise, draws, rng, dim);
    Random again(2024);
    const auto mixture_points = generate_dataset(name, draws, again, noise, dim);
    const ColumnVector<double> values = log_density(mixture_points);
    const double sd = std::sqrt((values.array() + entropy).square().mean());
    std::printf("entropy %.4f stderr %.4f\n", entropy, sd / std::sqrt(static_cast<double>(draws)));
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

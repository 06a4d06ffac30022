// The notes' claim, reproduced (seed 001, vanishing and exploding gradients): in a deep sigmoid network the
// gradient shrinks layer by layer on its way back, so the first layers barely learn; ReLU, BatchNorm and
// residual connections each keep it alive. Four networks of ten Dense layers (examples/deep_nets.hpp) train
// on Fashion-MNIST for the same budget; the program prints ||dL/dW|| of every layer on the first 256
// training images at He init and after the first epoch, writes the latter as one chart (log scale), and
// prints each network's test accuracy.
//
//   07_vanishing_gradients [epochs [seed [chart.svg]]]     (default 3 epochs, seed 0, vanishing_gradients.svg)
//
// Plain SGD, lr 0.05, batch 64: the optimizer the notes analyse (Adam rescales each gradient and hides it).
#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <vector>

#include "deep_nets.hpp"

using namespace typenet;

namespace {

struct Run {
  std::string name;
  std::vector<double> at_init, after_first_epoch;  // ||dL/dW|| of layers 1 to 10
  double accuracy = 0, seconds = 0;
};

// ||dL/dW|| per Dense layer on the first 256 training images.
template <class Net>
std::vector<double> first_batch_norms(Net& net, const Dataset& train) {
  Matrix<float, 256, 784> x;
  std::copy_n(train.image(0), x.size, x.data());
  Labels<256> labels{};
  for (std::size_t r = 0; r < 256; ++r) labels[r] = train.labels[r];
  return deep_nets::weight_gradient_norms<Net>(compute_gradients(net, x, labels).parameters);
}

template <class Net>
Run run(const std::string& name, const TrainTestSets& data, std::size_t epochs, std::uint64_t seed) {
  Run result{name, {}, {}, 0, 0};
  Net net{HeNormal{.seed = seed}};
  result.at_init = first_batch_norms(net, data.train);
  Trainer trainer(net, SGD{.learning_rate = 0.05});
  const auto start = std::chrono::steady_clock::now();
  for (std::size_t epoch = 0; epoch < epochs; ++epoch) {
    train_epoch<64>(trainer, data.train, seed, epoch);
    if (epoch == 0) result.after_first_epoch = first_batch_norms(net, data.train);
  }
  result.seconds = std::chrono::duration<double>(std::chrono::steady_clock::now() - start).count();
  result.accuracy = accuracy(net, data.test);
  return result;
}

void print_norms(const char* title, const std::vector<Run>& runs, std::vector<double> Run::*norms) {
  std::printf("\n%s: ||dL/dW|| on the first 256 training images\nlayer", title);
  for (const Run& r : runs) std::printf("  %16s", r.name.c_str());
  std::printf("\n");
  for (std::size_t layer = 0; layer < (runs[0].*norms).size(); ++layer) {
    std::printf("%5zu", layer + 1);
    for (const Run& r : runs) std::printf("  %16.3e", (r.*norms)[layer]);
    std::printf("\n");
  }
  std::printf("first/last");
  for (const Run& r : runs) std::printf("  %11.3e", (r.*norms).front() / (r.*norms).back());
  std::printf("\n");
}

}  // namespace

int main(int argc, char** argv) {
  const std::size_t epochs = argc > 1 ? std::strtoul(argv[1], nullptr, 10) : 3;
  const std::uint64_t seed = argc > 2 ? std::strtoull(argv[2], nullptr, 10) : 0;
  const std::string chart_path = argc > 3 ? argv[3] : "vanishing_gradients.svg";
  if (epochs == 0) {
    std::fprintf(stderr, "usage: %s [epochs >= 1 [seed [chart.svg]]]\n", argv[0]);
    return 2;
  }
  try {
    const TrainTestSets data = load_fashion_mnist();  // Debian's dataset-fashion-mnist
    std::vector<Run> runs;
    runs.push_back(run<deep_nets::DeepSigmoid>("sigmoid", data, epochs, seed));
    runs.push_back(run<deep_nets::DeepReLU>("ReLU", data, epochs, seed));
    runs.push_back(run<deep_nets::DeepSigmoidBatchNorm>("sigmoid+BatchNorm", data, epochs, seed));
    runs.push_back(run<deep_nets::DeepSigmoidResidual>("sigmoid+residual", data, epochs, seed));

    print_norms("At He init", runs, &Run::at_init);
    print_norms("After the first epoch", runs, &Run::after_first_epoch);
    std::printf("\nTest accuracy after %zu epochs of SGD (lr 0.05, batch 64):\n", epochs);
    for (const Run& r : runs)
      std::printf("  %-18s %6.2f%%  (%.1f s)\n", r.name.c_str(), 100 * r.accuracy, r.seconds);

    LineChart chart{.title = "Gradient norms after the first epoch",
                    .x_label = "Dense layer (1 = first)",
                    .y_label = "||dL/dW|| (log scale)",
                    .x = {},
                    .series = {},
                    .integer_x = true,
                    .log_y = true};
    for (std::size_t layer = 1; layer <= runs[0].after_first_epoch.size(); ++layer)
      chart.x.push_back(double(layer));
    for (const Run& r : runs) chart.series.push_back({r.name, r.after_first_epoch});
    write_text_file(chart_path, line_chart_svg(chart));
    std::printf("\nwrote %s\n", chart_path.c_str());
  } catch (const Error& e) {
    std::fprintf(stderr, "error: %s\n", e.what());
    return 1;
  }
}

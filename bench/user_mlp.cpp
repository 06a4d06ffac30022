// A user's translation unit, as bench/compile_time.sh times it: the README's 784-256-128-10 MLP trained
// with SGD and with Adam (single steps and train_epoch), then classified, evaluated, saved and loaded.
// Only the public API. It also runs: on a synthetic data set (10 noisy class prototypes) built in memory,
// it checks that training lowers the loss, that the net learns the classes and that a saved model loads
// back to the same predictions; it exits with 1 and a message otherwise.
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <typenet/typenet.hpp>
#include <vector>

using namespace typenet;
using Net = Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;

namespace {

constexpr std::size_t batch = 32, pixels = 784, classes = 10;

// A fixed pseudo-random stream (xorshift64*), uniform in [0, 1): the same data on every machine.
struct Noise {
  std::uint64_t state;
  float next() {
    state ^= state >> 12, state ^= state << 25, state ^= state >> 27;
    return float((state * 0x2545F4914F6CDD1DULL) >> 40) / float(1 << 24);
  }
};

// `count` images: class c lights its own band of pixels, plus noise everywhere.
Dataset make_dataset(std::size_t count, std::uint64_t seed) {
  Dataset data;
  data.count = count, data.rows = 28, data.cols = 28;
  data.images.resize(count * pixels);
  data.labels.resize(count);
  Noise noise{seed};
  for (std::size_t i = 0; i < count; ++i) {
    const std::size_t c = i % classes;
    data.labels[i] = std::uint8_t(c);
    for (std::size_t p = 0; p < pixels; ++p)
      data.images[i * pixels + p] = 0.3f * noise.next() + (p / 78 == c ? 0.7f : 0.0f);
  }
  return data;
}

// The first `batch` samples of `data` as a step's input and labels.
void first_batch(const Dataset& data, Matrix<float, batch, pixels>& x, Labels<batch>& labels) {
  for (std::size_t r = 0; r < batch; ++r) {
    for (std::size_t p = 0; p < pixels; ++p) x(r, p) = data.image(r)[p];
    labels[r] = data.labels[r];
  }
}

int failures = 0;
void expect(bool ok, const char* what) {
  std::printf("%s: %s\n", ok ? "ok  " : "FAIL", what);
  failures += !ok;
}

// Steps on one batch, then epochs over the whole set; returns the test accuracy.
template <class Optimizer>
double train(Net& net, Optimizer optimizer, const Dataset& train_set, const Dataset& test_set,
             const char* name) {
  Trainer trainer(net, optimizer);
  Matrix<float, batch, pixels> x;
  Labels<batch> labels;
  first_batch(train_set, x, labels);
  const float first = trainer.step(x, labels);
  float last = first;
  for (int i = 0; i < 4; ++i) last = trainer.step(x, labels);
  std::printf("%s: batch loss %.4f -> %.4f\n", name, double(first), double(last));
  expect(last < first, "five steps on one batch lower its loss");
  EpochStats stats;
  for (std::size_t epoch = 0; epoch < 5; ++epoch) {
    stats = train_epoch<batch>(trainer, train_set, /*seed=*/7, epoch);
    std::printf("%s: epoch %zu: loss %.4f, train accuracy %.3f\n", name, epoch + 1, stats.mean_loss,
                stats.accuracy());
  }
  expect(stats.samples == train_set.count, "an epoch trains on every sample");
  return accuracy(net, test_set);
}

}  // namespace

int main() {
  // 32 batches of 32.
  const Dataset train_set = make_dataset(1024, 1);
  const Dataset test_set = make_dataset(200, 2);

  Net sgd_net{HeNormal{.seed = 42}};
  const double sgd_accuracy = train(sgd_net, SGD{.learning_rate = 0.1}, train_set, test_set, "sgd");
  Net adam_net{XavierNormal{.seed = 43}};
  const double adam_accuracy = train(adam_net, Adam{.learning_rate = 1e-3}, train_set, test_set, "adam");
  std::printf("test accuracy: sgd %.3f, adam %.3f\n", sgd_accuracy, adam_accuracy);
  expect(sgd_accuracy > 0.9 && adam_accuracy > 0.9, "both nets learn the classes (test accuracy > 0.9)");

  Matrix<float, batch, pixels> x;
  Labels<batch> labels;
  first_batch(test_set, x, labels);
  const std::vector<std::uint32_t> predicted = sgd_net.classify(x);
  std::size_t right = 0;
  for (std::size_t r = 0; r < batch; ++r) right += predicted[r] == labels[r];
  std::printf("classify: %zu of %zu right\n", right, batch);
  expect(right >= batch * 9 / 10, "classify gets at least 90% of a test batch right");

  const std::filesystem::path path = std::filesystem::temp_directory_path() / "typenet_user_mlp.tnet";
  save_model(sgd_net, path);
  Net loaded{HeNormal{.seed = 1}};
  load_model(loaded, path);
  std::filesystem::remove(path);
  expect(loaded.classify(x) == predicted && accuracy(loaded, test_set) == sgd_accuracy,
         "the loaded model predicts what the saved one did");
  return failures == 0 ? 0 : 1;
}

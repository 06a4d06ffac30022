// Trainer::step allocates nothing once the trainer is built. This file replaces the global operator new and
// delete (every form) with counting versions, so it is its own test executable.
#include <array>
#include <atomic>
#include <catch2/catch.hpp>
#include <cstddef>
#include <cstdint>
#include <cstdlib>
#include <new>
#include <span>
#include <vector>

#include "../src/kernels/scratch_probe.hpp"
#include "support.hpp"
#include "typenet/typenet.hpp"

namespace {

std::atomic<bool> counting{false};
std::atomic<std::size_t> allocations{0};

void* allocate(std::size_t size, std::size_t alignment) {
  if (counting.load(std::memory_order_relaxed)) allocations.fetch_add(1, std::memory_order_relaxed);
  if (size == 0) size = 1;
  void* p = nullptr;
  if (alignment <= alignof(std::max_align_t)) {
    p = std::malloc(size);
  } else {
    // aligned_alloc wants a size that is a multiple of the alignment.
    p = std::aligned_alloc(alignment, (size + alignment - 1) / alignment * alignment);
  }
  return p;
}

void* allocate_or_throw(std::size_t size, std::size_t alignment) {
  if (void* p = allocate(size, alignment)) return p;
  throw std::bad_alloc();
}

}  // namespace

void* operator new(std::size_t size) {
  return allocate_or_throw(size, alignof(std::max_align_t));
}
void* operator new[](std::size_t size) {
  return allocate_or_throw(size, alignof(std::max_align_t));
}
void* operator new(std::size_t size, std::align_val_t a) {
  return allocate_or_throw(size, std::size_t(a));
}
void* operator new[](std::size_t size, std::align_val_t a) {
  return allocate_or_throw(size, std::size_t(a));
}
void* operator new(std::size_t size, const std::nothrow_t&) noexcept {
  return allocate(size, alignof(std::max_align_t));
}
void* operator new[](std::size_t size, const std::nothrow_t&) noexcept {
  return allocate(size, alignof(std::max_align_t));
}
void* operator new(std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, std::size_t(a));
}
void* operator new[](std::size_t size, std::align_val_t a, const std::nothrow_t&) noexcept {
  return allocate(size, std::size_t(a));
}
void operator delete(void* p) noexcept {
  std::free(p);
}
void operator delete[](void* p) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::size_t, std::align_val_t) noexcept {
  std::free(p);
}
void operator delete(void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete(void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}
void operator delete[](void* p, std::align_val_t, const std::nothrow_t&) noexcept {
  std::free(p);
}

using namespace typenet;

namespace {

using test::random_matrix;

// Heap allocations during 20 steps of a trainer built (and its inputs made) before counting starts. The
// kernels' scratch buffers (malloc, not operator new) may be sized by the first step; none after it.
template <class Net, class Optimizer, class Targets, std::size_t B>
std::size_t allocations_in_steps(Optimizer optimizer, const Matrix<float, B, Net::input_width>& x,
                                 const Targets& targets, TrainerOptions options = {}) {
  Net net{HeNormal{.seed = 1}};
  Trainer trainer(net, optimizer, options);
  allocations = 0;
  counting = true;
  float loss = trainer.step(x, targets);
  const std::uint64_t scratch_after_first_step = kernels::detail::scratch_allocations.load();
  for (int i = 1; i < 20; ++i) loss += trainer.step(x, targets);
  counting = false;
  CHECK(std::isfinite(loss));
  CHECK(kernels::detail::scratch_allocations.load() == scratch_after_first_step);
  return allocations;
}

using Classifier = Network<Dense<32, 64>, ReLU, Dense<64, 10>, SoftmaxCrossEntropy>;
using Regressor = Network<Dense<32, 16>, Sigmoid, Dense<16, 3>, MeanSquaredError>;
using LeNet =
    Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>, Conv2D<6, 16, 5>, ReLU, MaxPool2D<2>,
            Flatten, Dense<400, 120>, ReLU, Dense<120, 84>, ReLU, Dense<84, 10>, SoftmaxCrossEntropy>;

}  // namespace

TEST_CASE("The counting allocator sees allocations (the test is not vacuous)", "[allocation]") {
  allocations = 0;
  counting = true;
  auto* p = new Matrix<float, 4, 4>();
  counting = false;
  delete p;
  CHECK(allocations == 2);  // the Matrix object and its aligned storage
}

TEST_CASE("The kernels count their scratch allocations (the steady-state check is not vacuous)",
          "[allocation]") {
  // dX packs W^T into a per-thread scratch buffer; a product wider than any before must grow it.
  constexpr std::size_t rows = 8, inner = 1000, cols = 700;
  std::vector<float> d_out(rows * cols, 0.5f), weights(inner * cols, 0.25f), in(rows * inner, 0.5f),
      d_in(rows * inner);
  const std::uint64_t before = kernels::detail::scratch_allocations.load();
  kernels::dense_backward_input(d_out.data(), weights.data(), in.data(), d_in.data(), rows, inner, cols,
                                kernels::Activation::sigmoid);
  CHECK(kernels::detail::scratch_allocations.load() > before);
}

TEST_CASE("Trainer::step allocates nothing after construction", "[allocation]") {
  const auto x = random_matrix<float, 16, 32>(1);
  Labels<16> labels{};
  for (std::size_t r = 0; r < 16; ++r) labels[r] = std::uint32_t(r % 10);
  Matrix<float, 16, 10> one_hot;
  for (std::size_t r = 0; r < 16; ++r) one_hot(r, labels[r]) = 1;

  CHECK(allocations_in_steps<Classifier>(SGD{.learning_rate = 0.01}, x, labels) == 0);  // fused SGD
  CHECK(allocations_in_steps<Classifier>(SGD{.learning_rate = 0.01}, x, labels, {.clip_norm = 0.5}) == 0);
  CHECK(allocations_in_steps<Classifier>(Momentum{.learning_rate = 0.01}, x, labels) == 0);
  CHECK(allocations_in_steps<Classifier>(Adam{.learning_rate = 1e-3}, x, labels) == 0);
  CHECK(allocations_in_steps<Classifier>(Adam{.learning_rate = 1e-3}, x, one_hot) == 0);
  const auto targets = random_matrix<float, 16, 3>(2);
  CHECK(allocations_in_steps<Regressor>(Momentum{.learning_rate = 0.01}, x, targets) == 0);
  // The finite check names the tensor in its error; that text is built only when a check fails.
  CHECK(allocations_in_steps<Classifier>(SGD{.learning_rate = 0.01}, x, labels, {.check_finite = true}) == 0);
  CHECK(allocations_in_steps<Classifier>(Adam{.learning_rate = 1e-3}, x, labels, {.check_finite = true}) ==
        0);
  // The newer activations and optimizers: Tanh, LeakyReLU, weight decay, AdamW.
  using Activations =
      Network<Dense<32, 64>, Tanh, Dense<64, 16>, LeakyReLU, Dense<16, 10>, SoftmaxCrossEntropy>;
  CHECK(allocations_in_steps<Activations>(SGD{.learning_rate = 0.01}, x, labels) == 0);
  CHECK(allocations_in_steps<Activations>(SGD{.learning_rate = 0.01, .weight_decay = 1e-4}, x, labels) == 0);
  CHECK(allocations_in_steps<Activations>(Momentum{.learning_rate = 0.01, .weight_decay = 1e-4}, x, labels) ==
        0);
  CHECK(allocations_in_steps<Activations>(AdamW{}, x, labels) == 0);
  using WithDropout = Network<Dense<32, 64>, ReLU, Dropout<20>, Dense<64, 10>, SoftmaxCrossEntropy>;
  CHECK(allocations_in_steps<WithDropout>(SGD{.learning_rate = 0.01}, x, labels) == 0);
  CHECK(allocations_in_steps<WithDropout>(Adam{}, x, labels) == 0);
  using WithBatchNorm = Network<Dense<32, 64>, BatchNorm<64>, ReLU, Dense<64, 10>, SoftmaxCrossEntropy>;
  CHECK(allocations_in_steps<WithBatchNorm>(SGD{.learning_rate = 0.01}, x, labels) == 0);
  CHECK(allocations_in_steps<WithBatchNorm>(AdamW{}, x, labels) == 0);
  using WithResidual =
      Network<Dense<32, 64>, ReLU, Residual<Dense<64, 64>, BatchNorm<64>, ReLU, Dense<64, 64>>, ReLU,
              Dense<64, 10>, SoftmaxCrossEntropy>;
  CHECK(allocations_in_steps<WithResidual>(SGD{.learning_rate = 0.01}, x, labels) == 0);
  CHECK(allocations_in_steps<WithResidual>(Adam{}, x, labels) == 0);
}

TEST_CASE("A LeNet-5 training step allocates nothing at batch 1 and 32 (the im2col scratch included)",
          "[allocation][cnn]") {
  const auto x32 = random_matrix<float, 32, 784>(6);
  Labels<32> labels{};
  for (std::size_t r = 0; r < 32; ++r) labels[r] = std::uint32_t(r % 10);
  CHECK(allocations_in_steps<LeNet>(SGD{.learning_rate = 0.01}, x32, labels) == 0);
  CHECK(allocations_in_steps<LeNet>(Adam{.learning_rate = 1e-3}, x32, labels) == 0);
  const auto x1 = random_matrix<float, 1, 784>(7);
  CHECK(allocations_in_steps<LeNet>(SGD{.learning_rate = 0.01}, x1, Labels<1>{3}) == 0);
  CHECK(allocations_in_steps<LeNet>(Adam{.learning_rate = 1e-3}, x1, Labels<1>{3}) == 0);
  using LeNetBatchNorm = Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, BatchNorm<6>, ReLU, MaxPool2D<2>,
                                 Conv2D<6, 16, 5>, BatchNorm<16>, ReLU, MaxPool2D<2>, Flatten,
                                 Dense<400, 120>, ReLU, Dense<120, 10>, SoftmaxCrossEntropy>;
  CHECK(allocations_in_steps<LeNetBatchNorm>(Adam{.learning_rate = 1e-3}, x32, labels) == 0);
}

TEST_CASE("Trainer::step on a batch whose size is known at run time allocates nothing", "[allocation]") {
  const auto x = random_matrix<float, 16, 32>(1);
  std::array<std::uint32_t, 16> labels{};
  for (std::size_t r = 0; r < 16; ++r) labels[r] = std::uint32_t(r % 10);
  Classifier net{HeNormal{.seed = 1}};
  Trainer trainer(net, SGD{.learning_rate = 0.01});
  allocations = 0;
  counting = true;
  float loss = 0;
  for (std::size_t rows = 1; rows <= 16; ++rows)  // every size up to the batch, each one step
    loss += trainer.step(MatrixView<const float, dynamic_rows, 32>(x.data(), rows),
                         std::span<const std::uint32_t>(labels.data(), rows));
  counting = false;
  CHECK(std::isfinite(loss));
  CHECK(allocations == 0);
}

TEST_CASE("Trainer::step told the next input (batch 1) allocates nothing after construction",
          "[allocation]") {
  Classifier net{HeNormal{.seed = 1}};
  Trainer trainer(net, SGD{.learning_rate = 0.01});
  const auto a = random_matrix<float, 1, 32>(4), b = random_matrix<float, 1, 32>(5);
  const Labels<1> label_a{3}, label_b{7};
  allocations = 0;
  counting = true;
  float loss = trainer.step(a, label_a, b);
  const std::uint64_t scratch_after_first_step = kernels::detail::scratch_allocations.load();
  for (int i = 0; i < 10; ++i) loss += trainer.step(b, label_b, a) + trainer.step(a, label_a, b);
  counting = false;
  CHECK(std::isfinite(loss));
  CHECK(kernels::detail::scratch_allocations.load() == scratch_after_first_step);
  CHECK(allocations == 0);
}

TEST_CASE("Trainer::step on 2 threads allocates nothing after construction", "[allocation][threads]") {
  // Large enough that the products are split over the pool.
  using Wide = Network<Dense<256, 256>, Sigmoid, Dense<256, 10>, SoftmaxCrossEntropy>;
  const auto x = random_matrix<float, 128, 256>(3);
  Labels<128> labels{};
  for (std::size_t r = 0; r < 128; ++r) labels[r] = std::uint32_t(r % 10);
  CHECK(allocations_in_steps<Wide>(SGD{.learning_rate = 0.01}, x, labels,
                                   {.reserve_rows = 128, .threads = 2}) == 0);
  CHECK(allocations_in_steps<Wide>(Adam{.learning_rate = 1e-3}, x, labels,
                                   {.reserve_rows = 128, .threads = 2}) == 0);
}

TEST_CASE("predict on a const network allocates nothing after its first call", "[allocation][inference]") {
  const Classifier net{HeNormal{.seed = 3}};
  const auto x = random_matrix<float, 16, 32>(4);
  Matrix<float, 16, 10> out;
  net.predict(x, out);  // the first call sizes the network's inference workspace
  allocations = 0;
  counting = true;
  for (int i = 0; i < 5; ++i) net.predict(x, out);
  counting = false;
  CHECK(allocations == 0);
}

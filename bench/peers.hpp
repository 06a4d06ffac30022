// Peers for the benchmarks: the course's MLP (bench_kernels.cc), single convolutions and LeNet-5
// (bench_cnn.cc) written with oneDNN (Debian's libdnnl-dev, v2.x API) and with libtorch (Debian's
// libtorch-dev), behind an interface that knows nothing of typenet and pulls in neither library's headers
// (pimpl), so one benchmark binary can time them beside typenet.
//
// Everything is float32, NCHW at the interface, one thread: each constructor sets the library's thread count
// to 1 (oneDNN here runs on OpenMP: omp_set_num_threads(1); libtorch: at::set_num_threads(1)). Constructors
// allocate every buffer and (oneDNN) create every primitive; the timed calls only execute.
//
// Implementations: bench/peers_onednn.cc (link DNNL::dnnl) and bench/peers_torch.cc (link torch).
#pragma once

#include <cmath>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <random>
#include <string>
#include <vector>

namespace peers {

// The course's MLP: Linear(784, 256) Sigmoid Linear(256, 128) Sigmoid Linear(128, 10); softmax
// cross-entropy, mean over the batch; plain SGD with the learning rate given at construction.
//   train_step: forward, loss, backward, SGD on every weight and bias; returns the batch's loss before the
//               update. images: batch x 784 row-major, labels in [0, 10).
//   infer:      softmax probabilities, batch x 10 row-major.
// The weights come from the caller in typenet's layout (each W in x out row-major, each b of out), so every
// implementation starts from the same values. oneDNN: inner products with the sigmoid fused as a post-op
// (eltwise_logistic; its backward from the layer's output), weights in the layouts the primitives pick,
// softmax-CE gradient and SGD as plain loops. libtorch: torch::nn::Sequential, torch::nn::functional's
// cross_entropy and torch::optim::SGD, as a libtorch user writes it.
inline constexpr int mlp_widths[4] = {784, 256, 128, 10};
struct MlpWeights {
  std::vector<float> w[3], b[3];
};

class OneDnnMlp {
 public:
  OneDnnMlp(int batch, const MlpWeights& weights, float learning_rate);
  ~OneDnnMlp();
  OneDnnMlp(const OneDnnMlp&) = delete;
  OneDnnMlp& operator=(const OneDnnMlp&) = delete;

  float train_step(const float* images, const std::uint32_t* labels);
  void infer(const float* images, float* probabilities);
  std::string info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class TorchMlp {
 public:
  TorchMlp(int batch, const MlpWeights& weights, float learning_rate);
  ~TorchMlp();
  TorchMlp(const TorchMlp&) = delete;
  TorchMlp& operator=(const TorchMlp&) = delete;

  float train_step(const float* images, const std::uint32_t* labels);
  void infer(const float* images, float* probabilities);
  std::string info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// Geometry of one convolution, NCHW, float32, one thread. Square kernel, same stride and padding on both axes.
struct ConvShape {
  int batch, in_channels, out_channels, height, width, kernel, stride, padding;

  int out_height() const { return (height + 2 * padding - kernel) / stride + 1; }
  int out_width() const { return (width + 2 * padding - kernel) / stride + 1; }
  std::size_t x_size() const { return std::size_t(batch) * in_channels * height * width; }
  std::size_t w_size() const { return std::size_t(out_channels) * in_channels * kernel * kernel; }
  std::size_t y_size() const { return std::size_t(batch) * out_channels * out_height() * out_width(); }
  // Multiply-adds of one forward pass (backward data and backward weights cost the same).
  double macs() const { return double(y_size()) * in_channels * kernel * kernel; }
};

// One convolution layer. The constructor fills x, W, b and dy with seeded random values (set_data replaces
// them); the three timed calls work on those buffers:
//   forward():          y  = relu(conv(x, W) + b)              (bias and ReLU fused the way the peer does best)
//   backward_data():    dx = conv_transpose(dy, W)
//   backward_weights(): dW = corr(x, dy), db = sum of dy over batch and space
// dy is the gradient at the convolution's output (before the ReLU: the ReLU's backward is not part of these).
// oneDNN keeps x, W, y, dy, dx, dW in the layouts its primitives chose; a backward call includes whatever
// reorder a training step would pay (W or dy into the backward primitive's layout, dx or dW back into the
// forward layout), none where the layouts agree. libtorch keeps contiguous NCHW/OIHW tensors.
// The untimed accessors below convert to and from plain layouts: x NCHW, W OIHW, b O, y/dy NCHW.
class OneDnnConv {
 public:
  explicit OneDnnConv(const ConvShape& shape);
  ~OneDnnConv();
  OneDnnConv(const OneDnnConv&) = delete;
  OneDnnConv& operator=(const OneDnnConv&) = delete;

  void forward();
  void backward_data();
  void backward_weights();

  void set_data(const float* x, const float* w, const float* b, const float* dy);
  void get_y(float* y) const;
  void get_dx(float* dx) const;
  void get_dw(float* dw) const;
  void get_db(float* db) const;
  // The primitives' implementation names and memory layouts, for the benchmark's context line.
  std::string info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class TorchConv {
 public:
  explicit TorchConv(const ConvShape& shape);
  ~TorchConv();
  TorchConv(const TorchConv&) = delete;
  TorchConv& operator=(const TorchConv&) = delete;

  void forward();
  void backward_data();
  void backward_weights();

  void set_data(const float* x, const float* w, const float* b, const float* dy);
  void get_y(float* y) const;
  void get_dx(float* dx) const;
  void get_dw(float* dw) const;
  void get_db(float* db) const;
  std::string info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

// LeNet-5 on 1x28x28 images: Conv(1,6,5,s1,p2) ReLU MaxPool2 Conv(6,16,5) ReLU MaxPool2 Flatten
// Linear(400,120) ReLU Linear(120,84) ReLU Linear(84,10); softmax cross-entropy, mean over the batch.
//   train_step: forward, loss, full backward, plain SGD (w -= lr * dw) on every weight and bias; returns the
//               loss of the batch before the update. images: batch x 784 (NCHW 1x28x28), labels in [0, 10).
//   infer:      softmax probabilities, batch x 10 row-major.
// The batch is fixed at construction. Weights are He-normal N(0, 2/fan_in), biases zero, drawn by
// detail::lenet_init below, so both peers built with the same seed start from the same weights.
class OneDnnLeNet {
 public:
  OneDnnLeNet(int batch, unsigned seed);
  ~OneDnnLeNet();
  OneDnnLeNet(const OneDnnLeNet&) = delete;
  OneDnnLeNet& operator=(const OneDnnLeNet&) = delete;

  float train_step(const float* images, const std::uint32_t* labels, float learning_rate);
  void infer(const float* images, float* probabilities);
  int batch() const;
  std::string info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

class TorchLeNet {
 public:
  TorchLeNet(int batch, unsigned seed);
  ~TorchLeNet();
  TorchLeNet(const TorchLeNet&) = delete;
  TorchLeNet& operator=(const TorchLeNet&) = delete;

  float train_step(const float* images, const std::uint32_t* labels, float learning_rate);
  void infer(const float* images, float* probabilities);
  int batch() const;
  std::string info() const;

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

namespace detail {

// LeNet-5's parameters in plain layouts (conv OIHW, linear out x in; fc1's inputs in C,H,W order of the
// flattened 16x5x5 map), drawn in one fixed order from one std::mt19937.
struct LeNetWeights {
  std::vector<float> conv1_w, conv1_b, conv2_w, conv2_b, fc1_w, fc1_b, fc2_w, fc2_b, fc3_w, fc3_b;
};

inline LeNetWeights lenet_init(unsigned seed) {
  std::mt19937 rng(seed);
  auto he = [&rng](std::size_t count, int fan_in) {
    std::normal_distribution<float> normal(0.0f, std::sqrt(2.0f / float(fan_in)));
    std::vector<float> w(count);
    for (float& v : w) v = normal(rng);
    return w;
  };
  LeNetWeights p;
  p.conv1_w = he(6 * 1 * 5 * 5, 1 * 5 * 5);
  p.conv1_b.assign(6, 0.0f);
  p.conv2_w = he(16 * 6 * 5 * 5, 6 * 5 * 5);
  p.conv2_b.assign(16, 0.0f);
  p.fc1_w = he(120 * 400, 400);
  p.fc1_b.assign(120, 0.0f);
  p.fc2_w = he(84 * 120, 120);
  p.fc2_b.assign(84, 0.0f);
  p.fc3_w = he(10 * 84, 84);
  p.fc3_b.assign(10, 0.0f);
  return p;
}

// Seeded uniform [-1, 1) values for the convolution peers' initial buffers.
inline std::vector<float> uniform(std::size_t count, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> u(-1.0f, 1.0f);
  std::vector<float> v(count);
  for (float& x : v) x = u(rng);
  return v;
}

}  // namespace detail
}  // namespace peers

// libtorch peers of the CNN benchmark (see peers.hpp), against Debian 12's libtorch 1.13 (CPU).
//
// LeNet-5 is explicit torch::nn modules; training is autograd with a hand-written SGD step under NoGradGuard
// (p -= lr * grad, then the gradients are dropped: set to none, so the next backward hands its fresh
// gradients over instead of adding them into zeroed buffers; torch::optim::SGD and zero_() were measured and
// were no faster). Inference runs under c10::InferenceMode. The user's images are wrapped (from_blob), not
// copied; labels go into a preallocated int64 tensor. ReLUs are in place.
// The convolution peer calls the ATen operators autograd would call: conv2d + relu_ forward, and
// convolution_backward with the output mask of the gradient wanted.
#include "peers.hpp"

// First: libtorch 1.13's ATen/core/List.h instantiates std::vector<c10::IValue> before IValue is complete,
// which C++20's constexpr vector rejects under clang++ with libstdc++ 12 (pytorch#97689, fixed after 1.13);
// with ivalue.h included first, IValue is complete by then.
#include <ATen/core/ivalue.h>

#include <ATen/ATen.h>
#include <ATen/Parallel.h>
#include <c10/core/InferenceMode.h>
#include <torch/nn/functional/loss.h>
#include <torch/nn/modules/activation.h>
#include <torch/nn/modules/container/sequential.h>
#include <torch/nn/modules/conv.h>
#include <torch/nn/modules/linear.h>
#include <torch/optim/sgd.h>
#include <torch/version.h>

#include <cstring>
#include <stdexcept>
#include <string>
#include <vector>

namespace peers {
namespace {

void single_thread() {
  if (at::get_num_threads() != 1) at::set_num_threads(1);
}

const at::TensorOptions f32 = at::TensorOptions().dtype(at::kFloat);

// A contiguous float tensor's values from a plain buffer.
void fill(const at::Tensor& t, const float* values) {
  std::memcpy(t.data_ptr<float>(), values, std::size_t(t.numel()) * sizeof(float));
}
void read(const at::Tensor& t, float* out) {
  const at::Tensor c = t.contiguous();
  std::memcpy(out, c.data_ptr<float>(), std::size_t(c.numel()) * sizeof(float));
}

std::string library() {
  return std::string("libtorch ") + TORCH_VERSION + (at::hasMKLDNN() ? " (mkldnn)" : "") + ", threads " +
         std::to_string(at::get_num_threads());
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// One convolution.

struct TorchConv::Impl {
  ConvShape s;
  at::Tensor x, w, b, y, dy, dx, dw, db;
  std::vector<std::int64_t> stride, padding, dilation{1, 1}, output_padding{0, 0}, bias_sizes;

  explicit Impl(const ConvShape& shape)
      : s(shape), stride{s.stride, s.stride}, padding{s.padding, s.padding}, bias_sizes{s.out_channels} {
    single_thread();
    x = at::empty({s.batch, s.in_channels, s.height, s.width}, f32);
    w = at::empty({s.out_channels, s.in_channels, s.kernel, s.kernel}, f32);
    b = at::empty({s.out_channels}, f32);
    dy = at::empty({s.batch, s.out_channels, s.out_height(), s.out_width()}, f32);
    const int fan_in = s.in_channels * s.kernel * s.kernel;
    std::vector<float> wv = detail::uniform(s.w_size(), 2);
    for (float& v : wv) v *= std::sqrt(6.0f / float(fan_in));
    set_data(detail::uniform(s.x_size(), 1).data(), wv.data(),
             detail::uniform(std::size_t(s.out_channels), 3).data(), detail::uniform(s.y_size(), 4).data());
  }

  void set_data(const float* xv, const float* wv, const float* bv, const float* dyv) {
    fill(x, xv);
    fill(w, wv);
    fill(b, bv);
    fill(dy, dyv);
  }

  void forward() {
    at::NoGradGuard no_grad;
    y = at::conv2d(x, w, b, stride, padding);
    y.relu_();
  }
  void backward_data() {
    at::NoGradGuard no_grad;
    dx = std::get<0>(at::convolution_backward(dy, x, w, c10::nullopt, stride, padding, dilation, false,
                                              output_padding, 1, {true, false, false}));
  }
  void backward_weights() {
    at::NoGradGuard no_grad;
    auto grads = at::convolution_backward(dy, x, w, at::IntArrayRef(bias_sizes), stride, padding, dilation,
                                          false, output_padding, 1, {false, true, true});
    dw = std::get<1>(grads);
    db = std::get<2>(grads);
  }
};

TorchConv::TorchConv(const ConvShape& shape) : impl_(std::make_unique<Impl>(shape)) {}
TorchConv::~TorchConv() = default;
void TorchConv::forward() {
  impl_->forward();
}
void TorchConv::backward_data() {
  impl_->backward_data();
}
void TorchConv::backward_weights() {
  impl_->backward_weights();
}
void TorchConv::set_data(const float* x, const float* w, const float* b, const float* dy) {
  impl_->set_data(x, w, b, dy);
}
void TorchConv::get_y(float* y) const {
  read(impl_->y, y);
}
void TorchConv::get_dx(float* dx) const {
  read(impl_->dx, dx);
}
void TorchConv::get_dw(float* dw) const {
  read(impl_->dw, dw);
}
void TorchConv::get_db(float* db) const {
  read(impl_->db, db);
}
std::string TorchConv::info() const {
  return library();
}

// ---------------------------------------------------------------------------------------------------------
// LeNet-5.

struct TorchLeNet::Impl {
  int n;
  torch::nn::Conv2d conv1{torch::nn::Conv2dOptions(1, 6, 5).padding(2)};
  torch::nn::Conv2d conv2{torch::nn::Conv2dOptions(6, 16, 5)};
  torch::nn::Linear fc1{400, 120}, fc2{120, 84}, fc3{84, 10};
  std::vector<at::Tensor> parameters;
  at::Tensor labels;  // int64, n

  Impl(int batch, unsigned seed) : n(batch) {
    if (batch < 1) throw std::invalid_argument("TorchLeNet: batch must be at least 1");
    single_thread();
    const detail::LeNetWeights p = detail::lenet_init(seed);
    parameters = {conv1->weight, conv1->bias, conv2->weight, conv2->bias, fc1->weight,
                  fc1->bias,     fc2->weight, fc2->bias,     fc3->weight, fc3->bias};
    const std::vector<float>* values[] = {&p.conv1_w, &p.conv1_b, &p.conv2_w, &p.conv2_b, &p.fc1_w,
                                          &p.fc1_b,   &p.fc2_w,   &p.fc2_b,   &p.fc3_w,   &p.fc3_b};
    at::NoGradGuard no_grad;
    for (std::size_t i = 0; i < parameters.size(); ++i) {
      if (std::size_t(parameters[i].numel()) != values[i]->size())
        throw std::logic_error("TorchLeNet: parameter size mismatch");
      fill(parameters[i], values[i]->data());
    }
    labels = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  }

  at::Tensor logits(const at::Tensor& images) {
    at::Tensor h = at::max_pool2d(conv1->forward(images).relu_(), {2, 2});
    h = at::max_pool2d(conv2->forward(h).relu_(), {2, 2});
    h = fc1->forward(h.flatten(1)).relu_();
    h = fc2->forward(h).relu_();
    return fc3->forward(h);
  }

  at::Tensor wrap(const float* images) const {
    return at::from_blob(const_cast<float*>(images), {n, 1, 28, 28}, f32);
  }

  float train_step(const float* images, const std::uint32_t* y, float lr) {
    std::int64_t* l = labels.data_ptr<std::int64_t>();
    for (int i = 0; i < n; ++i) {
      if (y[i] >= 10) throw std::out_of_range("TorchLeNet::train_step: label past the 10 classes");
      l[i] = y[i];
    }
    at::Tensor loss = at::cross_entropy_loss(logits(wrap(images)), labels);  // mean reduction
    loss.backward();
    {
      at::NoGradGuard no_grad;
      for (at::Tensor& param : parameters) {
        param.add_(param.grad(), -lr);
        param.mutable_grad().reset();
      }
    }
    return loss.item<float>();
  }

  void infer(const float* images, float* probabilities) {
    c10::InferenceMode guard;
    at::Tensor out = at::from_blob(probabilities, {n, 10}, f32);
    at::softmax_out(out, logits(wrap(images)), 1);
  }
};

TorchLeNet::TorchLeNet(int batch, unsigned seed) : impl_(std::make_unique<Impl>(batch, seed)) {}
TorchLeNet::~TorchLeNet() = default;
float TorchLeNet::train_step(const float* images, const std::uint32_t* labels, float learning_rate) {
  return impl_->train_step(images, labels, learning_rate);
}
void TorchLeNet::infer(const float* images, float* probabilities) {
  impl_->infer(images, probabilities);
}
int TorchLeNet::batch() const {
  return impl_->n;
}
std::string TorchLeNet::info() const {
  return library();
}

// ---------------------------------------------------------------------------------------------------------
// The course's MLP, as a libtorch user writes it: a Sequential, the functional cross-entropy, optim::SGD.

struct TorchMlp::Impl {
  int n;
  torch::nn::Sequential net{torch::nn::Linear(mlp_widths[0], mlp_widths[1]), torch::nn::Sigmoid(),
                            torch::nn::Linear(mlp_widths[1], mlp_widths[2]), torch::nn::Sigmoid(),
                            torch::nn::Linear(mlp_widths[2], mlp_widths[3])};
  torch::optim::SGD optimizer;
  at::Tensor labels;  // int64, n

  Impl(int batch, const MlpWeights& p, float learning_rate)
      : n(batch), optimizer(net->parameters(), torch::optim::SGDOptions(learning_rate)) {
    if (batch < 1) throw std::invalid_argument("TorchMlp: batch must be at least 1");
    single_thread();
    at::NoGradGuard no_grad;
    for (int l = 0; l < 3; ++l) {
      torch::nn::LinearImpl* linear = net->ptr(std::size_t(2 * l))->as<torch::nn::Linear>();
      // typenet's W is in x out; torch's weight is out x in.
      const at::Tensor w =
          at::from_blob(const_cast<float*>(p.w[l].data()), {mlp_widths[l], mlp_widths[l + 1]}, f32);
      linear->weight.copy_(w.t());
      linear->bias.copy_(at::from_blob(const_cast<float*>(p.b[l].data()), {mlp_widths[l + 1]}, f32));
    }
    labels = at::empty({n}, at::TensorOptions().dtype(at::kLong));
  }

  at::Tensor wrap(const float* images) const {
    return at::from_blob(const_cast<float*>(images), {n, mlp_widths[0]}, f32);
  }

  float train_step(const float* images, const std::uint32_t* y) {
    std::int64_t* l = labels.data_ptr<std::int64_t>();
    for (int i = 0; i < n; ++i) {
      if (y[i] >= 10) throw std::out_of_range("TorchMlp::train_step: label past the 10 classes");
      l[i] = y[i];
    }
    optimizer.zero_grad();
    at::Tensor loss = torch::nn::functional::cross_entropy(net->forward(wrap(images)), labels);
    loss.backward();
    optimizer.step();
    return loss.item<float>();
  }

  void infer(const float* images, float* probabilities) {
    c10::InferenceMode guard;
    at::Tensor out = at::from_blob(probabilities, {n, mlp_widths[3]}, f32);
    at::softmax_out(out, net->forward(wrap(images)), 1);
  }
};

TorchMlp::TorchMlp(int batch, const MlpWeights& weights, float learning_rate)
    : impl_(std::make_unique<Impl>(batch, weights, learning_rate)) {}
TorchMlp::~TorchMlp() = default;
float TorchMlp::train_step(const float* images, const std::uint32_t* labels) {
  return impl_->train_step(images, labels);
}
void TorchMlp::infer(const float* images, float* probabilities) {
  impl_->infer(images, probabilities);
}
std::string TorchMlp::info() const {
  return library() + "; torch::nn::Sequential, torch::optim::SGD";
}

}  // namespace peers

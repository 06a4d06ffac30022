// typenet vs oneDNN 2.6 and libtorch 1.13 (bench/peers.hpp, when installed), Eigen 3.4 (fixed-size maps) and
// OpenBLAS (+ plain loops), one thread, float, in one binary and one run. Names are
// <workload>/<shape>/<implementation>; bench/report.py turns the JSON output into ratio tables.
//   W1: the course's 784-256-128-10 sigmoid MLP, a whole training step (forward, softmax-CE, backward, SGD)
//   at batch 1/32/128/256; W2: its inference (softmax probabilities) at batch 1/256; batch 1 also on
//   Fashion-MNIST images (B1_fashion_mnist) when Debian's dataset-fashion-mnist is installed. The "typenet"
//   rows time the public API: Trainer::step(x, labels) (the lone step), Trainer::step(x, labels, next) in a
//   sequence ("typenet_lookahead"), Network::predict; "typenet_2threads" is TrainerOptions::threads = 2.
//   The "kernels" rows are the same step as a hand-written sequence of kernel calls, so the API's own cost
//   shows beside them.
//   W3: each GEMM of a batch-128 and of a batch-32 step; W4: sigmoid forward/backward 128x256, softmax-CE
//   gradient 128x10; W5: forward GEMMs off the register grid: widths with a partial last vector
//   (784-300-100) and batches below one register tile (2, 5). These are kernel-level rows.
// Every row carries GFLOPs (GFLOP/s) and pct_peak (% of the one-core FMA peak measured by the probe).
#include <benchmark/benchmark.h>
#include <cblas.h>

#include <Eigen/Core>
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <memory>
#include <optional>
#include <random>
#include <string>
#include <utility>
#include <vector>

#include <hwy/aligned_allocator.h>
#include <hwy/highway.h>

#include "fma_probe.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/kernels/thread_pool.hpp"
#include "typenet/typenet.hpp"
#if TYPENET_BENCH_PEERS
#include "peers.hpp"
#endif

extern "C" void openblas_set_num_threads(int);

namespace {

namespace k = typenet::kernels;
using k::Activation;

using typenet_bench::SetFlopCounters;  // the FMA probe and the GFLOPs/pct_peak counters: fma_probe.hpp

// ------------------------------------------------------------------------------------------------ helpers

struct Buffer {
  hwy::AlignedFreeUniquePtr<float[]> data;
  std::size_t size;
  explicit Buffer(std::size_t n, float scale = 1.0f, std::uint32_t seed = 1)
      : data(hwy::AllocateAligned<float>(n)), size(n) {
    std::mt19937 rng(seed);
    std::uniform_real_distribution<float> dist(-scale, scale);
    for (std::size_t i = 0; i < n; ++i) data[i] = dist(rng);
  }
  float* get() const { return data.get(); }
};

// Fixed-size Eigen views of the same aligned buffers (row-major, as typenet stores matrices).
template <int R, int C>
using MapM = Eigen::Map<Eigen::Matrix<float, R, C, Eigen::RowMajor>, Eigen::Aligned64>;
template <int C>
using MapRow = Eigen::Map<Eigen::Matrix<float, 1, C, Eigen::RowMajor>, Eigen::Aligned64>;

float SigmoidScalar(float z) {
  return z >= 0 ? 1.0f / (1.0f + std::exp(-z)) : std::exp(z) / (1.0f + std::exp(z));
}

// Plain-loop epilogues for the OpenBLAS peer.
void BiasActivationLoop(float* y, const float* b, int rows, int cols, bool sigmoid) {
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) {
      const float z = y[r * cols + c] + b[c];
      y[r * cols + c] = sigmoid ? SigmoidScalar(z) : z;
    }
}
void SigmoidDerivativeLoop(float* d, const float* a, int n) {
  for (int i = 0; i < n; ++i) d[i] *= a[i] * (1.0f - a[i]);
}
float SoftmaxCeLoop(const float* z, const std::uint32_t* labels, float* p, float* dz, int rows, int cols) {
  float loss = 0;
  for (int r = 0; r < rows; ++r) {
    const float* zr = z + r * cols;
    float max = zr[0];
    for (int c = 1; c < cols; ++c) max = std::max(max, zr[c]);
    float sum = 0;
    for (int c = 0; c < cols; ++c) sum += p[r * cols + c] = std::exp(zr[c] - max);
    for (int c = 0; c < cols; ++c) {
      p[r * cols + c] /= sum;
      dz[r * cols + c] = (p[r * cols + c] - (c == int(labels[r]) ? 1.0f : 0.0f)) / float(rows);
    }
    loss += std::log(sum) - (zr[labels[r]] - max);
  }
  return loss / float(rows);
}

// ------------------------------------------------------------------------------------------------ W3: GEMMs

enum class Form { kForward, kBackwardInput, kBackwardParams, kBackwardParamsSgd };
const char* FormName(Form f) {
  switch (f) {
    case Form::kForward:
      return "fwd";
    case Form::kBackwardInput:
      return "bwd_input";
    case Form::kBackwardParams:
      return "bwd_params";
    case Form::kBackwardParamsSgd:
      return "bwd_params_sgd";
  }
  return "";
}

template <int R, int I, int C>
struct GemmData {
  Buffer x{R * I, 1.0f, 1}, w{I * C, 0.05f, 2}, b{C, 0.1f, 3}, y{R * C, 1.0f, 4}, dy{R * C, 0.1f, 5},
      dx{R * I, 1.0f, 6}, a{R * I, 0.5f, 7}, dw{I * C, 1.0f, 8}, db{C, 1.0f, 9};
  GemmData() {
    for (std::size_t i = 0; i < a.size; ++i) a.get()[i] += 0.5f;  // activation outputs in (0, 1)
  }
};

template <int R, int I, int C>
void GemmTypenet(benchmark::State& state, Form form, bool sigmoid) {
  GemmData<R, I, C> g;
  const Activation act = sigmoid ? Activation::sigmoid : Activation::identity;
  for (auto _ : state) {
    switch (form) {
      case Form::kForward:
        k::dense_forward(g.x.get(), g.w.get(), g.b.get(), g.y.get(), R, I, C, act);
        break;
      case Form::kBackwardInput:
        k::dense_backward_input(g.dy.get(), g.w.get(), g.a.get(), g.dx.get(), R, I, C, act);
        break;
      case Form::kBackwardParams:
        k::dense_backward_params(g.x.get(), g.dy.get(), g.dw.get(), g.db.get(), R, I, C);
        break;
      case Form::kBackwardParamsSgd:
        k::dense_backward_params_sgd(g.x.get(), g.dy.get(), g.w.get(), g.b.get(), 1e-6f, R, I, C);
        break;
    }
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 2.0 * R * I * C);
}

template <int R, int I, int C>
void GemmEigen(benchmark::State& state, Form form, bool sigmoid) {
  GemmData<R, I, C> g;
  MapM<R, I> x(g.x.get()), dx(g.dx.get()), a(g.a.get());
  MapM<I, C> w(g.w.get()), dw(g.dw.get());
  MapM<R, C> y(g.y.get()), dy(g.dy.get());
  MapRow<C> b(g.b.get()), db(g.db.get());
  for (auto _ : state) {
    switch (form) {
      case Form::kForward:
        y.noalias() = x * w;
        y.rowwise() += b;
        if (sigmoid) y.array() = 1.0f / (1.0f + (-y.array()).exp());
        break;
      case Form::kBackwardInput:
        dx.noalias() = dy * w.transpose();
        if (sigmoid) dx.array() *= a.array() * (1.0f - a.array());
        break;
      case Form::kBackwardParams:
        dw.noalias() = x.transpose() * dy;
        db.noalias() = dy.colwise().sum();
        break;
      case Form::kBackwardParamsSgd:
        w.noalias() -= 1e-6f * (x.transpose() * dy);
        b.noalias() -= 1e-6f * dy.colwise().sum();
        break;
    }
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 2.0 * R * I * C);
}

template <int R, int I, int C>
void GemmOpenBlas(benchmark::State& state, Form form, bool sigmoid) {
  GemmData<R, I, C> g;
  for (auto _ : state) {
    switch (form) {
      case Form::kForward:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, R, C, I, 1.0f, g.x.get(), I, g.w.get(), C,
                    0.0f, g.y.get(), C);
        BiasActivationLoop(g.y.get(), g.b.get(), R, C, sigmoid);
        break;
      case Form::kBackwardInput:
        cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, R, I, C, 1.0f, g.dy.get(), C, g.w.get(), C, 0.0f,
                    g.dx.get(), I);
        if (sigmoid) SigmoidDerivativeLoop(g.dx.get(), g.a.get(), R * I);
        break;
      case Form::kBackwardParams:
      case Form::kBackwardParamsSgd: {
        const bool sgd = form == Form::kBackwardParamsSgd;
        cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, I, C, R, sgd ? -1e-6f : 1.0f, g.x.get(), I,
                    g.dy.get(), C, sgd ? 1.0f : 0.0f, sgd ? g.w.get() : g.dw.get(), C);
        float* bias = sgd ? g.b.get() : g.db.get();
        if (!sgd)
          for (int c = 0; c < C; ++c) bias[c] = 0;
        for (int r = 0; r < R; ++r)
          for (int c = 0; c < C; ++c) bias[c] += (sgd ? -1e-6f : 1.0f) * g.dy.get()[r * C + c];
        break;
      }
    }
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 2.0 * R * I * C);
}

template <int R, int I, int C>
void RegisterGemms(bool sigmoid) {
  for (Form form : {Form::kForward, Form::kBackwardInput, Form::kBackwardParams, Form::kBackwardParamsSgd}) {
    const std::string name = std::string("W3/") + FormName(form) + "/" + std::to_string(R) + "x" +
                             std::to_string(I) + "x" + std::to_string(C) + "/";
    benchmark::RegisterBenchmark((name + "typenet").c_str(), GemmTypenet<R, I, C>, form, sigmoid);
    benchmark::RegisterBenchmark((name + "eigen").c_str(), GemmEigen<R, I, C>, form, sigmoid);
    benchmark::RegisterBenchmark((name + "openblas").c_str(), GemmOpenBlas<R, I, C>, form, sigmoid);
  }
}

// The forward product (+bias+sigmoid) alone, for W5.
template <int R, int I, int C>
void RegisterForward() {
  const std::string name =
      "W5/fwd/" + std::to_string(R) + "x" + std::to_string(I) + "x" + std::to_string(C) + "/";
  benchmark::RegisterBenchmark((name + "typenet").c_str(), GemmTypenet<R, I, C>, Form::kForward, true);
  benchmark::RegisterBenchmark((name + "eigen").c_str(), GemmEigen<R, I, C>, Form::kForward, true);
  benchmark::RegisterBenchmark((name + "openblas").c_str(), GemmOpenBlas<R, I, C>, Form::kForward, true);
}

// ------------------------------------------------------------------------------------------------ W4

constexpr int kSigRows = 128, kSigCols = 256, kCeRows = 128, kCeCols = 10;

void SigmoidFwd(benchmark::State& state, int impl) {
  Buffer z(kSigRows * kSigCols, 8.0f, 1), a(kSigRows * kSigCols);
  MapM<kSigRows, kSigCols> ze(z.get()), ae(a.get());
  for (auto _ : state) {
    if (impl == 0) k::activation_forward(z.get(), a.get(), z.size, Activation::sigmoid);
    if (impl == 1) ae.array() = 1.0f / (1.0f + (-ze.array()).exp());
    if (impl == 2)
      for (std::size_t i = 0; i < z.size; ++i) a.get()[i] = SigmoidScalar(z.get()[i]);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 0);
}

void SigmoidBwd(benchmark::State& state, int impl) {
  Buffer a(kSigRows * kSigCols, 0.5f, 1), d(kSigRows * kSigCols, 1.0f, 2), dz(kSigRows * kSigCols);
  MapM<kSigRows, kSigCols> ae(a.get()), de(d.get()), dze(dz.get());
  for (auto _ : state) {
    if (impl == 0) k::activation_backward(a.get(), d.get(), dz.get(), a.size, Activation::sigmoid);
    if (impl == 1) dze.array() = de.array() * ae.array() * (1.0f - ae.array());
    if (impl == 2)
      for (std::size_t i = 0; i < a.size; ++i) dz.get()[i] = d.get()[i] * a.get()[i] * (1.0f - a.get()[i]);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 0);
}

void SoftmaxCe(benchmark::State& state, int impl) {
  Buffer z(kCeRows * kCeCols, 5.0f, 1), p(kCeRows * kCeCols), dz(kCeRows * kCeCols);
  std::vector<std::uint32_t> labels(kCeRows);
  for (int r = 0; r < kCeRows; ++r) labels[r] = static_cast<std::uint32_t>(r % kCeCols);
  // Eigen: row-wise max, exp, normalise, gradient; fixed 128 x 10.
  MapM<kCeRows, kCeCols> ze(z.get()), pe(p.get()), dze(dz.get());
  for (auto _ : state) {
    float loss = 0;
    if (impl == 0)
      loss = k::softmax_cross_entropy(z.get(), labels.data(), p.get(), dz.get(), kCeRows, kCeCols);
    if (impl == 1) {
      const Eigen::Matrix<float, kCeRows, 1> max = ze.rowwise().maxCoeff();
      pe.array() = (ze.colwise() - max).array().exp();
      const Eigen::Matrix<float, kCeRows, 1> sum = pe.rowwise().sum();
      pe.array().colwise() /= sum.array();
      dze = pe / float(kCeRows);
      for (int r = 0; r < kCeRows; ++r) {
        dze(r, labels[r]) -= 1.0f / float(kCeRows);
        loss += std::log(sum(r)) - (ze(r, labels[r]) - max(r));
      }
    }
    if (impl == 2) loss = SoftmaxCeLoop(z.get(), labels.data(), p.get(), dz.get(), kCeRows, kCeCols);
    benchmark::DoNotOptimize(loss);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, 0);
}

// ------------------------------------------------------------------------------------------------ W1 / W2

constexpr int kIn = 784, kH1 = 256, kH2 = 128, kOut = 10;
constexpr double kTrainFlopPerSample = 1007104, kForwardFlopPerSample = 469504;

template <int B>
struct Net {
  Buffer w1{kIn * kH1, 0.05f, 1}, b1{kH1, 0.0f, 2}, w2{kH1 * kH2, 0.09f, 3}, b2{kH2, 0.0f, 4},
      w3{kH2 * kOut, 0.12f, 5}, b3{kOut, 0.0f, 6};
  Buffer x{B * kIn, 0.5f, 7}, a1{B * kH1}, a2{B * kH2}, z3{B * kOut}, p{B * kOut}, d3{B * kOut}, d2{B * kH2},
      d1{B * kH1};
  std::vector<std::uint32_t> labels;
  Net() : labels(B) {
    for (int r = 0; r < B; ++r) labels[r] = static_cast<std::uint32_t>((r * 7) % kOut);
    for (std::size_t i = 0; i < x.size; ++i) x.get()[i] += 0.5f;
  }
};

// Real inputs for the B1_fashion_mnist rows: the first 1000 Fashion-MNIST test images (Debian's
// dataset-fashion-mnist; about half of their pixels are 0), one per step, copied into the input buffer before
// the step as a trainer gathers its batch -- the same copy for every implementation. Without the dataset
// (or with a bad file) those rows are not registered, and the run says why.
struct ImageFeed {
  std::vector<float> images;
  std::size_t count = 0, next = 0;
  void CopyNext(float* x) {
    std::copy_n(images.data() + next * kIn, kIn, x);
    next = (next + 1) % count;
  }
};

// Null with the reason in `why` when the files are missing or bad (the loader's error names file and field).
std::optional<ImageFeed> LoadImageFeed(std::string& why) {
  try {
    const std::filesystem::path dir = typenet::default_fashion_mnist_dir;
    const typenet::Dataset test =
        typenet::load_idx_dataset(typenet::find_idx_file(dir, "t10k-images-idx3-ubyte"),
                                  typenet::find_idx_file(dir, "t10k-labels-idx1-ubyte"));
    ImageFeed feed;
    feed.count = std::min<std::size_t>(1000, test.count);
    feed.images.assign(test.images.begin(), test.images.begin() + feed.count * kIn);
    return feed;
  } catch (const typenet::DataError& e) {
    why = e.what();
    return std::nullopt;
  }
}

// Each benchmark's own copy of the feed (null: the fixed input of Net).
std::optional<ImageFeed> FeedCopy(const ImageFeed* feed) {
  return feed ? std::optional<ImageFeed>(*feed) : std::nullopt;
}

constexpr float kLr = 1e-4f;  // small: the weights stay put over millions of benchmark iterations

// The backward pass and SGD step of layers 3 and 2 (d1 is left for layer 1). At batch 1 as Trainer runs it:
// each layer's dX and SGD step in one pass over its W.
template <int B>
void BackwardAndSgdDeepLayers(Net<B>& n, k::ThreadPool* p) {
  if constexpr (B == 1) {
    k::dense_backward_input_then_sgd(n.d3.get(), n.w3.get(), n.b3.get(), n.a2.get(), n.d2.get(), kLr, kH2,
                                     kOut, Activation::sigmoid);
    k::dense_backward_input_then_sgd(n.d2.get(), n.w2.get(), n.b2.get(), n.a1.get(), n.d1.get(), kLr, kH1,
                                     kH2, Activation::sigmoid);
  } else {
    k::dense_backward_input(n.d3.get(), n.w3.get(), n.a2.get(), n.d2.get(), B, kH2, kOut, Activation::sigmoid,
                            p);
    k::dense_backward_params_sgd(n.a2.get(), n.d3.get(), n.w3.get(), n.b3.get(), kLr, B, kH2, kOut, p);
    k::dense_backward_input(n.d2.get(), n.w2.get(), n.a1.get(), n.d1.get(), B, kH1, kH2, Activation::sigmoid,
                            p);
    k::dense_backward_params_sgd(n.a1.get(), n.d2.get(), n.w2.get(), n.b2.get(), kLr, B, kH1, kH2, p);
  }
}

// The kernel-level rows ("kernels"): the step Trainer runs, written out as its sequence of kernel calls, so
// the public API's own cost (typenet / kernels) shows.
template <int B>
void TrainKernels(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  std::optional<ImageFeed> feed = FeedCopy(images);
  k::ThreadPool* p = nullptr;
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    k::dense_forward(n.x.get(), n.w1.get(), n.b1.get(), n.a1.get(), B, kIn, kH1, Activation::sigmoid, p);
    k::dense_forward(n.a1.get(), n.w2.get(), n.b2.get(), n.a2.get(), B, kH1, kH2, Activation::sigmoid, p);
    k::dense_forward(n.a2.get(), n.w3.get(), n.b3.get(), n.z3.get(), B, kH2, kOut, Activation::identity, p);
    benchmark::DoNotOptimize(
        k::softmax_cross_entropy(n.z3.get(), n.labels.data(), n.p.get(), n.d3.get(), B, kOut));
    BackwardAndSgdDeepLayers(n, p);
    k::dense_backward_params_sgd(n.x.get(), n.d1.get(), n.w1.get(), n.b1.get(), kLr, B, kIn, kH1, p);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kTrainFlopPerSample * B, B);
}

// Batch 1 as Trainer::step(x, labels, next) runs it in a sequence of steps (train_epoch does), in kernel
// calls: the first layer's SGD update and its forward pass of the next input share one pass over W1. Two
// inputs alternate, so every step trains on another input than the one before, and each starts from the
// first layer's output the step before computed.
void TrainKernelsLookahead(benchmark::State& state, const ImageFeed* images) {
  Net<1> n;
  std::optional<ImageFeed> feed = FeedCopy(images);
  Buffer other_x{kIn, 0.5f, 8};
  for (std::size_t i = 0; i < other_x.size; ++i) other_x.get()[i] += 0.5f;
  float* x = n.x.get();
  float* next_x = other_x.get();
  if (feed) feed->CopyNext(x);
  k::dense_forward(x, n.w1.get(), n.b1.get(), n.a1.get(), 1, kIn, kH1, Activation::sigmoid);
  for (auto _ : state) {
    if (feed) feed->CopyNext(next_x);  // the next image, gathered before the step as train_epoch does
    k::dense_forward(n.a1.get(), n.w2.get(), n.b2.get(), n.a2.get(), 1, kH1, kH2, Activation::sigmoid);
    k::dense_forward(n.a2.get(), n.w3.get(), n.b3.get(), n.z3.get(), 1, kH2, kOut, Activation::identity);
    benchmark::DoNotOptimize(
        k::softmax_cross_entropy(n.z3.get(), n.labels.data(), n.p.get(), n.d3.get(), 1, kOut));
    BackwardAndSgdDeepLayers(n, nullptr);
    k::dense_sgd_then_forward(x, n.d1.get(), n.w1.get(), n.b1.get(), kLr, next_x, n.a1.get(), kIn, kH1,
                              Activation::sigmoid);
    std::swap(x, next_x);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kTrainFlopPerSample, 1);
}

template <int B>
void TrainEigen(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  std::optional<ImageFeed> feed = FeedCopy(images);
  MapM<kIn, kH1> w1(n.w1.get());
  MapM<kH1, kH2> w2(n.w2.get());
  MapM<kH2, kOut> w3(n.w3.get());
  MapRow<kH1> b1(n.b1.get());
  MapRow<kH2> b2(n.b2.get());
  MapRow<kOut> b3(n.b3.get());
  MapM<B, kIn> x(n.x.get());
  MapM<B, kH1> a1(n.a1.get()), d1(n.d1.get());
  MapM<B, kH2> a2(n.a2.get()), d2(n.d2.get());
  MapM<B, kOut> z3(n.z3.get()), d3(n.d3.get());
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    a1.noalias() = x * w1;
    a1.rowwise() += b1;
    a1.array() = 1.0f / (1.0f + (-a1.array()).exp());
    a2.noalias() = a1 * w2;
    a2.rowwise() += b2;
    a2.array() = 1.0f / (1.0f + (-a2.array()).exp());
    z3.noalias() = a2 * w3;
    z3.rowwise() += b3;
    benchmark::DoNotOptimize(SoftmaxCeLoop(n.z3.get(), n.labels.data(), n.p.get(), n.d3.get(), B, kOut));
    d2.noalias() = d3 * w3.transpose();
    d2.array() *= a2.array() * (1.0f - a2.array());
    w3.noalias() -= kLr * (a2.transpose() * d3);
    b3.noalias() -= kLr * d3.colwise().sum();
    d1.noalias() = d2 * w2.transpose();
    d1.array() *= a1.array() * (1.0f - a1.array());
    w2.noalias() -= kLr * (a1.transpose() * d2);
    b2.noalias() -= kLr * d2.colwise().sum();
    w1.noalias() -= kLr * (x.transpose() * d1);
    b1.noalias() -= kLr * d1.colwise().sum();
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kTrainFlopPerSample * B, B);
}

void SgemmBiasSgd(const float* in, const float* d, float* w, float* b, int rows, int inner, int cols) {
  cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, inner, cols, rows, -kLr, in, inner, d, cols, 1.0f, w,
              cols);
  for (int r = 0; r < rows; ++r)
    for (int c = 0; c < cols; ++c) b[c] -= kLr * d[r * cols + c];
}

template <int B>
void TrainOpenBlas(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  std::optional<ImageFeed> feed = FeedCopy(images);
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kH1, kIn, 1.0f, n.x.get(), kIn, n.w1.get(), kH1,
                0.0f, n.a1.get(), kH1);
    BiasActivationLoop(n.a1.get(), n.b1.get(), B, kH1, true);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kH2, kH1, 1.0f, n.a1.get(), kH1, n.w2.get(),
                kH2, 0.0f, n.a2.get(), kH2);
    BiasActivationLoop(n.a2.get(), n.b2.get(), B, kH2, true);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kOut, kH2, 1.0f, n.a2.get(), kH2, n.w3.get(),
                kOut, 0.0f, n.z3.get(), kOut);
    BiasActivationLoop(n.z3.get(), n.b3.get(), B, kOut, false);
    benchmark::DoNotOptimize(SoftmaxCeLoop(n.z3.get(), n.labels.data(), n.p.get(), n.d3.get(), B, kOut));
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, kH2, kOut, 1.0f, n.d3.get(), kOut, n.w3.get(),
                kOut, 0.0f, n.d2.get(), kH2);
    SigmoidDerivativeLoop(n.d2.get(), n.a2.get(), B * kH2);
    SgemmBiasSgd(n.a2.get(), n.d3.get(), n.w3.get(), n.b3.get(), B, kH2, kOut);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, B, kH1, kH2, 1.0f, n.d2.get(), kH2, n.w2.get(), kH2,
                0.0f, n.d1.get(), kH1);
    SigmoidDerivativeLoop(n.d1.get(), n.a1.get(), B * kH1);
    SgemmBiasSgd(n.a1.get(), n.d2.get(), n.w2.get(), n.b2.get(), B, kH1, kH2);
    SgemmBiasSgd(n.x.get(), n.d1.get(), n.w1.get(), n.b1.get(), B, kIn, kH1);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kTrainFlopPerSample * B, B);
}

template <int B>
void InferKernels(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  std::optional<ImageFeed> feed = FeedCopy(images);
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    k::dense_forward(n.x.get(), n.w1.get(), n.b1.get(), n.a1.get(), B, kIn, kH1, Activation::sigmoid);
    k::dense_forward(n.a1.get(), n.w2.get(), n.b2.get(), n.a2.get(), B, kH1, kH2, Activation::sigmoid);
    k::dense_forward(n.a2.get(), n.w3.get(), n.b3.get(), n.z3.get(), B, kH2, kOut, Activation::identity);
    k::softmax(n.z3.get(), n.p.get(), B, kOut);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kForwardFlopPerSample * B, B);
}

template <int B>
void InferEigen(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  std::optional<ImageFeed> feed = FeedCopy(images);
  MapM<kIn, kH1> w1(n.w1.get());
  MapM<kH1, kH2> w2(n.w2.get());
  MapM<kH2, kOut> w3(n.w3.get());
  MapRow<kH1> b1(n.b1.get());
  MapRow<kH2> b2(n.b2.get());
  MapRow<kOut> b3(n.b3.get());
  MapM<B, kIn> x(n.x.get());
  MapM<B, kH1> a1(n.a1.get());
  MapM<B, kH2> a2(n.a2.get());
  MapM<B, kOut> z3(n.z3.get()), p(n.p.get());
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    a1.noalias() = x * w1;
    a1.rowwise() += b1;
    a1.array() = 1.0f / (1.0f + (-a1.array()).exp());
    a2.noalias() = a1 * w2;
    a2.rowwise() += b2;
    a2.array() = 1.0f / (1.0f + (-a2.array()).exp());
    z3.noalias() = a2 * w3;
    z3.rowwise() += b3;
    const Eigen::Matrix<float, B, 1> max = z3.rowwise().maxCoeff();
    p.array() = (z3.colwise() - max).array().exp();
    const Eigen::Matrix<float, B, 1> sum = p.rowwise().sum();
    p.array().colwise() /= sum.array();
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kForwardFlopPerSample * B, B);
}

template <int B>
void InferOpenBlas(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  std::optional<ImageFeed> feed = FeedCopy(images);
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kH1, kIn, 1.0f, n.x.get(), kIn, n.w1.get(), kH1,
                0.0f, n.a1.get(), kH1);
    BiasActivationLoop(n.a1.get(), n.b1.get(), B, kH1, true);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kH2, kH1, 1.0f, n.a1.get(), kH1, n.w2.get(),
                kH2, 0.0f, n.a2.get(), kH2);
    BiasActivationLoop(n.a2.get(), n.b2.get(), B, kH2, true);
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, B, kOut, kH2, 1.0f, n.a2.get(), kH2, n.w3.get(),
                kOut, 0.0f, n.z3.get(), kOut);
    BiasActivationLoop(n.z3.get(), n.b3.get(), B, kOut, false);
    for (int r = 0; r < B; ++r) {
      float* z = n.z3.get() + r * kOut;
      float max = z[0];
      for (int c = 1; c < kOut; ++c) max = std::max(max, z[c]);
      float sum = 0;
      for (int c = 0; c < kOut; ++c) sum += n.p.get()[r * kOut + c] = std::exp(z[c] - max);
      for (int c = 0; c < kOut; ++c) n.p.get()[r * kOut + c] /= sum;
    }
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kForwardFlopPerSample * B, B);
}

// ------------------------------------------------------------------------------------------------ L2 probe

// The floor under batch-1 inference: the time to read the MLP's weights and biases once (0.94 MB, which
// after the first pass live in the 1 MB L2 of a Zen 4 core, as they do between inferences), summed with
// independent vector accumulators so that only the reads limit it. Row "peak/l2_read/mlp_weights/probe";
// counter GBs is its read bandwidth.
constexpr std::size_t kWeightFloats = kIn * kH1 + kH1 + kH1 * kH2 + kH2 + kH2 * kOut + kOut;

float SumOfFloats(const float* p, std::size_t n) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::ScalableTag<float> d;
  const std::size_t lanes = hn::Lanes(d);
  auto a0 = hn::Zero(d), a1 = hn::Zero(d), a2 = hn::Zero(d), a3 = hn::Zero(d);
  auto a4 = hn::Zero(d), a5 = hn::Zero(d), a6 = hn::Zero(d), a7 = hn::Zero(d);
  std::size_t i = 0;
  for (; i + 8 * lanes <= n; i += 8 * lanes) {
    a0 = hn::Add(a0, hn::Load(d, p + i));
    a1 = hn::Add(a1, hn::Load(d, p + i + lanes));
    a2 = hn::Add(a2, hn::Load(d, p + i + 2 * lanes));
    a3 = hn::Add(a3, hn::Load(d, p + i + 3 * lanes));
    a4 = hn::Add(a4, hn::Load(d, p + i + 4 * lanes));
    a5 = hn::Add(a5, hn::Load(d, p + i + 5 * lanes));
    a6 = hn::Add(a6, hn::Load(d, p + i + 6 * lanes));
    a7 = hn::Add(a7, hn::Load(d, p + i + 7 * lanes));
  }
  const auto sum =
      hn::Add(hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)), hn::Add(hn::Add(a4, a5), hn::Add(a6, a7)));
  float total = hn::GetLane(hn::SumOfLanes(d, sum));
  for (; i < n; ++i) total += p[i];
  return total;
}

void L2ReadProbe(benchmark::State& state) {
  const Buffer weights(kWeightFloats);
  for (auto _ : state) benchmark::DoNotOptimize(SumOfFloats(weights.get(), weights.size));
  state.counters["GBs"] = benchmark::Counter(double(kWeightFloats * sizeof(float)) * 1e-9,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

// ------------------------------------------------------------------ W1 / W2 through typenet's public API

using Mlp = typenet::Network<typenet::Dense<kIn, kH1>, typenet::Sigmoid, typenet::Dense<kH1, kH2>,
                             typenet::Sigmoid, typenet::Dense<kH2, kOut>, typenet::SoftmaxCrossEntropy>;

// typenet's network holding Net<B>'s weights (the ones every implementation starts from).
template <int B>
std::unique_ptr<Mlp> MakeMlp(const Net<B>& n) {
  auto net = std::make_unique<Mlp>();
  auto copy = [](const Buffer& from, auto& to) {
    std::copy_n(from.get(), from.size, to.data());
  };
  copy(n.w1, net->layer<0>().weights);
  copy(n.b1, net->layer<0>().bias);
  copy(n.w2, net->layer<2>().weights);
  copy(n.b2, net->layer<2>().bias);
  copy(n.w3, net->layer<4>().weights);
  copy(n.b3, net->layer<4>().bias);
  return net;
}

// Net<B>'s input and labels as the public API takes them.
template <int B>
struct ApiBatch {
  typenet::Matrix<float, B, kIn> x;
  typenet::Labels<B> y;
  explicit ApiBatch(const Net<B>& n) {
    std::copy_n(n.x.get(), n.x.size, x.data());
    std::copy(n.labels.begin(), n.labels.end(), y.begin());
  }
};

// Trainer::step(x, labels), the lone step. threads > 1: TrainerOptions::threads; the FLOP rate and
// pct_peak stay relative to ONE core's peak, so 2 threads can show up to 200%.
template <int B>
void TrainTypenet(benchmark::State& state, int threads, const ImageFeed* images) {
  const Net<B> n;
  const auto net = MakeMlp(n);
  const auto batch = std::make_unique<ApiBatch<B>>(n);
  std::optional<ImageFeed> feed = FeedCopy(images);
  typenet::Trainer trainer(*net, typenet::SGD{.learning_rate = kLr},
                           typenet::TrainerOptions{.reserve_rows = B, .threads = std::size_t(threads)});
  for (auto _ : state) {
    if (feed) feed->CopyNext(batch->x.data());
    benchmark::DoNotOptimize(trainer.step(batch->x, batch->y));
  }
  SetFlopCounters(state, kTrainFlopPerSample * B, B);
}

// Trainer::step(x, labels, next) in a sequence, as train_epoch steps: two inputs alternate (with images, the
// next one is gathered before the step, as train_epoch does).
void TrainTypenetLookahead(benchmark::State& state, const ImageFeed* images) {
  const Net<1> n;
  const auto net = MakeMlp(n);
  std::array<std::unique_ptr<ApiBatch<1>>, 2> batch{std::make_unique<ApiBatch<1>>(n),
                                                    std::make_unique<ApiBatch<1>>(n)};
  for (std::size_t i = 0; i < kIn; ++i) batch[1]->x.data()[i] += 0.5f;
  std::optional<ImageFeed> feed = FeedCopy(images);
  typenet::Trainer trainer(*net, typenet::SGD{.learning_rate = kLr},
                           typenet::TrainerOptions{.reserve_rows = 1});
  std::size_t current = 0;
  if (feed) feed->CopyNext(batch[current]->x.data());
  for (auto _ : state) {
    const std::size_t next = 1 - current;
    if (feed) feed->CopyNext(batch[next]->x.data());
    benchmark::DoNotOptimize(trainer.step(batch[current]->x, batch[current]->y, batch[next]->x));
    current = next;
  }
  SetFlopCounters(state, kTrainFlopPerSample, 1);
}

// Network::predict(x, out): the softmax probabilities.
template <int B>
void InferTypenet(benchmark::State& state, const ImageFeed* images) {
  const Net<B> n;
  const auto net = MakeMlp(n);
  const auto batch = std::make_unique<ApiBatch<B>>(n);
  typenet::Matrix<float, B, kOut> out;
  std::optional<ImageFeed> feed = FeedCopy(images);
  for (auto _ : state) {
    if (feed) feed->CopyNext(batch->x.data());
    net->predict(batch->x, out);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kForwardFlopPerSample * B, B);
}

#if TYPENET_BENCH_PEERS
template <int B>
peers::MlpWeights PeerWeights(const Net<B>& n) {
  peers::MlpWeights w;
  const Buffer* from[] = {&n.w1, &n.b1, &n.w2, &n.b2, &n.w3, &n.b3};
  for (int l = 0; l < 3; ++l) {
    w.w[l].assign(from[2 * l]->get(), from[2 * l]->get() + from[2 * l]->size);
    w.b[l].assign(from[2 * l + 1]->get(), from[2 * l + 1]->get() + from[2 * l + 1]->size);
  }
  return w;
}

template <class Peer, int B>
void TrainPeer(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  Peer peer(B, PeerWeights(n), kLr);
  std::optional<ImageFeed> feed = FeedCopy(images);
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    benchmark::DoNotOptimize(peer.train_step(n.x.get(), n.labels.data()));
  }
  SetFlopCounters(state, kTrainFlopPerSample * B, B);
}

template <class Peer, int B>
void InferPeer(benchmark::State& state, const ImageFeed* images) {
  Net<B> n;
  Peer peer(B, PeerWeights(n), kLr);
  std::optional<ImageFeed> feed = FeedCopy(images);
  for (auto _ : state) {
    if (feed) feed->CopyNext(n.x.get());
    peer.infer(n.x.get(), n.p.get());
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kForwardFlopPerSample * B, B);
}

// Before the rows run: two training steps at batch 32 with a learning rate that moves the weights, then
// the probabilities, in typenet and in each peer from the same start. The largest differences go into the
// context line check_mlp, so a peer that computes something else shows.
std::string CheckMlpPeers() {
  constexpr int B = 32;
  constexpr float lr = 0.5f;
  const Net<B> n;
  const auto net = MakeMlp(n);
  const auto batch = std::make_unique<ApiBatch<B>>(n);
  typenet::Trainer trainer(*net, typenet::SGD{.learning_rate = lr});
  const float loss0 = trainer.step(batch->x, batch->y), loss1 = trainer.step(batch->x, batch->y);
  const typenet::Matrix<float, B, kOut> p = net->predict(batch->x);
  std::string report;
  auto check = [&](auto& peer, const char* name) {
    const float l0 = peer.train_step(n.x.get(), n.labels.data()),
                l1 = peer.train_step(n.x.get(), n.labels.data());
    std::vector<float> q(B * kOut);
    peer.infer(n.x.get(), q.data());
    double dp = 0;
    for (int i = 0; i < B * kOut; ++i) dp = std::max(dp, double(std::abs(q[i] - p.data()[i])));
    char line[200];
    std::snprintf(line, sizeof line, "%s%s: loss %.6f/%.6f (typenet %.6f/%.6f), max |dp| %.2g",
                  report.empty() ? "" : "; ", name, double(l0), double(l1), double(loss0), double(loss1), dp);
    report += line;
  };
  peers::OneDnnMlp onednn(B, PeerWeights(n), lr);
  check(onednn, "onednn");
  peers::TorchMlp torch(B, PeerWeights(n), lr);
  check(torch, "libtorch");
  benchmark::AddCustomContext("onednn_mlp", onednn.info());
  benchmark::AddCustomContext("libtorch_mlp", torch.info());
  return report;
}
#endif

template <int B>
void RegisterTrain() {
  const std::string name = "W1/train/B" + std::to_string(B) + "/";
  const ImageFeed* dense = nullptr;
  benchmark::RegisterBenchmark((name + "typenet").c_str(), TrainTypenet<B>, 1, dense);
  benchmark::RegisterBenchmark((name + "kernels").c_str(), TrainKernels<B>, dense);
  if (B == 1) {
    benchmark::RegisterBenchmark((name + "typenet_lookahead").c_str(), TrainTypenetLookahead, dense);
    benchmark::RegisterBenchmark((name + "kernels_lookahead").c_str(), TrainKernelsLookahead, dense);
  }
  benchmark::RegisterBenchmark((name + "eigen").c_str(), TrainEigen<B>, dense);
  benchmark::RegisterBenchmark((name + "openblas").c_str(), TrainOpenBlas<B>, dense);
#if TYPENET_BENCH_PEERS
  benchmark::RegisterBenchmark((name + "onednn").c_str(), TrainPeer<peers::OneDnnMlp, B>, dense);
  benchmark::RegisterBenchmark((name + "libtorch").c_str(), TrainPeer<peers::TorchMlp, B>, dense);
#endif
  if (B != 128)  // batch 1 (stays on one thread), 32 (the smallest split products) and 256
    benchmark::RegisterBenchmark((name + "typenet_2threads").c_str(), TrainTypenet<B>, 2, dense);
}
template <int B>
void RegisterInfer() {
  const std::string name = "W2/infer/B" + std::to_string(B) + "/";
  const ImageFeed* dense = nullptr;
  benchmark::RegisterBenchmark((name + "typenet").c_str(), InferTypenet<B>, dense);
  benchmark::RegisterBenchmark((name + "kernels").c_str(), InferKernels<B>, dense);
  benchmark::RegisterBenchmark((name + "eigen").c_str(), InferEigen<B>, dense);
  benchmark::RegisterBenchmark((name + "openblas").c_str(), InferOpenBlas<B>, dense);
#if TYPENET_BENCH_PEERS
  benchmark::RegisterBenchmark((name + "onednn").c_str(), InferPeer<peers::OneDnnMlp, B>, dense);
  benchmark::RegisterBenchmark((name + "libtorch").c_str(), InferPeer<peers::TorchMlp, B>, dense);
#endif
}
// Batch 1 on Fashion-MNIST images (see ImageFeed).
void RegisterOnImages(const ImageFeed* images) {
  const std::string train = "W1/train/B1_fashion_mnist/", infer = "W2/infer/B1_fashion_mnist/";
  benchmark::RegisterBenchmark((train + "typenet").c_str(), TrainTypenet<1>, 1, images);
  benchmark::RegisterBenchmark((train + "typenet_lookahead").c_str(), TrainTypenetLookahead, images);
  benchmark::RegisterBenchmark((train + "eigen").c_str(), TrainEigen<1>, images);
  benchmark::RegisterBenchmark((train + "openblas").c_str(), TrainOpenBlas<1>, images);
  benchmark::RegisterBenchmark((infer + "typenet").c_str(), InferTypenet<1>, images);
  benchmark::RegisterBenchmark((infer + "eigen").c_str(), InferEigen<1>, images);
  benchmark::RegisterBenchmark((infer + "openblas").c_str(), InferOpenBlas<1>, images);
#if TYPENET_BENCH_PEERS
  benchmark::RegisterBenchmark((train + "onednn").c_str(), TrainPeer<peers::OneDnnMlp, 1>, images);
  benchmark::RegisterBenchmark((train + "libtorch").c_str(), TrainPeer<peers::TorchMlp, 1>, images);
  benchmark::RegisterBenchmark((infer + "onednn").c_str(), InferPeer<peers::OneDnnMlp, 1>, images);
  benchmark::RegisterBenchmark((infer + "libtorch").c_str(), InferPeer<peers::TorchMlp, 1>, images);
#endif
}

}  // namespace

int main(int argc, char** argv) {
  openblas_set_num_threads(1);
  Eigen::setNbThreads(1);
  typenet_bench::MeasureFmaPeak();
  typenet_bench::RegisterFmaProbe();
#if TYPENET_BENCH_PEERS
  benchmark::AddCustomContext("check_mlp", CheckMlpPeers());
#else
  benchmark::AddCustomContext(
      "mlp_peers", "oneDNN and libtorch rows not built (libdnnl-dev, ocl-icd-opencl-dev, libtorch-dev)");
#endif

  RegisterGemms<128, kIn, kH1>(true);
  RegisterGemms<128, kH1, kH2>(true);
  RegisterGemms<128, kH2, kOut>(false);
  RegisterGemms<32, kIn, kH1>(true);
  RegisterGemms<32, kH1, kH2>(true);
  RegisterGemms<32, kH2, kOut>(false);

  for (int impl = 0; impl < 3; ++impl) {
    const char* names[] = {"typenet", "eigen", "loops"};
    benchmark::RegisterBenchmark((std::string("W4/sigmoid_fwd/128x256/") + names[impl]).c_str(), SigmoidFwd,
                                 impl);
    benchmark::RegisterBenchmark((std::string("W4/sigmoid_bwd/128x256/") + names[impl]).c_str(), SigmoidBwd,
                                 impl);
    benchmark::RegisterBenchmark((std::string("W4/softmax_ce_grad/128x10/") + names[impl]).c_str(), SoftmaxCe,
                                 impl);
  }

  RegisterTrain<1>();
  RegisterTrain<32>();
  RegisterTrain<128>();
  RegisterTrain<256>();
  RegisterInfer<1>();
  RegisterInfer<256>();
  benchmark::RegisterBenchmark("peak/l2_read/mlp_weights/probe", L2ReadProbe);
  std::string no_images;
  const std::optional<ImageFeed> images = LoadImageFeed(no_images);
  if (images) {
    RegisterOnImages(&*images);
  } else {
    std::fprintf(stderr, "no B1_fashion_mnist rows: %s\n", no_images.c_str());
    benchmark::AddCustomContext("fashion_mnist", "no B1_fashion_mnist rows: " + no_images);
  }
  RegisterForward<1, 784, 300>();
  RegisterForward<1, 300, 100>();
  RegisterForward<32, 784, 300>();
  RegisterForward<32, 300, 100>();
  RegisterForward<2, kIn, kH1>();
  RegisterForward<5, kIn, kH1>();

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

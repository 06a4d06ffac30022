// typenet's LeNet-5, through its public API, beside oneDNN and libtorch peers (bench/peers.hpp), one
// thread, float, in one binary and one run. Names are <workload>/<shape>/<implementation>, implementation
// typenet, onednn or libtorch; bench/report.py turns the JSON output into ratio tables (typenet / best peer).
//
//   L1/train_b{1,32,128}: one training step: forward, softmax cross-entropy, backward, plain SGD on every
//       parameter (the same learning rate for all three). typenet: Trainer::step(x, labels) with SGD.
//   L2/infer_b{1,256}: softmax probabilities of a batch. typenet: Network::predict(x, out).
//       Every L row starts from the same weights (peers::detail::lenet_init, copied into typenet's network)
//       and trains / infers on the same batch: images uniform in [0, 1), labels (7 r) mod 10. Each benchmark
//       run builds its network afresh (the peers' constructors also choose their primitives then).
//   C1/{fwd,bwd_data,bwd_weights}_b32: the first convolution alone, 1 -> 6 channels, 28x28, k5 p2;
//   C2/{fwd,bwd_data,bwd_weights}_b{32,128}: the second, 6 -> 16 channels, 14x14, k5. typenet through the
//       kernel seam (typenet/kernels/kernels.hpp), on the same x, W, b, dy as the peers (set_data):
//         fwd:         y = relu(conv(x, W) + b). typenet conv2d_forward with Activation::relu; both peers
//                      fuse bias and ReLU too.
//         bwd_data:    dx = conv_transpose(dy, W), dy taken at the convolution's output (no ReLU
//                      derivative in any of the three: typenet conv2d_backward_input alone; the peers'
//                      backward_data includes the reorders a training step would pay, see peers.hpp).
//         bwd_weights: dW and db from x and dy. typenet conv2d_backward_params.
//       Counters GFLOPs/pct_peak (2 x multiply-adds), GBs (x + y + W + b bytes, each moved once) and pct_bw
//       (of the stream-copy probe's 64 MiB bandwidth). The buffers are the same every iteration, so they
//       stay in the caches (C1 at batch 32: 0.7 MB, in one core's L2), as a training step's would.
//   peak/fma/1core/probe: the FMA peak probe (bench/fma_probe.hpp), measured again in main() for pct_peak;
//   peak/stream_copy/{64MiB,343KiB}/memcpy: memcpy bandwidth (the size is one array's), counted as STREAM
//       counts a copy (read + write): from memory (64 MiB arrays, past the L3; measured again in main() for
//       pct_bw) and with both arrays together the size of C1 b32's buffers (from the cache).
// Before the rows run, every implementation's results are compared with typenet's (the conv outputs and
// gradients, two LeNet training steps' losses, the probabilities after them): the check_* context lines.
//
// Run: build/bench/typenet_bench_cnn --benchmark_format=json > cnn.json; bench/report.py --json cnn.json
//      (or bench/report.py build/bench/typenet_bench_cnn [--benchmark_min_time=0.2]).
// Built only when the peers' packages are installed: Debian's libdnnl-dev ocl-icd-opencl-dev libtorch-dev.
#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <random>
#include <string>
#include <type_traits>
#include <vector>

#include <hwy/aligned_allocator.h>
#include <typenet/typenet.hpp>

#include "fma_probe.hpp"
#include "peers.hpp"
#include "typenet/kernels/kernels.hpp"

namespace {

namespace k = typenet::kernels;
using typenet_bench::SetFlopCounters;

using LeNet =
    typenet::Network<typenet::Input<1, 28, 28>, typenet::Conv2D<1, 6, 5, 1, 2>, typenet::ReLU,
                     typenet::MaxPool2D<2>, typenet::Conv2D<6, 16, 5>, typenet::ReLU, typenet::MaxPool2D<2>,
                     typenet::Flatten, typenet::Dense<400, 120>, typenet::ReLU, typenet::Dense<120, 84>,
                     typenet::ReLU, typenet::Dense<84, 10>, typenet::SoftmaxCrossEntropy>;

constexpr unsigned kSeed = 1;  // peers::detail::lenet_init's seed: every implementation's starting weights
// Plain SGD, the same rate for all three. Every row trains on one batch over and over from the same start, so
// all three memorise it alike; the work of a step does not depend on the weights' values (except that
// typenet's batch-1 dense products skip the zero inputs, which depend on the ReLUs).
constexpr float kLearningRate = 0.01f;

double g_stream_bytes_per_s = 1;  // memcpy bandwidth from memory (64 MiB arrays), measured in main()

// ------------------------------------------------------------------------------------------------ FLOPs

// LeNet-5's multiply-adds per sample, from its shapes:
//   conv1 6 x 28 x 28 outputs x (1 x 5 x 5) = 117 600     conv2 16 x 10 x 10 outputs x (6 x 5 x 5) = 240 000
//   fc1 400 x 120 = 48 000      fc2 120 x 84 = 10 080      fc3 84 x 10 = 840          forward: 416 520
// Inference: 2 FLOP per multiply-add of the forward pass (833 040 FLOP per sample). A training step adds the
// backward pass: the data gradient of every layer but the first (the images need none; a transposed product
// costs as much as the forward one: 298 920) and every layer's weight gradient (416 520), so 2 x 1 131 960 =
// 2 263 920 FLOP per sample. Bias, ReLU, pooling, softmax and the SGD update (2 x 61 706 FLOP per step,
// whatever the batch) are left out: elementwise, below 2% of a batch-1 step.
constexpr k::ConvGeometry kConv1{1, 28, 28, 6, 5, 1, 2}, kConv2{6, 14, 14, 16, 5, 1, 0};
constexpr double ConvMacs(const k::ConvGeometry& g) {
  return double(g.out_channels * g.out_pixels() * g.patch_size());
}
constexpr double kDenseMacs = 400.0 * 120 + 120.0 * 84 + 84.0 * 10;
constexpr double kForwardMacs = ConvMacs(kConv1) + ConvMacs(kConv2) + kDenseMacs;
constexpr double kForwardFlopPerSample = 2 * kForwardMacs;
constexpr double kTrainFlopPerSample = 2 * (kForwardMacs + (kForwardMacs - ConvMacs(kConv1)) + kForwardMacs);
static_assert(kForwardMacs == 416520 && kTrainFlopPerSample == 2263920);

// ------------------------------------------------------------------------------------------------ data

// One batch for every implementation: images uniform in [0, 1) (batch x 784, NCHW 1x28x28), labels 7r mod 10.
struct Batch {
  std::vector<float> images;
  std::vector<std::uint32_t> labels;
  explicit Batch(std::size_t batch) : images(batch * 784), labels(batch) {
    std::mt19937 rng(1234);
    std::uniform_real_distribution<float> pixel(0.0f, 1.0f);
    for (float& v : images) v = pixel(rng);
    for (std::size_t r = 0; r < batch; ++r) labels[r] = std::uint32_t((r * 7) % 10);
  }
};

// typenet's LeNet with the peers' starting weights. Layouts: conv weights are O x (C K K) in both; a Dense
// layer's are In x Out in typenet, Out x In (PyTorch's) in lenet_init. Flatten keeps C, H, W order in both.
std::unique_ptr<LeNet> MakeTypenetLeNet() {
  auto net = std::make_unique<LeNet>(typenet::HeNormal{.seed = kSeed});
  const peers::detail::LeNetWeights p = peers::detail::lenet_init(kSeed);
  auto copy = [](auto& to, const std::vector<float>& from) {
    if (from.size() != to.size) std::abort();
    std::copy(from.begin(), from.end(), to.data());
  };
  auto transpose = [](auto& to, const std::vector<float>& from) {  // from: Out x In; to: In x Out
    using M = std::remove_cvref_t<decltype(to)>;
    if (from.size() != M::size) std::abort();
    for (std::size_t i = 0; i < M::rows; ++i)
      for (std::size_t o = 0; o < M::cols; ++o) to(i, o) = from[o * M::rows + i];
  };
  copy(net->layer<1>().weights, p.conv1_w);
  copy(net->layer<1>().bias, p.conv1_b);
  copy(net->layer<4>().weights, p.conv2_w);
  copy(net->layer<4>().bias, p.conv2_b);
  transpose(net->layer<8>().weights, p.fc1_w);
  copy(net->layer<8>().bias, p.fc1_b);
  transpose(net->layer<10>().weights, p.fc2_w);
  copy(net->layer<10>().bias, p.fc2_b);
  transpose(net->layer<12>().weights, p.fc3_w);
  copy(net->layer<12>().bias, p.fc3_b);
  return net;
}

// typenet's side of one batch: the images as a Matrix, the labels as Labels<B>.
template <std::size_t B>
struct TypenetBatch {
  typenet::Matrix<float, B, 784> x;
  typenet::Labels<B> y;
  TypenetBatch() {
    const Batch batch(B);
    std::copy(batch.images.begin(), batch.images.end(), x.data());
    std::copy(batch.labels.begin(), batch.labels.end(), y.begin());
  }
};

// ------------------------------------------------------------------------------------------------ L1, L2

template <std::size_t B>
void TrainTypenet(benchmark::State& state) {
  const auto data = std::make_unique<TypenetBatch<B>>();
  const auto net = MakeTypenetLeNet();
  typenet::Trainer trainer(*net, typenet::SGD{.learning_rate = kLearningRate},
                           typenet::TrainerOptions{.reserve_rows = B});
  for (auto _ : state) benchmark::DoNotOptimize(trainer.step(data->x, data->y));
  SetFlopCounters(state, kTrainFlopPerSample * B, B);
}

template <class Peer>
void TrainPeer(benchmark::State& state, int batch) {
  const Batch data(static_cast<std::size_t>(batch));
  Peer peer(batch, kSeed);
  for (auto _ : state)
    benchmark::DoNotOptimize(peer.train_step(data.images.data(), data.labels.data(), kLearningRate));
  SetFlopCounters(state, kTrainFlopPerSample * batch, batch);
}

template <std::size_t B>
void InferTypenet(benchmark::State& state) {
  const auto data = std::make_unique<TypenetBatch<B>>();
  const auto net = MakeTypenetLeNet();
  typenet::Matrix<float, B, 10> out;
  for (auto _ : state) {
    net->predict(data->x, out);
    benchmark::ClobberMemory();
  }
  SetFlopCounters(state, kForwardFlopPerSample * B, B);
}

template <class Peer>
void InferPeer(benchmark::State& state, int batch) {
  const Batch data(static_cast<std::size_t>(batch));
  std::vector<float> out(static_cast<std::size_t>(batch) * 10);
  Peer peer(batch, kSeed);
  for (auto _ : state) peer.infer(data.images.data(), out.data());
  SetFlopCounters(state, kForwardFlopPerSample * batch, batch);
}

template <std::size_t B>
void RegisterLeNet() {
  const std::string train = "L1/train_b" + std::to_string(B) + "/";
  benchmark::RegisterBenchmark((train + "typenet").c_str(), TrainTypenet<B>);
  benchmark::RegisterBenchmark((train + "onednn").c_str(), TrainPeer<peers::OneDnnLeNet>, int(B));
  benchmark::RegisterBenchmark((train + "libtorch").c_str(), TrainPeer<peers::TorchLeNet>, int(B));
}

template <std::size_t B>
void RegisterInference() {
  const std::string infer = "L2/infer_b" + std::to_string(B) + "/";
  benchmark::RegisterBenchmark((infer + "typenet").c_str(), InferTypenet<B>);
  benchmark::RegisterBenchmark((infer + "onednn").c_str(), InferPeer<peers::OneDnnLeNet>, int(B));
  benchmark::RegisterBenchmark((infer + "libtorch").c_str(), InferPeer<peers::TorchLeNet>, int(B));
}

// ------------------------------------------------------------------------------------------------ C1, C2

enum class Pass { forward, backward_data, backward_weights };
const char* PassName(Pass pass) {
  switch (pass) {
    case Pass::forward:
      return "fwd";
    case Pass::backward_data:
      return "bwd_data";
    case Pass::backward_weights:
      return "bwd_weights";
  }
  return "";
}

k::ConvGeometry Geometry(const peers::ConvShape& s) {
  return {std::size_t(s.in_channels),  std::size_t(s.height), std::size_t(s.width),
          std::size_t(s.out_channels), std::size_t(s.kernel), std::size_t(s.stride),
          std::size_t(s.padding)};
}

std::size_t ConvBytes(const peers::ConvShape& s) {
  return (s.x_size() + s.y_size() + s.w_size() + std::size_t(s.out_channels)) * sizeof(float);
}

using Aligned = hwy::AlignedFreeUniquePtr<float[]>;
Aligned AlignedCopy(const std::vector<float>& v, std::size_t size) {
  Aligned a = hwy::AllocateAligned<float>(std::max<std::size_t>(size, 1));
  std::fill_n(a.get(), size, 0.0f);
  std::copy(v.begin(), v.end(), a.get());
  return a;
}

// The values every implementation of a convolution row works on: x, W (uniform scaled to He-uniform's
// range), b and dy, as the peers' constructors draw them.
struct ConvData {
  std::vector<float> x, w, b, dy;
  explicit ConvData(const peers::ConvShape& s)
      : x(peers::detail::uniform(s.x_size(), 1)),
        w(peers::detail::uniform(s.w_size(), 2)),
        b(peers::detail::uniform(std::size_t(s.out_channels), 3)),
        dy(peers::detail::uniform(s.y_size(), 4)) {
    const float scale = std::sqrt(6.0f / float(s.in_channels * s.kernel * s.kernel));
    for (float& v : w) v *= scale;
  }
};

// typenet's buffers for one convolution (64-byte aligned, as typenet's matrices are).
struct TypenetConv {
  peers::ConvShape s;
  k::ConvGeometry g;
  Aligned x, w, b, dy, y, dx, dw, db, scratch;
  explicit TypenetConv(const peers::ConvShape& shape, const ConvData& d)
      : s(shape),
        g(Geometry(shape)),
        x(AlignedCopy(d.x, s.x_size())),
        w(AlignedCopy(d.w, s.w_size())),
        b(AlignedCopy(d.b, std::size_t(s.out_channels))),
        dy(AlignedCopy(d.dy, s.y_size())),
        y(AlignedCopy({}, s.y_size())),
        dx(AlignedCopy({}, s.x_size())),
        dw(AlignedCopy({}, s.w_size())),
        db(AlignedCopy({}, std::size_t(s.out_channels))),
        scratch(AlignedCopy({}, g.scratch_size())) {}
  void run(Pass pass) {
    const std::size_t rows = std::size_t(s.batch);
    switch (pass) {
      case Pass::forward:
        k::conv2d_forward(x.get(), w.get(), b.get(), y.get(), rows, g, k::Activation::relu, scratch.get());
        break;
      case Pass::backward_data:
        k::conv2d_backward_input(dy.get(), w.get(), dx.get(), rows, g, scratch.get());
        break;
      case Pass::backward_weights:
        k::conv2d_backward_params(x.get(), dy.get(), dw.get(), db.get(), rows, g, scratch.get());
        break;
    }
  }
};

template <class Peer>
void RunPeer(Peer& peer, Pass pass) {
  switch (pass) {
    case Pass::forward:
      peer.forward();
      break;
    case Pass::backward_data:
      peer.backward_data();
      break;
    case Pass::backward_weights:
      peer.backward_weights();
      break;
  }
}

void SetConvCounters(benchmark::State& state, const peers::ConvShape& s) {
  SetFlopCounters(state, 2 * s.macs());
  const double bytes = double(ConvBytes(s));
  state.counters["GBs"] = benchmark::Counter(bytes * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_bw"] =
      benchmark::Counter(bytes / g_stream_bytes_per_s * 100, benchmark::Counter::kIsIterationInvariantRate);
}

void ConvTypenetRow(benchmark::State& state, peers::ConvShape s, Pass pass) {
  const ConvData data(s);
  TypenetConv conv(s, data);
  for (auto _ : state) {
    conv.run(pass);
    benchmark::ClobberMemory();
  }
  SetConvCounters(state, s);
}

template <class Peer>
void ConvPeerRow(benchmark::State& state, peers::ConvShape s, Pass pass) {
  const ConvData data(s);
  Peer peer(s);
  peer.set_data(data.x.data(), data.w.data(), data.b.data(), data.dy.data());
  for (auto _ : state) RunPeer(peer, pass);
  SetConvCounters(state, s);
}

void RegisterConv(const char* layer, const peers::ConvShape& s) {
  for (Pass pass : {Pass::forward, Pass::backward_data, Pass::backward_weights}) {
    const std::string name = std::string(layer) + "/" + PassName(pass) + "_b" + std::to_string(s.batch) + "/";
    benchmark::RegisterBenchmark((name + "typenet").c_str(), ConvTypenetRow, s, pass);
    benchmark::RegisterBenchmark((name + "onednn").c_str(), ConvPeerRow<peers::OneDnnConv>, s, pass);
    benchmark::RegisterBenchmark((name + "libtorch").c_str(), ConvPeerRow<peers::TorchConv>, s, pass);
  }
}

// ------------------------------------------------------------------------------------------------ stream

void StreamCopy(const Aligned& from, const Aligned& to, std::size_t floats) {
  std::memcpy(to.get(), from.get(), floats * sizeof(float));
  benchmark::ClobberMemory();
}

struct CopyBuffers {
  Aligned from, to;
  explicit CopyBuffers(std::size_t floats)
      : from(AlignedCopy(std::vector<float>(floats, 1.0f), floats)), to(AlignedCopy({}, floats)) {
    benchmark::DoNotOptimize(to.get());
  }
};

// glibc's memcpy: at 64 MiB it streams with non-temporal stores, so read + write is the memory traffic.
void BM_StreamCopy(benchmark::State& state, std::size_t floats) {
  const CopyBuffers buffers(floats);
  for (auto _ : state) StreamCopy(buffers.from, buffers.to, floats);
  state.counters["GBs"] = benchmark::Counter(2.0 * double(floats * sizeof(float)) * 1e-9,
                                             benchmark::Counter::kIsIterationInvariantRate);
}

constexpr std::size_t kStreamFloats = std::size_t(64) << 20 >> 2;  // 64 MiB per array

// Best of a few copies (after one to fault the pages in), as the FMA peak is measured.
void MeasureStreamCopy() {
  const CopyBuffers buffers(kStreamFloats);
  double best = 0;
  for (int i = 0; i < 11; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    StreamCopy(buffers.from, buffers.to, kStreamFloats);
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    if (i > 0) best = std::max(best, 2.0 * double(kStreamFloats * sizeof(float)) / s);
  }
  g_stream_bytes_per_s = best;
  benchmark::AddCustomContext("stream_copy_64MiB_gbs", std::to_string(best * 1e-9));
}

// ------------------------------------------------------------------------------------------------ checks

// max |a - b| / max |b|: how far an implementation's values are from typenet's (b).
double RelativeDiff(const std::vector<float>& a, const float* b, std::size_t n) {
  double diff = 0, scale = 1e-30;
  for (std::size_t i = 0; i < n; ++i) {
    diff = std::max(diff, double(std::abs(a[i] - b[i])));
    scale = std::max(scale, double(std::abs(b[i])));
  }
  return diff / scale;
}

constexpr double kTolerance = 1e-4;  // relative, in float over sums of up to 150 x 3200 products
bool g_mismatch = false;

std::string Format(const char* what, double value) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%s %.1e", what, value);
  if (value > kTolerance) g_mismatch = true;
  return buf;
}

template <class Peer>
std::string CheckConvPeer(const char* peer_name, const peers::ConvShape& s, const ConvData& data,
                          const TypenetConv& t) {
  Peer peer(s);
  peer.set_data(data.x.data(), data.w.data(), data.b.data(), data.dy.data());
  peer.forward();
  peer.backward_data();
  peer.backward_weights();
  std::vector<float> y(s.y_size()), dx(s.x_size()), dw(s.w_size()), db(std::size_t(s.out_channels));
  peer.get_y(y.data());
  peer.get_dx(dx.data());
  peer.get_dw(dw.data());
  peer.get_db(db.data());
  return std::string(peer_name) + ": " + Format("y", RelativeDiff(y, t.y.get(), y.size())) + ", " +
         Format("dx", RelativeDiff(dx, t.dx.get(), dx.size())) + ", " +
         Format("dW", RelativeDiff(dw, t.dw.get(), dw.size())) + ", " +
         Format("db", RelativeDiff(db, t.db.get(), db.size())) + " [" + peer.info() + "]";
}

void CheckConv(const char* layer, const peers::ConvShape& s) {
  const ConvData data(s);
  TypenetConv t(s, data);
  for (Pass pass : {Pass::forward, Pass::backward_data, Pass::backward_weights}) t.run(pass);
  benchmark::AddCustomContext(
      std::string("check_") + layer + "_b" + std::to_string(s.batch),
      "relative to typenet: " + CheckConvPeer<peers::OneDnnConv>("onednn", s, data, t) + "; " +
          CheckConvPeer<peers::TorchConv>("libtorch", s, data, t));
}

// Two training steps from the same weights (the losses before each), then the probabilities.
template <std::size_t B>
void CheckLeNet() {
  constexpr int kSteps = 2;
  const auto tb = std::make_unique<TypenetBatch<B>>();
  const auto net = MakeTypenetLeNet();
  typenet::Trainer trainer(*net, typenet::SGD{.learning_rate = kLearningRate},
                           typenet::TrainerOptions{.reserve_rows = B});
  std::vector<float> losses;
  for (int i = 0; i < kSteps; ++i) losses.push_back(trainer.step(tb->x, tb->y));
  typenet::Matrix<float, B, 10> probs;
  net->predict(tb->x, probs);

  std::string text = "typenet loss";
  for (float l : losses) {
    text += ' ';  // (not " " + std::to_string(l): g++ 12's -Wrestrict false positive)
    text += std::to_string(l);
  }
  auto peer = [&](auto* tag, const char* name) {
    using Peer = std::remove_pointer_t<decltype(tag)>;
    const Batch data(B);
    Peer p(static_cast<int>(B), kSeed);
    double loss_diff = 0;
    for (int i = 0; i < kSteps; ++i) {
      const float l = p.train_step(data.images.data(), data.labels.data(), kLearningRate);
      loss_diff = std::max(loss_diff, double(std::abs(l - losses[std::size_t(i)]) / losses[std::size_t(i)]));
    }
    std::vector<float> out(B * 10);
    p.infer(data.images.data(), out.data());
    text += std::string("; ") + name + ": " + Format("loss", loss_diff) + ", " +
            Format("probabilities", RelativeDiff(out, probs.data(), out.size())) + " [" + p.info() + "]";
  };
  peer(static_cast<peers::OneDnnLeNet*>(nullptr), "onednn");
  peer(static_cast<peers::TorchLeNet*>(nullptr), "libtorch");
  benchmark::AddCustomContext("check_lenet_b" + std::to_string(B), text);
}

}  // namespace

int main(int argc, char** argv) {
  typenet_bench::MeasureFmaPeak();
  MeasureStreamCopy();

  const peers::ConvShape c1_b32{32, 1, 6, 28, 28, 5, 1, 2}, c2_b32{32, 6, 16, 14, 14, 5, 1, 0},
      c2_b128{128, 6, 16, 14, 14, 5, 1, 0};
  CheckConv("C1", c1_b32);
  CheckConv("C2", c2_b32);
  CheckLeNet<1>();
  CheckLeNet<32>();
  if (g_mismatch)
    std::fprintf(stderr,
                 "typenet_bench_cnn: an implementation differs from typenet by more than %.0e "
                 "(see the check_* context lines)\n",
                 kTolerance);
  benchmark::AddCustomContext("check", g_mismatch ? "MISMATCH" : "all implementations agree");

  typenet_bench::RegisterFmaProbe();
  benchmark::RegisterBenchmark("peak/stream_copy/64MiB/memcpy", BM_StreamCopy, kStreamFloats);
  const std::size_t c1_floats = ConvBytes(c1_b32) / sizeof(float) / 2;  // from + to = C1 b32's buffers
  benchmark::RegisterBenchmark(
      ("peak/stream_copy/" + std::to_string(c1_floats * sizeof(float) >> 10) + "KiB/memcpy").c_str(),
      BM_StreamCopy, c1_floats);

  RegisterLeNet<1>();
  RegisterLeNet<32>();
  RegisterLeNet<128>();
  RegisterInference<1>();
  RegisterInference<256>();
  RegisterConv("C1", c1_b32);
  RegisterConv("C2", c2_b32);
  RegisterConv("C2", c2_b128);

  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}

// The one-core FMA peak probe shared by the benchmark binaries (typenet_bench, typenet_bench_cnn).
//
//   MeasureFmaPeak() in main(), before the benchmarks run: sets g_peak_flops (best of a few short probes) and
//                    adds the fma_peak_gflops, fma_probe_isa and fma_probe_lanes context lines;
//   RegisterFmaProbe(): the probe as a benchmark row of its own, "peak/fma/1core/probe";
//   SetFlopCounters(state, flops, samples): GFLOPs, pct_peak (% of g_peak_flops) and samples_per_s counters.
//
// The probe is compiled for the including binary's static target, so that binary needs -march=native (and,
// with Highway 1.0.3, HWY_WANT_AVX3_DL; see bench/CMakeLists.txt).
#pragma once

#include <benchmark/benchmark.h>

#include <algorithm>
#include <chrono>
#include <cstddef>
#include <fstream>
#include <string>

#include <hwy/highway.h>

namespace typenet_bench {

inline double g_peak_flops = 1;  // FLOP/s of one core, measured by MeasureFmaPeak()

// 12 independent FMA chains (latency 4 x 2 FMA pipes = 8 needed; 12 leaves slack), compiled for this
// machine's static target: FLOP/s = 2 x lanes x 12 per iteration. Every chain starts from a different,
// opaque value: with equal starts the compiler proves the chains equal and keeps ONE (a 4-cycle latency
// chain whose time, counted as 12 chains, happened to look like a plausible peak).
inline HWY_NOINLINE float FmaProbe(std::size_t iterations) {
  namespace hn = hwy::HWY_NAMESPACE;
  const hn::ScalableTag<float> d;
  using V = hn::Vec<decltype(d)>;
  float start[12], mul = 0.999999f, add = 1e-7f;
  for (int i = 0; i < 12; ++i) start[i] = 1.0f + 0.01f * float(i);
  benchmark::DoNotOptimize(iterations);  // keeps the compiler from evaluating or hoisting the probe
  benchmark::DoNotOptimize(start);
  benchmark::DoNotOptimize(mul);
  benchmark::DoNotOptimize(add);
  V a0 = hn::Set(d, start[0]), a1 = hn::Set(d, start[1]), a2 = hn::Set(d, start[2]),
    a3 = hn::Set(d, start[3]), a4 = hn::Set(d, start[4]), a5 = hn::Set(d, start[5]),
    a6 = hn::Set(d, start[6]), a7 = hn::Set(d, start[7]), a8 = hn::Set(d, start[8]),
    a9 = hn::Set(d, start[9]), a10 = hn::Set(d, start[10]), a11 = hn::Set(d, start[11]);
  const V m = hn::Set(d, mul), c = hn::Set(d, add);
  for (std::size_t i = 0; i < iterations; ++i) {
    a0 = hn::MulAdd(a0, m, c), a1 = hn::MulAdd(a1, m, c), a2 = hn::MulAdd(a2, m, c),
    a3 = hn::MulAdd(a3, m, c);
    a4 = hn::MulAdd(a4, m, c), a5 = hn::MulAdd(a5, m, c), a6 = hn::MulAdd(a6, m, c),
    a7 = hn::MulAdd(a7, m, c);
    a8 = hn::MulAdd(a8, m, c), a9 = hn::MulAdd(a9, m, c), a10 = hn::MulAdd(a10, m, c);
    a11 = hn::MulAdd(a11, m, c);
  }
  const V s = hn::Add(
      hn::Add(hn::Add(a0, a1), hn::Add(a2, a3)),
      hn::Add(hn::Add(hn::Add(a4, a5), hn::Add(a6, a7)), hn::Add(hn::Add(a8, a9), hn::Add(a10, a11))));
  return hn::GetLane(s);
}

inline double FmaFlopsPerIteration() {
  namespace hn = hwy::HWY_NAMESPACE;
  return 2.0 * 12 * hn::Lanes(hn::ScalableTag<float>());
}

inline void BM_FmaPeak(benchmark::State& state) {
  constexpr std::size_t kIterations = 1 << 16;
  for (auto _ : state) benchmark::DoNotOptimize(FmaProbe(kIterations));
  const double flops = FmaFlopsPerIteration() * kIterations;
  state.counters["GFLOPs"] = benchmark::Counter(flops * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_peak"] =
      benchmark::Counter(flops / g_peak_flops * 100, benchmark::Counter::kIsIterationInvariantRate);
}

inline void RegisterFmaProbe() {
  benchmark::RegisterBenchmark("peak/fma/1core/probe", BM_FmaPeak);
}

// The CPU's name as /proc/cpuinfo gives it (every figure is named with its CPU), or "unknown".
inline std::string CpuModel() {
  std::ifstream cpuinfo("/proc/cpuinfo");
  for (std::string line; std::getline(cpuinfo, line);)
    if (line.rfind("model name", 0) == 0 && line.find(':') != std::string::npos)
      return line.substr(line.find(':') + 2);
  return "unknown";
}

// The peak: best of a few 0.05 s probes.
inline void MeasureFmaPeak() {
  namespace hn = hwy::HWY_NAMESPACE;
  constexpr std::size_t kIterations = 1 << 22;
  double best = 0;
  for (int i = 0; i < 5; ++i) {
    const auto t0 = std::chrono::steady_clock::now();
    benchmark::DoNotOptimize(FmaProbe(kIterations));
    const double s = std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    best = std::max(best, FmaFlopsPerIteration() * kIterations / s);
  }
  g_peak_flops = best;
  benchmark::AddCustomContext("fma_peak_gflops", std::to_string(best * 1e-9));
  // What the probe ran: its vector width and ISA (the static -march=native target). On AVX2 one core's
  // peak is 2 FMA pipes x 8 lanes x 2 FLOP = 32 FLOP/cycle, so probe GFLOP/s / 32 is the core clock in GHz.
  benchmark::AddCustomContext("fma_probe_isa", hwy::TargetName(HWY_STATIC_TARGET));
  benchmark::AddCustomContext("fma_probe_lanes", std::to_string(hn::Lanes(hn::ScalableTag<float>())));
  benchmark::AddCustomContext("cpu_model", CpuModel());
}

inline void SetFlopCounters(benchmark::State& state, double flops_per_iteration,
                            double samples_per_iteration = 0) {
  state.counters["GFLOPs"] =
      benchmark::Counter(flops_per_iteration * 1e-9, benchmark::Counter::kIsIterationInvariantRate);
  state.counters["pct_peak"] = benchmark::Counter(flops_per_iteration / g_peak_flops * 100,
                                                  benchmark::Counter::kIsIterationInvariantRate);
  if (samples_per_iteration > 0)
    state.counters["samples_per_s"] =
        benchmark::Counter(samples_per_iteration, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace typenet_bench

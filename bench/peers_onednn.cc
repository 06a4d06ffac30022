// oneDNN peers of the CNN benchmark (see peers.hpp). Written against oneDNN's v2 API as Debian 12 ships it
// (libdnnl 2.6): operation descriptors (convolution_forward::desc, ...) turned into primitive descriptors.
//
// The way a user after speed drives oneDNN: primitive descriptors are created with format_tag::any, so each
// primitive picks its own (blocked) layout; parameters are reordered into those layouts once, in the
// constructor; a reorder is created (once) wherever one primitive's output layout is not what the next one
// wants. Bias and ReLU are fused into convolution and inner product as post-ops; the ReLU's backward is an
// eltwise_backward on the layer's output (relu_use_dst_for_bwd). The scratchpad is user-managed (one buffer
// shared by every primitive) and the argument arrays are prebuilt, so the timed calls only execute.
//
// `any` is not always best for a convolution: with 1 or 6 channels the blocked layouts it picks pad the
// channels to 16, and conv1's backward data then runs ~5x slower than on plain NCHW. So each convolution
// primitive is chosen among a few layout requests (any; the layouts its neighbours already use; plain NCHW)
// by timing each candidate, with the reorders it needs, a few times in the constructor (Runner::fastest).
#include "peers.hpp"

#include <oneapi/dnnl/dnnl.hpp>

#include <algorithm>
#include <chrono>
#include <cmath>
#include <cstddef>
#include <cstdio>
#include <limits>
#include <numeric>
#include <stdexcept>
#include <string>
#include <utility>
#include <vector>

#if DNNL_VERSION_MAJOR != 2
#error \
    "peers_onednn.cc is written against oneDNN's v2 API (operation descriptors); this is another major version"
#endif

#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
// oneDNN's thread count is then OpenMP's. Weak, so that the benchmark needs no OpenMP flag of its own: the
// OpenMP runtime that libdnnl was linked with is loaded with it and this resolves to that one.
extern "C" void omp_set_num_threads(int) __attribute__((weak));
#endif

namespace peers {
namespace {

using dt = dnnl::memory::data_type;
using tag = dnnl::memory::format_tag;
using dims = dnnl::memory::dims;
using md = dnnl::memory::desc;
using dnnl::algorithm;
using dnnl::prop_kind;

void single_thread() {
#if DNNL_CPU_RUNTIME == DNNL_RUNTIME_OMP
  if (omp_set_num_threads) omp_set_num_threads(1);
#endif
}

md plain(const dims& d, tag t) {
  return md(d, dt::f32, t);
}
md any(const dims& d) {
  return md(d, dt::f32, tag::any);
}
md nchw(const dims& d) {
  return md(d, dt::f32, tag::nchw);
}

// A user-managed scratchpad, and the activation `post_op` fused after the primitive (undef: none).
dnnl::primitive_attr attributes_with(algorithm post_op) {
  dnnl::primitive_attr attr;
  attr.set_scratchpad_mode(dnnl::scratchpad_mode::user);
  if (post_op != algorithm::undef) {
    dnnl::post_ops ops;
    ops.append_eltwise(1.0f, post_op, 0.0f, 0.0f);
    attr.set_post_ops(ops);
  }
  return attr;
}
dnnl::primitive_attr attributes(bool relu) {
  return attributes_with(relu ? algorithm::eltwise_relu : algorithm::undef);
}

bool is_reference(const dnnl::primitive_desc_base& pd) {
  return std::string(pd.impl_info_str()).find("ref") != std::string::npos;
}

// oneDNN's name of a blocked layout: dimensions outermost first, a capital for a blocked one, then the inner
// blocks ("aBcd16b" is nChw16c, "abcd" plain NCHW).
std::string layout(const md& d) {
  const dnnl_memory_desc_t& c = d.data;
  if (c.format_kind != dnnl_blocked) return "?";
  const dnnl_blocking_desc_t& b = c.format_desc.blocking;
  std::vector<int> order(std::size_t(c.ndims));
  std::iota(order.begin(), order.end(), 0);
  std::stable_sort(order.begin(), order.end(), [&b](int i, int j) { return b.strides[i] > b.strides[j]; });
  std::string s;
  for (int i : order) {
    bool blocked = false;
    for (int k = 0; k < b.inner_nblks; ++k) blocked = blocked || b.inner_idxs[k] == i;
    s += char((blocked ? 'A' : 'a') + i);
  }
  for (int k = 0; k < b.inner_nblks; ++k) s += std::to_string(b.inner_blks[k]) + char('a' + b.inner_idxs[k]);
  return s;
}

void check(dnnl_status_t status) {
  if (status != dnnl_success) throw std::runtime_error("oneDNN primitive execution failed");
}

// Programs (lists of primitives run in order on one stream) with their C argument arrays prebuilt: the C++
// primitive::execute builds a std::vector from an unordered_map on every call. One scratchpad serves them all.
class Runner {
 public:
  Runner() : engine_(dnnl::engine::kind::cpu, 0), stream_(engine_) {}

  const dnnl::engine& engine() const { return engine_; }
  dnnl::memory memory(const md& d) const { return dnnl::memory(d, engine_); }
  // A memory whose buffer the caller sets before each run (set_data_handle): the user's images, the output.
  // It has a buffer of its own until then, for the candidates that fastest() times.
  dnnl::memory user_memory(const md& d) const { return dnnl::memory(d, engine_); }

  int program() {
    programs_.emplace_back();
    return int(programs_.size()) - 1;
  }

  void add(int program, const dnnl::primitive& primitive, const dnnl::primitive_desc_base& pd,
           std::string name, std::vector<std::pair<int, dnnl::memory>> args) {
    programs_[std::size_t(program)].push_back(Op{primitive,
                                                 pd.scratchpad_desc(),
                                                 std::move(name) + "[" + pd.impl_info_str() + "]",
                                                 std::move(args),
                                                 {}});
  }

  // `have`'s data in layout `want`: `have` itself, or a new buffer filled by a reorder appended to `program`.
  dnnl::memory ensure(int program, const dnnl::memory& have, const md& want) {
    if (have.get_desc() == want) return have;
    dnnl::memory converted = memory(want);
    dnnl::reorder::primitive_desc pd(have, converted, attributes(false));
    add(program, dnnl::reorder(pd), pd, "reorder " + layout(have.get_desc()) + "->" + layout(want),
        {{DNNL_ARG_FROM, have}, {DNNL_ARG_TO, converted}});
    return converted;
  }

  // Appends to `program` the fastest of `count` candidates. build(k, p, trial) appends candidate k's
  // primitives (and the reorders it needs) to program p, or returns false where candidate k does not exist or
  // lands on a reference implementation. Each candidate is built into a scratch program (trial = true) and
  // timed; the winner is then built again into `program` (trial = false), so what build leaves in the
  // variables it captures is the winner's.
  template <class Build>
  void fastest(int program, int count, const std::string& name, Build&& build) {
    double best = std::numeric_limits<double>::infinity();
    int winner = -1;
    std::string times;
    for (int k = 0; k < count; ++k) {
      const int trial = this->program();
      bool ok = false;
      try {
        ok = build(k, trial, true);
      } catch (const dnnl::error&) {
        ok = false;
      }
      const double us = ok ? time_program(trial) : 0.0;
      programs_.pop_back();
      char buf[32];
      std::snprintf(buf, sizeof buf, "%s%.0f", k ? "/" : "", us);
      times += ok ? buf : (k ? "/-" : "-");
      if (ok && us < best) best = us, winner = k;
    }
    if (winner < 0) throw std::runtime_error("oneDNN peer: no implementation for " + name);
    build(winner, program, false);
    tuning_ += name + ": candidate " + std::to_string(winner) + " (us " + times + "); ";
  }

  // After the last add: the shared scratchpad and the argument arrays.
  void finalize() {
    std::size_t bytes = 0;
    for (auto& program : programs_)
      for (Op& op : program) bytes = std::max(bytes, op.scratchpad.get_size());
    if (bytes != 0) scratchpad_ = memory(md({dnnl::memory::dim(bytes)}, dt::u8, tag::x));
    for (auto& program : programs_)
      for (Op& op : program) op.c_args = c_args(op, scratchpad_);
  }

  void run(int program) {
    for (Op& op : programs_[std::size_t(program)])
      check(
          dnnl_primitive_execute(op.primitive.get(), stream_.get(), int(op.c_args.size()), op.c_args.data()));
    stream_.wait();
  }

  // Untimed copies between a plain user buffer and a memory in any layout.
  void load(dnnl::memory to, const md& plain_desc, const float* from) {
    dnnl::memory user(plain_desc, engine_, const_cast<float*>(from));
    dnnl::reorder(user, to).execute(stream_, user, to);
    stream_.wait();
  }
  void store(dnnl::memory from, const md& plain_desc, float* to) {
    dnnl::memory user(plain_desc, engine_, to);
    dnnl::reorder(from, user).execute(stream_, from, user);
    stream_.wait();
  }

  std::string describe(int program, const char* title) const {
    std::string s = std::string(title) + ":";
    for (const Op& op : programs_[std::size_t(program)]) s += " " + op.name;
    return s;
  }
  const std::string& tuning() const { return tuning_; }

 private:
  struct Op {
    dnnl::primitive primitive;
    md scratchpad;
    std::string name;
    std::vector<std::pair<int, dnnl::memory>> args;
    std::vector<dnnl_exec_arg_t> c_args;
  };

  std::vector<dnnl_exec_arg_t> c_args(Op& op, const dnnl::memory& scratchpad) {
    std::vector<dnnl_exec_arg_t> args;
    for (auto& [key, mem] : op.args) args.push_back(dnnl_exec_arg_t{key, mem.get()});
    if (op.scratchpad.get_size() != 0) {
      views_.emplace_back(op.scratchpad, engine_, scratchpad.get_data_handle());
      args.push_back(dnnl_exec_arg_t{DNNL_ARG_SCRATCHPAD, views_.back().get()});
    }
    return args;
  }

  // Best of 5 runs after 2 warm-ups, microseconds.
  double time_program(int program) {
    std::vector<Op>& ops = programs_[std::size_t(program)];
    std::size_t bytes = 0;
    for (Op& op : ops) bytes = std::max(bytes, op.scratchpad.get_size());
    const dnnl::memory scratchpad =
        bytes ? memory(md({dnnl::memory::dim(bytes)}, dt::u8, tag::x)) : dnnl::memory();
    for (Op& op : ops) op.c_args = c_args(op, scratchpad);
    double best = std::numeric_limits<double>::infinity();
    for (int rep = 0; rep < 7; ++rep) {
      const auto start = std::chrono::steady_clock::now();
      run(program);
      const double us =
          std::chrono::duration<double, std::micro>(std::chrono::steady_clock::now() - start).count();
      if (rep >= 2) best = std::min(best, us);
    }
    return best;
  }

  dnnl::engine engine_;
  dnnl::stream stream_;
  std::vector<std::vector<Op>> programs_;
  dnnl::memory scratchpad_;
  std::vector<dnnl::memory> views_;  // the scratchpad as each primitive's scratchpad_desc sees it
  std::string tuning_;
};

struct Conv {
  dnnl::convolution_forward::primitive_desc pd;
  dims strides, padding;
};

Conv conv_forward_pd(const Runner& r, prop_kind kind, const md& src, const md& weights, const md& bias,
                     const md& dst, int stride, int padding, bool relu) {
  dims s{stride, stride}, p{padding, padding};
  dnnl::convolution_forward::desc d(kind, algorithm::convolution_direct, src, weights, bias, dst, s, p, p);
  return Conv{dnnl::convolution_forward::primitive_desc(d, attributes(relu), r.engine()), s, p};
}

// A convolution + bias + ReLU layer's forward, appended to `program`: y = relu(conv(in) + b). Its source is
// asked for in `any` layout or in the one `in` already has (no reorder), whichever runs faster; the output
// layout is the primitive's choice. weights(layout, trial) gives the weights in the layout the primitive
// wants (trial: for timing only).
struct ConvLayer {
  Conv c;
  dnnl::memory x;  // the source as the primitive reads it (`in`, or its reorder)
  dnnl::memory w;
  dnnl::memory y;
};
template <class Weights>
ConvLayer conv_layer(Runner& r, int program, prop_kind kind, const dnnl::memory& in, const dims& w_dims,
                     const dnnl::memory& bias, const dims& out, int stride, int padding, Weights&& weights,
                     const std::string& name) {
  ConvLayer layer;
  const md candidates[] = {any(in.get_desc().dims()), in.get_desc()};
  r.fastest(program, 2, name, [&](int k, int p, bool trial) {
    layer.c = conv_forward_pd(r, kind, candidates[k], any(w_dims), bias.get_desc(), any(out), stride, padding,
                              true);
    if (is_reference(layer.c.pd)) return false;
    layer.x = r.ensure(p, in, layer.c.pd.src_desc());
    layer.w = weights(layer.c.pd.weights_desc(), trial);
    layer.y = r.memory(layer.c.pd.dst_desc());
    r.add(p, dnnl::convolution_forward(layer.c.pd), layer.c.pd, name,
          {{DNNL_ARG_SRC, layer.x},
           {DNNL_ARG_WEIGHTS, layer.w},
           {DNNL_ARG_BIAS, bias},
           {DNNL_ARG_DST, layer.y}});
    return true;
  });
  return layer;
}

// dx (in layout dx_layout) = backward data of dy through c with weights w. Candidates for the primitive's
// (diff_src, diff_dst) layouts: (any, any), (dx_layout, dy's: no reorders), (NCHW, any), (NCHW, NCHW).
dnnl::memory conv_backward_data(Runner& r, int program, const Conv& c, const dnnl::memory& w,
                                const dnnl::memory& dy, const md& dx_layout, const std::string& name) {
  const dims xd = c.pd.src_desc().dims(), yd = c.pd.dst_desc().dims();
  const md candidates[][2] = {
      {any(xd), any(yd)}, {dx_layout, dy.get_desc()}, {nchw(xd), any(yd)}, {nchw(xd), nchw(yd)}};
  dnnl::memory dx;
  r.fastest(program, 4, name + " bwd data", [&](int k, int p, bool) {
    dnnl::convolution_backward_data::desc d(algorithm::convolution_direct, candidates[k][0],
                                            any(c.pd.weights_desc().dims()), candidates[k][1], c.strides,
                                            c.padding, c.padding);
    dnnl::convolution_backward_data::primitive_desc pd(d, attributes(false), r.engine(), c.pd);
    if (k > 0 && is_reference(pd)) return false;
    const dnnl::memory wb = r.ensure(p, w, pd.weights_desc());
    const dnnl::memory dyb = r.ensure(p, dy, pd.diff_dst_desc());
    const dnnl::memory raw = r.memory(pd.diff_src_desc());
    r.add(p, dnnl::convolution_backward_data(pd), pd, name + " bwd data",
          {{DNNL_ARG_DIFF_DST, dyb}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, raw}});
    dx = r.ensure(p, raw, dx_layout);
    return true;
  });
  return dx;
}

// (dW, db) in the layouts of the forward's weights and bias, from x (as the forward read it) and dy.
// Candidates for the primitive's (src, diff_dst) layouts as for backward data.
std::pair<dnnl::memory, dnnl::memory> conv_backward_weights(Runner& r, int program, const Conv& c,
                                                            const dnnl::memory& x, const dnnl::memory& dy,
                                                            const std::string& name) {
  const dims xd = c.pd.src_desc().dims(), yd = c.pd.dst_desc().dims();
  const md candidates[][2] = {
      {any(xd), any(yd)}, {x.get_desc(), dy.get_desc()}, {nchw(xd), any(yd)}, {nchw(xd), nchw(yd)}};
  std::pair<dnnl::memory, dnnl::memory> grads;
  r.fastest(program, 4, name + " bwd weights", [&](int k, int p, bool) {
    dnnl::convolution_backward_weights::desc d(algorithm::convolution_direct, candidates[k][0],
                                               any(c.pd.weights_desc().dims()), any(c.pd.bias_desc().dims()),
                                               candidates[k][1], c.strides, c.padding, c.padding);
    dnnl::convolution_backward_weights::primitive_desc pd(d, attributes(false), r.engine(), c.pd);
    if (k > 0 && is_reference(pd)) return false;
    const dnnl::memory xb = r.ensure(p, x, pd.src_desc());
    const dnnl::memory dyb = r.ensure(p, dy, pd.diff_dst_desc());
    const dnnl::memory dw = r.memory(pd.diff_weights_desc()), db = r.memory(pd.diff_bias_desc());
    r.add(p, dnnl::convolution_backward_weights(pd), pd, name + " bwd weights",
          {{DNNL_ARG_SRC, xb},
           {DNNL_ARG_DIFF_DST, dyb},
           {DNNL_ARG_DIFF_WEIGHTS, dw},
           {DNNL_ARG_DIFF_BIAS, db}});
    grads = {r.ensure(p, dw, c.pd.weights_desc()), r.ensure(p, db, c.pd.bias_desc())};
    return true;
  });
  return grads;
}

dnnl::inner_product_forward::primitive_desc linear_forward(const Runner& r, prop_kind kind, const md& src,
                                                           const md& weights, const md& bias, const md& dst,
                                                           algorithm activation) {
  dnnl::inner_product_forward::desc d(kind, src, weights, bias, dst);
  return dnnl::inner_product_forward::primitive_desc(d, attributes_with(activation), r.engine());
}
dnnl::inner_product_forward::primitive_desc linear_forward(const Runner& r, prop_kind kind, const md& src,
                                                           const md& weights, const md& bias, const md& dst,
                                                           bool relu) {
  return linear_forward(r, kind, src, weights, bias, dst, relu ? algorithm::eltwise_relu : algorithm::undef);
}

dnnl::memory linear_backward_data(Runner& r, int program,
                                  const dnnl::inner_product_forward::primitive_desc& f, const dnnl::memory& w,
                                  const dnnl::memory& dy, const md& dx_layout, const std::string& name) {
  dnnl::inner_product_backward_data::desc d(any(f.src_desc().dims()), any(f.weights_desc().dims()),
                                            any(f.dst_desc().dims()));
  dnnl::inner_product_backward_data::primitive_desc pd(d, attributes(false), r.engine(), f);
  const dnnl::memory wb = r.ensure(program, w, pd.weights_desc());
  const dnnl::memory dyb = r.ensure(program, dy, pd.diff_dst_desc());
  const dnnl::memory dx = r.memory(pd.diff_src_desc());
  r.add(program, dnnl::inner_product_backward_data(pd), pd, name + " bwd data",
        {{DNNL_ARG_DIFF_DST, dyb}, {DNNL_ARG_WEIGHTS, wb}, {DNNL_ARG_DIFF_SRC, dx}});
  return r.ensure(program, dx, dx_layout);
}

std::pair<dnnl::memory, dnnl::memory> linear_backward_weights(
    Runner& r, int program, const dnnl::inner_product_forward::primitive_desc& f, const dnnl::memory& x,
    const dnnl::memory& dy, const std::string& name) {
  dnnl::inner_product_backward_weights::desc d(any(f.src_desc().dims()), any(f.weights_desc().dims()),
                                               any(f.bias_desc().dims()), any(f.dst_desc().dims()));
  dnnl::inner_product_backward_weights::primitive_desc pd(d, attributes(false), r.engine(), f);
  const dnnl::memory xb = r.ensure(program, x, pd.src_desc());
  const dnnl::memory dyb = r.ensure(program, dy, pd.diff_dst_desc());
  const dnnl::memory dw = r.memory(pd.diff_weights_desc()), db = r.memory(pd.diff_bias_desc());
  r.add(
      program, dnnl::inner_product_backward_weights(pd), pd, name + " bwd weights",
      {{DNNL_ARG_SRC, xb}, {DNNL_ARG_DIFF_DST, dyb}, {DNNL_ARG_DIFF_WEIGHTS, dw}, {DNNL_ARG_DIFF_BIAS, db}});
  return {r.ensure(program, dw, f.weights_desc()), r.ensure(program, db, f.bias_desc())};
}

// 2x2 max pooling, stride 2, over src's layout.
dnnl::pooling_forward::primitive_desc pool_forward(const Runner& r, prop_kind kind, const md& src) {
  const dims in = src.dims();
  dnnl::pooling_forward::desc d(kind, algorithm::pooling_max, src, any({in[0], in[1], in[2] / 2, in[3] / 2}),
                                {2, 2}, {2, 2}, {0, 0}, {0, 0});
  return dnnl::pooling_forward::primitive_desc(d, attributes(false), r.engine());
}

dnnl::memory pool_backward(Runner& r, int program, const dnnl::pooling_forward::primitive_desc& f,
                           const dnnl::memory& workspace, const dnnl::memory& dy, const md& dx_layout,
                           const std::string& name) {
  dnnl::pooling_backward::desc d(algorithm::pooling_max, f.src_desc(), f.dst_desc(), {2, 2}, {2, 2}, {0, 0},
                                 {0, 0});
  dnnl::pooling_backward::primitive_desc pd(d, attributes(false), r.engine(), f);
  const dnnl::memory dyb = r.ensure(program, dy, pd.diff_dst_desc());
  const dnnl::memory dx = r.memory(pd.diff_src_desc());
  r.add(program, dnnl::pooling_backward(pd), pd, name + " bwd",
        {{DNNL_ARG_DIFF_DST, dyb}, {DNNL_ARG_WORKSPACE, workspace}, {DNNL_ARG_DIFF_SRC, dx}});
  return r.ensure(program, dx, dx_layout);
}

// The gradient before a fused activation, from the layer's output y and the gradient dy after it (in y's
// layout); `kind` is a *_use_dst_for_bwd algorithm.
dnnl::memory activation_backward(Runner& r, int program, const dnnl::memory& y, const dnnl::memory& dy,
                                 algorithm kind, const std::string& name) {
  const md layout_y = y.get_desc();
  dnnl::eltwise_forward::desc hint_d(prop_kind::forward_training, kind, layout_y, 0.0f, 0.0f);
  dnnl::eltwise_forward::primitive_desc hint(hint_d, attributes(false), r.engine());
  dnnl::eltwise_backward::desc d(kind, layout_y, layout_y, 0.0f, 0.0f);
  dnnl::eltwise_backward::primitive_desc pd(d, attributes(false), r.engine(), hint);
  const dnnl::memory dyb = r.ensure(program, dy, pd.diff_dst_desc());
  const dnnl::memory dx = r.memory(pd.diff_src_desc());
  r.add(program, dnnl::eltwise_backward(pd), pd, name + " activation bwd",
        {{DNNL_ARG_DST, y}, {DNNL_ARG_DIFF_DST, dyb}, {DNNL_ARG_DIFF_SRC, dx}});
  return r.ensure(program, dx, layout_y);
}
dnnl::memory relu_backward(Runner& r, int program, const dnnl::memory& y, const dnnl::memory& dy,
                           const std::string& name) {
  return activation_backward(r, program, y, dy, algorithm::eltwise_relu_use_dst_for_bwd, name);
}

// Softmax cross-entropy over n rows of 10 logits z, mean over the rows: its gradient (softmax - one_hot) / n
// into dz, and the loss returned.
float softmax_cross_entropy(const float* z, const std::uint32_t* labels, float* dz, int n, const char* who) {
  for (int i = 0; i < n; ++i)
    if (labels[i] >= 10) throw std::out_of_range(std::string(who) + ": label past the 10 classes");
  double loss = 0.0;
  const float inv_n = 1.0f / float(n);
  for (int i = 0; i < n; ++i) {
    const float* zi = z + 10 * i;
    float* di = dz + 10 * i;
    const float m = *std::max_element(zi, zi + 10);
    float sum = 0.0f;
    for (int k = 0; k < 10; ++k) sum += (di[k] = std::exp(zi[k] - m));
    const float scale = inv_n / sum;
    for (int k = 0; k < 10; ++k) di[k] *= scale;
    di[labels[i]] -= inv_n;
    loss += double(std::log(sum) - (zi[labels[i]] - m));
  }
  return float(loss / n);
}

// w -= lr * dw over parameters whose gradient lies in the same layout.
struct Sgd {
  float* w;
  const float* dw;
  std::size_t count;
};
void apply_sgd(const std::vector<Sgd>& sgd, float lr) {
  for (const Sgd& s : sgd) {
    float* __restrict w = s.w;
    const float* __restrict g = s.dw;
    for (std::size_t k = 0; k < s.count; ++k) w[k] -= lr * g[k];
  }
}

std::string version_line() {
  const dnnl_version_t* v = dnnl_version();
  return "oneDNN " + std::to_string(v->major) + "." + std::to_string(v->minor) + "." +
         std::to_string(v->patch) + (v->cpu_runtime == DNNL_RUNTIME_OMP ? " (OpenMP)" : "");
}

}  // namespace

// ---------------------------------------------------------------------------------------------------------
// One convolution.

struct OneDnnConv::Impl {
  ConvShape s;
  Runner r;
  int fwd = 0, bwd_data = 0, bwd_weights = 0;
  Conv c;
  dnnl::memory x, w, b, y, dy, dx, dw, db;

  dims x_dims() const { return {s.batch, s.in_channels, s.height, s.width}; }
  dims w_dims() const { return {s.out_channels, s.in_channels, s.kernel, s.kernel}; }
  dims b_dims() const { return {s.out_channels}; }
  dims y_dims() const { return {s.batch, s.out_channels, s.out_height(), s.out_width()}; }

  explicit Impl(const ConvShape& shape) : s(shape) {
    single_thread();
    fwd = r.program();
    bwd_data = r.program();
    bwd_weights = r.program();
    // x has no producer here: its layout is the forward primitive's choice.
    c = conv_forward_pd(r, prop_kind::forward_training, any(x_dims()), any(w_dims()), any(b_dims()),
                        any(y_dims()), s.stride, s.padding, true);
    x = r.memory(c.pd.src_desc());
    w = r.memory(c.pd.weights_desc());
    b = r.memory(c.pd.bias_desc());
    y = r.memory(c.pd.dst_desc());
    dy = r.memory(c.pd.dst_desc());  // the next layer's gradient arrives in the layout y left in
    r.add(fwd, dnnl::convolution_forward(c.pd), c.pd, "conv+bias+relu",
          {{DNNL_ARG_SRC, x}, {DNNL_ARG_WEIGHTS, w}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}});
    const int fan_in = s.in_channels * s.kernel * s.kernel;
    std::vector<float> wv = detail::uniform(s.w_size(), 2);
    for (float& v : wv) v *= std::sqrt(6.0f / float(fan_in));  // He-uniform: keeps y in a sane range
    const std::vector<float> bv = detail::uniform(std::size_t(s.out_channels), 3);
    set_data(detail::uniform(s.x_size(), 1).data(), wv.data(), bv.data(),
             detail::uniform(s.y_size(), 4).data());
    dx = conv_backward_data(r, bwd_data, c, w, dy, x.get_desc(), "conv");
    std::tie(dw, db) = conv_backward_weights(r, bwd_weights, c, x, dy, "conv");
    r.finalize();
  }

  void set_data(const float* xv, const float* wv, const float* bv, const float* dyv) {
    r.load(x, nchw(x_dims()), xv);
    r.load(w, plain(w_dims(), tag::oihw), wv);
    r.load(b, plain(b_dims(), tag::x), bv);
    r.load(dy, nchw(y_dims()), dyv);
  }
};

OneDnnConv::OneDnnConv(const ConvShape& shape) : impl_(std::make_unique<Impl>(shape)) {}
OneDnnConv::~OneDnnConv() = default;
void OneDnnConv::forward() {
  impl_->r.run(impl_->fwd);
}
void OneDnnConv::backward_data() {
  impl_->r.run(impl_->bwd_data);
}
void OneDnnConv::backward_weights() {
  impl_->r.run(impl_->bwd_weights);
}
void OneDnnConv::set_data(const float* x, const float* w, const float* b, const float* dy) {
  impl_->set_data(x, w, b, dy);
}
void OneDnnConv::get_y(float* y) const {
  impl_->r.store(impl_->y, nchw(impl_->y_dims()), y);
}
void OneDnnConv::get_dx(float* dx) const {
  impl_->r.store(impl_->dx, nchw(impl_->x_dims()), dx);
}
void OneDnnConv::get_dw(float* dw) const {
  impl_->r.store(impl_->dw, plain(impl_->w_dims(), tag::oihw), dw);
}
void OneDnnConv::get_db(float* db) const {
  impl_->r.store(impl_->db, plain(impl_->b_dims(), tag::x), db);
}
std::string OneDnnConv::info() const {
  const Impl& i = *impl_;
  return i.r.describe(i.fwd, "forward") + "; " + i.r.describe(i.bwd_data, "backward_data") + "; " +
         i.r.describe(i.bwd_weights, "backward_weights") + "; layouts x " + layout(i.x.get_desc()) + ", W " +
         layout(i.w.get_desc()) + ", y " + layout(i.y.get_desc()) + "; tuning " + i.r.tuning();
}

// ---------------------------------------------------------------------------------------------------------
// LeNet-5.

struct OneDnnLeNet::Impl {
  int n;
  Runner r;
  int fwd = 0, bwd = 0, inf = 0, sync = 0;
  bool inference_weights_stale = true;
  dnnl::memory images_train, logits, dlogits;  // plain NCHW / N x 10
  dnnl::memory images_infer, probabilities;
  std::vector<Sgd> sgd;
  std::vector<dnnl::memory> parameters;  // keeps the buffers sgd points into alive

  // A parameter in the layout `wanted`, filled from plain values.
  dnnl::memory parameter(const md& wanted, const std::vector<float>& values, const md& plain_desc) {
    dnnl::memory m = r.memory(wanted);
    r.load(m, plain_desc, values.data());
    return m;
  }
  void add_sgd(const dnnl::memory& w, const dnnl::memory& dw) {
    sgd.push_back(Sgd{static_cast<float*>(w.get_data_handle()),
                      static_cast<const float*>(dw.get_data_handle()),
                      w.get_desc().get_size() / sizeof(float)});
    parameters.push_back(w);
    parameters.push_back(dw);
  }

  Impl(int batch, unsigned seed) : n(batch) {
    if (batch < 1) throw std::invalid_argument("OneDnnLeNet: batch must be at least 1");
    single_thread();
    const detail::LeNetWeights p = detail::lenet_init(seed);
    fwd = r.program();
    bwd = r.program();
    inf = r.program();
    sync = r.program();
    const prop_kind T = prop_kind::forward_training, I = prop_kind::forward_inference;
    const dnnl::memory::dim N = n;

    // Forward (training). A conv layer's weights are created in the layout its primitive picked; biases are
    // plain vectors (x), the layout every primitive takes them in.
    auto initial = [this](const std::vector<float>& values, const md& plain_desc) {
      return [this, &values, plain_desc](const md& wanted, bool) {
        return parameter(wanted, values, plain_desc);
      };
    };
    images_train = r.user_memory(nchw({N, 1, 28, 28}));
    const dnnl::memory b1 = parameter(plain({6}, tag::x), p.conv1_b, plain({6}, tag::x));
    const ConvLayer c1 = conv_layer(r, fwd, T, images_train, {6, 1, 5, 5}, b1, {N, 6, 28, 28}, 1, 2,
                                    initial(p.conv1_w, plain({6, 1, 5, 5}, tag::oihw)), "conv1");
    const auto q1 = pool_forward(r, T, c1.y.get_desc());
    const dnnl::memory p1 = r.memory(q1.dst_desc()), ws1 = r.memory(q1.workspace_desc());
    r.add(fwd, dnnl::pooling_forward(q1), q1, "pool1",
          {{DNNL_ARG_SRC, c1.y}, {DNNL_ARG_DST, p1}, {DNNL_ARG_WORKSPACE, ws1}});

    const dnnl::memory b2 = parameter(plain({16}, tag::x), p.conv2_b, plain({16}, tag::x));
    const ConvLayer c2 = conv_layer(r, fwd, T, p1, {16, 6, 5, 5}, b2, {N, 16, 10, 10}, 1, 0,
                                    initial(p.conv2_w, plain({16, 6, 5, 5}, tag::oihw)), "conv2");
    const auto q2 = pool_forward(r, T, c2.y.get_desc());
    const dnnl::memory p2 = r.memory(q2.dst_desc()), ws2 = r.memory(q2.workspace_desc());
    r.add(fwd, dnnl::pooling_forward(q2), q2, "pool2",
          {{DNNL_ARG_SRC, c2.y}, {DNNL_ARG_DST, p2}, {DNNL_ARG_WORKSPACE, ws2}});

    // fc1 reads the pooled 16x5x5 map as it lies (no flatten): its weights take the matching layout.
    const auto f1 =
        linear_forward(r, T, p2.get_desc(), any({120, 16, 5, 5}), any({120}), any({N, 120}), true);
    const dnnl::memory w3 = parameter(f1.weights_desc(), p.fc1_w, plain({120, 16, 5, 5}, tag::oihw));
    const dnnl::memory b3 = parameter(f1.bias_desc(), p.fc1_b, plain({120}, tag::x));
    const dnnl::memory x3 = r.ensure(fwd, p2, f1.src_desc());
    const dnnl::memory h1 = r.memory(f1.dst_desc());
    r.add(fwd, dnnl::inner_product_forward(f1), f1, "fc1",
          {{DNNL_ARG_SRC, x3}, {DNNL_ARG_WEIGHTS, w3}, {DNNL_ARG_BIAS, b3}, {DNNL_ARG_DST, h1}});

    const auto f2 = linear_forward(r, T, h1.get_desc(), any({84, 120}), any({84}), any({N, 84}), true);
    const dnnl::memory w4 = parameter(f2.weights_desc(), p.fc2_w, plain({84, 120}, tag::oi));
    const dnnl::memory b4 = parameter(f2.bias_desc(), p.fc2_b, plain({84}, tag::x));
    const dnnl::memory x4 = r.ensure(fwd, h1, f2.src_desc());
    const dnnl::memory h2 = r.memory(f2.dst_desc());
    r.add(fwd, dnnl::inner_product_forward(f2), f2, "fc2",
          {{DNNL_ARG_SRC, x4}, {DNNL_ARG_WEIGHTS, w4}, {DNNL_ARG_BIAS, b4}, {DNNL_ARG_DST, h2}});

    const auto f3 =
        linear_forward(r, T, h2.get_desc(), any({10, 84}), any({10}), plain({N, 10}, tag::nc), false);
    const dnnl::memory w5 = parameter(f3.weights_desc(), p.fc3_w, plain({10, 84}, tag::oi));
    const dnnl::memory b5 = parameter(f3.bias_desc(), p.fc3_b, plain({10}, tag::x));
    const dnnl::memory x5 = r.ensure(fwd, h2, f3.src_desc());
    logits = r.memory(f3.dst_desc());
    r.add(fwd, dnnl::inner_product_forward(f3), f3, "fc3",
          {{DNNL_ARG_SRC, x5}, {DNNL_ARG_WEIGHTS, w5}, {DNNL_ARG_BIAS, b5}, {DNNL_ARG_DST, logits}});

    // Backward: from dlogits (written by hand in train_step) to conv1's weights; conv1 needs no data gradient.
    dlogits = r.memory(plain({N, 10}, tag::nc));
    const auto [dw5, db5] = linear_backward_weights(r, bwd, f3, x5, dlogits, "fc3");
    const dnnl::memory dh2 = linear_backward_data(r, bwd, f3, w5, dlogits, h2.get_desc(), "fc3");
    const dnnl::memory dz2 = relu_backward(r, bwd, h2, dh2, "fc2");
    const auto [dw4, db4] = linear_backward_weights(r, bwd, f2, x4, dz2, "fc2");
    const dnnl::memory dh1 = linear_backward_data(r, bwd, f2, w4, dz2, h1.get_desc(), "fc2");
    const dnnl::memory dz1 = relu_backward(r, bwd, h1, dh1, "fc1");
    const auto [dw3, db3] = linear_backward_weights(r, bwd, f1, x3, dz1, "fc1");
    const dnnl::memory dp2 = linear_backward_data(r, bwd, f1, w3, dz1, p2.get_desc(), "fc1");
    const dnnl::memory da2 = pool_backward(r, bwd, q2, ws2, dp2, c2.y.get_desc(), "pool2");
    const dnnl::memory dc2 = relu_backward(r, bwd, c2.y, da2, "conv2");
    const auto [dw2, db2] = conv_backward_weights(r, bwd, c2.c, c2.x, dc2, "conv2");
    const dnnl::memory dp1 = conv_backward_data(r, bwd, c2.c, c2.w, dc2, p1.get_desc(), "conv2");
    const dnnl::memory da1 = pool_backward(r, bwd, q1, ws1, dp1, c1.y.get_desc(), "pool1");
    const dnnl::memory dc1 = relu_backward(r, bwd, c1.y, da1, "conv1");
    const auto [dw1, db1] = conv_backward_weights(r, bwd, c1.c, c1.x, dc1, "conv1");
    add_sgd(c1.w, dw1);
    add_sgd(b1, db1);
    add_sgd(c2.w, dw2);
    add_sgd(b2, db2);
    add_sgd(w3, dw3);
    add_sgd(b3, db3);
    add_sgd(w4, dw4);
    add_sgd(b4, db4);
    add_sgd(w5, dw5);
    add_sgd(b5, db5);

    // Inference: forward_inference primitives (no pooling workspace), then softmax. Each takes the weights in
    // the layout it prefers (asking for the training layout instead can land on a reference implementation:
    // fc1 does); `sync` reorders them from the training weights, run at the first infer after a train_step.
    images_infer = r.user_memory(nchw({N, 1, 28, 28}));
    auto synced = [this](const dnnl::memory& w) {
      return [this, w](const md& wanted, bool trial) {
        return trial ? r.memory(wanted) : r.ensure(sync, w, wanted);
      };
    };
    auto pool_i = [&](const dnnl::memory& in, const char* name) {
      const auto qi = pool_forward(r, I, in.get_desc());
      const dnnl::memory y = r.memory(qi.dst_desc());
      r.add(inf, dnnl::pooling_forward(qi), qi, name, {{DNNL_ARG_SRC, in}, {DNNL_ARG_DST, y}});
      return y;
    };
    auto linear_i = [&](const dnnl::memory& in, const dnnl::memory& w, const dnnl::memory& b, const md& out,
                        bool relu, const char* name) {
      const auto fi = linear_forward(r, I, in.get_desc(), any(w.get_desc().dims()), b.get_desc(), out, relu);
      const dnnl::memory xi = r.ensure(inf, in, fi.src_desc());
      const dnnl::memory wi = r.ensure(sync, w, fi.weights_desc());
      const dnnl::memory y = r.memory(fi.dst_desc());
      r.add(inf, dnnl::inner_product_forward(fi), fi, name,
            {{DNNL_ARG_SRC, xi}, {DNNL_ARG_WEIGHTS, wi}, {DNNL_ARG_BIAS, b}, {DNNL_ARG_DST, y}});
      return y;
    };
    dnnl::memory h = conv_layer(r, inf, I, images_infer, {6, 1, 5, 5}, b1, {N, 6, 28, 28}, 1, 2, synced(c1.w),
                                "conv1 infer")
                         .y;
    h = pool_i(h, "pool1");
    h = conv_layer(r, inf, I, h, {16, 6, 5, 5}, b2, {N, 16, 10, 10}, 1, 0, synced(c2.w), "conv2 infer").y;
    h = pool_i(h, "pool2");
    h = linear_i(h, w3, b3, any({N, 120}), true, "fc1");
    h = linear_i(h, w4, b4, any({N, 84}), true, "fc2");
    const dnnl::memory z = linear_i(h, w5, b5, plain({N, 10}, tag::nc), false, "fc3");
    dnnl::softmax_forward::desc sd(I, z.get_desc(), 1);
    dnnl::softmax_forward::primitive_desc spd(sd, attributes(false), r.engine());
    probabilities = r.user_memory(plain({N, 10}, tag::nc));
    r.add(inf, dnnl::softmax_forward(spd), spd, "softmax",
          {{DNNL_ARG_SRC, z}, {DNNL_ARG_DST, probabilities}});

    r.finalize();
  }

  float train_step(const float* images, const std::uint32_t* labels, float lr) {
    images_train.set_data_handle(const_cast<float*>(images));
    r.run(fwd);
    const float loss =
        softmax_cross_entropy(static_cast<const float*>(logits.get_data_handle()), labels,
                              static_cast<float*>(dlogits.get_data_handle()), n, "OneDnnLeNet::train_step");
    r.run(bwd);
    inference_weights_stale = true;
    apply_sgd(sgd, lr);
    return loss;
  }

  void infer(const float* images, float* out) {
    if (inference_weights_stale) {
      r.run(sync);
      inference_weights_stale = false;
    }
    images_infer.set_data_handle(const_cast<float*>(images));
    probabilities.set_data_handle(out);
    r.run(inf);
  }
};

OneDnnLeNet::OneDnnLeNet(int batch, unsigned seed) : impl_(std::make_unique<Impl>(batch, seed)) {}
OneDnnLeNet::~OneDnnLeNet() = default;
float OneDnnLeNet::train_step(const float* images, const std::uint32_t* labels, float learning_rate) {
  return impl_->train_step(images, labels, learning_rate);
}
void OneDnnLeNet::infer(const float* images, float* probabilities) {
  impl_->infer(images, probabilities);
}
int OneDnnLeNet::batch() const {
  return impl_->n;
}
std::string OneDnnLeNet::info() const {
  const Impl& i = *impl_;
  return version_line() + "\n" + i.r.describe(i.fwd, "train forward") + "\n" +
         i.r.describe(i.bwd, "train backward") + "\n" + i.r.describe(i.inf, "infer") + "\n" +
         i.r.describe(i.sync, "infer weights (after a train_step)") +
         "\ntuning (candidate us): " + i.r.tuning();
}

// ---------------------------------------------------------------------------------------------------------
// The course's MLP.

struct OneDnnMlp::Impl {
  int n;
  float lr;
  Runner r;
  int fwd = 0, bwd = 0, inf = 0, sync = 0;
  bool inference_weights_stale = true;
  dnnl::memory images_train, logits, dlogits, images_infer, probabilities;
  std::vector<Sgd> sgd;
  std::vector<dnnl::memory> parameters;  // keeps the buffers sgd points into alive

  Impl(int batch, const MlpWeights& p, float learning_rate) : n(batch), lr(learning_rate) {
    if (batch < 1) throw std::invalid_argument("OneDnnMlp: batch must be at least 1");
    single_thread();
    fwd = r.program();
    bwd = r.program();
    inf = r.program();
    sync = r.program();
    const prop_kind T = prop_kind::forward_training, I = prop_kind::forward_inference;
    const dnnl::memory::dim N = n;
    const int* width = mlp_widths;

    // Forward (training): each layer's weights in the layout its primitive picked, loaded from typenet's
    // in x out layout (oneDNN's dims are out x in: that storage is tag::io).
    struct Layer {
      dnnl::inner_product_forward::primitive_desc f;
      dnnl::memory x, w, b, y;
    };
    std::vector<Layer> layers;
    images_train = r.user_memory(plain({N, width[0]}, tag::nc));
    dnnl::memory h = images_train;
    for (int l = 0; l < 3; ++l) {
      const bool last = l == 2;
      const dims wd{width[l + 1], width[l]};
      Layer layer;
      layer.f = linear_forward(r, T, h.get_desc(), any(wd), any({width[l + 1]}),
                               last ? plain({N, width[l + 1]}, tag::nc) : any({N, width[l + 1]}),
                               last ? algorithm::undef : algorithm::eltwise_logistic);
      layer.w = r.memory(layer.f.weights_desc());
      r.load(layer.w, plain(wd, tag::io), p.w[l].data());
      layer.b = r.memory(layer.f.bias_desc());
      r.load(layer.b, plain({width[l + 1]}, tag::x), p.b[l].data());
      layer.x = r.ensure(fwd, h, layer.f.src_desc());
      layer.y = r.memory(layer.f.dst_desc());
      r.add(fwd, dnnl::inner_product_forward(layer.f), layer.f, "fc" + std::to_string(l + 1),
            {{DNNL_ARG_SRC, layer.x},
             {DNNL_ARG_WEIGHTS, layer.w},
             {DNNL_ARG_BIAS, layer.b},
             {DNNL_ARG_DST, layer.y}});
      h = layer.y;
      layers.push_back(layer);
    }
    logits = h;

    // Backward: from dlogits (softmax_cross_entropy writes it) to the first layer's weights.
    dlogits = r.memory(plain({N, width[3]}, tag::nc));
    dnnl::memory dz = dlogits;
    for (int l = 2; l >= 0; --l) {
      const Layer& layer = layers[std::size_t(l)];
      const std::string name = "fc" + std::to_string(l + 1);
      const auto [dw, db] = linear_backward_weights(r, bwd, layer.f, layer.x, dz, name);
      sgd.push_back(Sgd{static_cast<float*>(layer.w.get_data_handle()),
                        static_cast<const float*>(dw.get_data_handle()), layer.w.get_desc().get_size() / 4});
      sgd.push_back(Sgd{static_cast<float*>(layer.b.get_data_handle()),
                        static_cast<const float*>(db.get_data_handle()), layer.b.get_desc().get_size() / 4});
      parameters.insert(parameters.end(), {layer.w, layer.b, dw, db});
      if (l == 0) break;  // no gradient for the images
      const Layer& before = layers[std::size_t(l - 1)];
      const dnnl::memory da = linear_backward_data(r, bwd, layer.f, layer.w, dz, before.y.get_desc(), name);
      dz = activation_backward(r, bwd, before.y, da, algorithm::eltwise_logistic_use_dst_for_bwd,
                               "fc" + std::to_string(l));
    }

    // Inference: forward_inference primitives, each with the weights in the layout it prefers (`sync`
    // reorders them from the training weights at the first infer after a train_step), then softmax.
    images_infer = r.user_memory(plain({N, width[0]}, tag::nc));
    h = images_infer;
    for (int l = 0; l < 3; ++l) {
      const bool last = l == 2;
      const Layer& t = layers[std::size_t(l)];
      const auto fi = linear_forward(r, I, h.get_desc(), any(t.w.get_desc().dims()), t.b.get_desc(),
                                     last ? plain({N, width[3]}, tag::nc) : any({N, width[l + 1]}),
                                     last ? algorithm::undef : algorithm::eltwise_logistic);
      const dnnl::memory xi = r.ensure(inf, h, fi.src_desc());
      const dnnl::memory wi = r.ensure(sync, t.w, fi.weights_desc());
      const dnnl::memory y = r.memory(fi.dst_desc());
      r.add(inf, dnnl::inner_product_forward(fi), fi, "fc" + std::to_string(l + 1) + " infer",
            {{DNNL_ARG_SRC, xi}, {DNNL_ARG_WEIGHTS, wi}, {DNNL_ARG_BIAS, t.b}, {DNNL_ARG_DST, y}});
      h = y;
    }
    dnnl::softmax_forward::desc sd(I, h.get_desc(), 1);
    dnnl::softmax_forward::primitive_desc spd(sd, attributes(false), r.engine());
    probabilities = r.user_memory(plain({N, width[3]}, tag::nc));
    r.add(inf, dnnl::softmax_forward(spd), spd, "softmax",
          {{DNNL_ARG_SRC, h}, {DNNL_ARG_DST, probabilities}});

    r.finalize();
  }

  float train_step(const float* images, const std::uint32_t* labels) {
    images_train.set_data_handle(const_cast<float*>(images));
    r.run(fwd);
    const float loss =
        softmax_cross_entropy(static_cast<const float*>(logits.get_data_handle()), labels,
                              static_cast<float*>(dlogits.get_data_handle()), n, "OneDnnMlp::train_step");
    r.run(bwd);
    inference_weights_stale = true;
    apply_sgd(sgd, lr);
    return loss;
  }

  void infer(const float* images, float* out) {
    if (inference_weights_stale) {
      r.run(sync);
      inference_weights_stale = false;
    }
    images_infer.set_data_handle(const_cast<float*>(images));
    probabilities.set_data_handle(out);
    r.run(inf);
  }
};

OneDnnMlp::OneDnnMlp(int batch, const MlpWeights& weights, float learning_rate)
    : impl_(std::make_unique<Impl>(batch, weights, learning_rate)) {}
OneDnnMlp::~OneDnnMlp() = default;
float OneDnnMlp::train_step(const float* images, const std::uint32_t* labels) {
  return impl_->train_step(images, labels);
}
void OneDnnMlp::infer(const float* images, float* probabilities) {
  impl_->infer(images, probabilities);
}
std::string OneDnnMlp::info() const {
  const Impl& i = *impl_;
  return version_line() + "\n" + i.r.describe(i.fwd, "train forward") + "\n" +
         i.r.describe(i.bwd, "train backward") + "\n" + i.r.describe(i.inf, "infer");
}

}  // namespace peers

// The layer contract: what a layer type declares and provides. A layer is one header that follows it; the
// network core (network/, train/, introspect/, io/) knows layers only through it, so adding a layer never
// edits the core. tests/test_user_layer.cpp defines a layer outside the library and trains it.
//
// A network is the list of layer types the user writes. Each layer has one of four roles:
//
//   element-wise activation  Sigmoid, ReLU. Declares `static constexpr kernels::Activation activation`
//                            (the kernels' fused epilogue it maps to) and nothing else: it has no
//                            parameters, keeps the shape it receives, and is fused into the layer written
//                            right before it, which must declare `fuses_activation = true`.
//   loss                     SoftmaxCrossEntropy, MeanSquaredError. Declares `is_loss = true`; always last.
//   reshape                  Input, Flatten. Declares `reshapes_only = true`: it passes its input on as it
//                            is and changes only the Shape (output_shape<R>::size == R::size; NCHW rows make
//                            that free), so it runs no pass and holds no parameters. It may declare
//                            `template <ShapeType R> using outputs_tag = ...`: what the next layer's
//                            check_input is told it receives, when that says more than
//                            previous_layer_outputs<Dims...> (Flatten: flattened<previous_layer_outputs<C,
//                            H, W>, C*H*W>, so a mis-sized Dense names the image). A reshape that only
//                            states the network's input (Input) also declares `is_declaration = true`: it
//                            is no module of the network, so exchange names (io/safetensors.hpp) count
//                            positions without it, as a torch.nn.Sequential of the same layers does.
//   computational layer      Dense, and every other layer with a forward and a backward pass.
//
// Every layer declares (R is the Shape it receives, see core/shape.hpp):
//   static std::string name();                       "Dense<784, 256>": messages and the model file's record
//   template <ShapeType R> using output_shape = ...;  the Shape it produces from R (for any R: after a
//                                                     failed check the flow goes on with what it produces)
//
// A computational layer also declares, with In = the Shape it receives and Out = output_shape<In>:
//   using input_shape = Shape<...>;                  optional: the Shape it must receive. The first layer
//                                                    of a network needs one: it fixes the network's input.
//   template <class LayerIndex, class Received>      optional: its rules on what it receives, one
//   static constexpr bool check_input();             static_assert each on a tagged trait that names
//                                                    LayerIndex, the layer and Received (a
//                                                    previous_layer_outputs<Dims...>); returns true. The
//                                                    network calls it where the user names the network type.
//   template <class LayerIndex, class Received>      with check_input: the same rules as one bool, without
//   static constexpr bool fits();                    an error. Layers after the first that does not fit
//                                                    are not checked (their shapes follow from a guess).
//   template <ShapeType R> using fitted_to = ...;    optional: the layer as if written for R. After a failed
//                                                    check the network is built from it, so one mistake
//                                                    gives one error (Dense<256, 10> receiving 128 is
//                                                    built as Dense<128, 10>).
//   template <class T> using Parameters = ...;       its trainable tensors, or NoParameters: a struct of
//                                                    Matrix members with a `static constexpr auto tensors()`
//                                                    that lists them as tensor(TensorKind, &P::member), ...
//                                                    It may also list, in `static constexpr auto
//                                                    state_tensors()`, members that are state, not
//                                                    trainable (BatchNorm's running statistics): no
//                                                    gradient or optimizer sees them, the model file and
//                                                    the exchange formats save them.
//   template <class Init, class T>                   fills fresh parameters (with parameters only); layers
//   static void initialize(Parameters<T>&, NormalSource&);   draw from the source in the order written.
//   static constexpr bool fuses_activation;          optional, false if absent: forward applies the
//                                                    activation written after the layer, backward_input the
//                                                    derivative of the one fused into the layer before it.
//   static constexpr std::size_t kept_per_row;       optional, 0 if absent: values of T per sample it keeps
//                                                    from forward for backward (beyond its input and its
//                                                    output, which the network keeps anyway): ctx.kept.
//   static constexpr std::size_t scratch_size;       optional, 0 if absent: values of T any one of its
//                                                    passes may use while it runs, whatever the row count
//                                                    (im2col buffers): ctx.scratch, shared by all layers.
//   static constexpr std::size_t kept_per_batch;     optional, 0 if absent: values of T it keeps from
//                                                    forward for backward whatever the row count (BatchNorm's
//                                                    batch mean and variance): after the rows' part of
//                                                    ctx.kept.
//                                                    A layer that draws random numbers (Dropout) derives
//                                                    them from ctx.random, the same in its forward and
//                                                    backward pass of one step, and acts only when
//                                                    ctx.training (predict() passes false).
//   forward(params, in, out, [act,] ctx)             out = f(in), or act(f(in)) if it fuses_activation
//   backward_input(params, d_out, in, d_in, [in_act,] ctx)
//                                                    d_in = dL/d(in) from d_out = dL/d(out), which already
//                                                    holds its own activation's derivative. A layer that
//                                                    fuses_activation also multiplies d_in by in_act'(in),
//                                                    the derivative of the previous layer's activation
//                                                    written through that activation's output `in`
//                                                    (sigmoid in(1 - in), ReLU [in > 0]); otherwise the
//                                                    network does that in a pass of its own.
//   backward_params(in, d_out, grads, ctx)           grads = dL/d(params) (with parameters only); or
//   backward_params(params, in, d_out, grads, ctx)   this form, for a layer that needs its parameters
//                                                    there (a Residual block runs its layers' backward
//                                                    passes in it when it is the network's first stage,
//                                                    whose backward_input the network does not call)
//   update_state(params, in, ctx)                    with state_tensors only: a training step's update of
//                                                    the state (params: `Parameters<T>&`), called by the
//                                                    trainer after the step's forward pass of the layer,
//                                                    with what that pass kept in ctx.kept (the gradient
//                                                    check and compute_gradients do not call it)
//   static std::string gradient_text(kind, in, z);   optional: the dimension-flow table's formula for a
//   static std::string input_gradient_text(z, n);    parameter's gradient and for dL/d(in) ("a2^T @ grad_z3",
//                                                    "grad_z3 @ W3^T"); else the table says it in words
//   static constexpr ExchangeLayout                  optional: a tensor's shape as PyTorch's state_dict and
//     exchange_layout(TensorKind kind);              safetensors files hold it (io/safetensors.hpp), and
//                                                    whether typenet stores its transpose; if absent, the
//                                                    Matrix's own [rows, cols] ([cols] when rows == 1)
// where params is `const Parameters<T>&` (grads: `Parameters<T>&`), in and d_in are MatrixView<[const] T,
// Rows, In::size>, out and d_out MatrixView<[const] T, Rows, Out::size>, act and in_act kernels::Activation,
// ctx a `const LayerContext<T>&`, and Rows a batch size or dynamic_rows: templates over T and Rows.
//
// Optional fast paths, used when present (Dense has all three):
//   backward_params_sgd(in, d_out, params, learning_rate, ctx)    params -= lr * dL/d(params), no dW stored
//   backward_input_then_sgd(params, d_out, in, d_in, in_act, lr)  batch 1: both in one pass over params
//   sgd_then_forward(in, d_out, params, lr, next_in, next_out, act)  batch 1: the update, then the forward
//                                                    of the next step's input, in one pass over params
//
// A loss declares `is_loss = true`, name(), output_shape<R> = R, and:
//   static constexpr bool accepts_class_labels;      Labels<B> as targets (else only target rows)
//   static constexpr bool outputs_probabilities;     its predictions differ from the last layer's outputs
//   loss(outputs, targets, predictions, gradient, rows, cols) -> T   for target rows (const T*) and, if it
//                                                    accepts them, labels (const std::uint32_t*, each below
//                                                    cols: the network checks); gradient may be null
//   predict(outputs, predictions, rows, cols)        what Network::predict returns (in place allowed)
//
// The concepts below check a type against the contract where the user names the network; a type that does
// not follow it is one error naming its position: follows_layer_contract<layer_index<I>, Type, ...>.
#pragma once

#include <concepts>
#include <cstddef>
#include <cstdint>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "typenet/core/matrix_view.hpp"
#include "typenet/core/shape.hpp"
#include "typenet/kernels/kernels.hpp"

namespace typenet {

// What a parameter tensor is, for the optimizers (all alike), the model file and the gradient check.
// Weight decay applies to `weights` only: not to biases, nor to a normalisation's scale and shift.
enum class TensorKind : std::uint8_t { weights, bias, scale, shift, running_mean, running_variance };

inline const char* to_string(TensorKind kind) {
  switch (kind) {
    case TensorKind::weights:
      return "weights";
    case TensorKind::bias:
      return "bias";
    case TensorKind::scale:
      return "scale";
    case TensorKind::shift:
      return "shift";
    case TensorKind::running_mean:
      return "running mean";
    case TensorKind::running_variance:
      return "running variance";
  }
  return "?";
}

// A tensor's name in PyTorch's state_dict, after its module's: "0.weight", "0.bias", "1.running_var".
inline const char* exchange_name(TensorKind kind) {
  switch (kind) {
    case TensorKind::weights:
    case TensorKind::scale:
      return "weight";
    case TensorKind::bias:
    case TensorKind::shift:
      return "bias";
    case TensorKind::running_mean:
      return "running_mean";
    case TensorKind::running_variance:
      return "running_var";
  }
  return "?";
}

// A parameter tensor as exchange formats lay it out (PyTorch's order: Linear (out, in), Conv2d (out, in,
// kH, kW)). `transposed`: typenet stores the rank-2 tensor dims[1] x dims[0] (Dense's In x Out weights).
struct ExchangeLayout {
  std::size_t rank = 0;
  std::size_t dims[4] = {};
  bool transposed = false;
};

// One entry of Parameters::tensors(): a kind and the member that holds the tensor. The core reaches the
// tensor through of(parameters), so an entry may also reach into nested parameters (Residual's blocks: such
// an entry also declares exchange_prefix() and exchange_layout(), see network/residual.hpp).
template <class P, class M>
struct TensorMember {
  TensorKind kind;
  M P::*member;
  constexpr M& of(P& p) const { return p.*member; }
  constexpr const M& of(const P& p) const { return p.*member; }
};
template <class P, class M>
constexpr TensorMember<P, M> tensor(TensorKind kind, M P::*member) {
  return {kind, member};
}

// The parameters of a layer that has none.
struct NoParameters {
  static constexpr auto tensors() { return std::tuple<>{}; }
};

namespace kernels {
class ThreadPool;
}

// What a layer's forward and backward pass get besides their tensors.
template <class T>
struct LayerContext {
  kernels::ThreadPool* pool = nullptr;  // worker threads for large products (null: the calling thread)
  T* kept = nullptr;                    // rows * kept_per_row values, the same in forward and backward
  bool training = true;                 // false in predict() and the loss-only passes
  T* scratch = nullptr;                 // scratch_size values, free for the pass that runs now
  // This layer's random seed for this step (Dropout's mask): the same in its forward and backward pass,
  // another for every layer and step, a function of TrainerOptions::seed and the step number only.
  std::uint64_t random = 0;
};

namespace detail {

// SplitMix64's finaliser: a 64-bit value whose every bit depends on every bit of x.
constexpr std::uint64_t mix_bits(std::uint64_t x) {
  x += 0x9E3779B97F4A7C15ull;
  x = (x ^ (x >> 30)) * 0xBF58476D1CE4E5B9ull;
  x = (x ^ (x >> 27)) * 0x94D049BB133111EBull;
  return x ^ (x >> 31);
}
// The seed of step `step` of a trainer seeded with `seed`, and stage k's within it.
constexpr std::uint64_t step_random_seed(std::uint64_t seed, std::uint64_t step) {
  return mix_bits(seed ^ mix_bits(step));
}
constexpr std::uint64_t stage_random_seed(std::uint64_t step_seed, std::size_t stage) {
  return mix_bits(step_seed + 0xD1B54A32D192ED03ull * (stage + 1));
}

}  // namespace detail

// Tags that name the layer and what it receives in the compiler's messages.
template <std::size_t Index>
struct layer_index {};
// Layer I inside the block (Residual) at position Block (a layer_index, or a layer_in_block when nested).
template <class Block, std::size_t I>
struct layer_in_block {};
template <std::size_t... Dims>
struct previous_layer_outputs {};
// What a layer after Flatten receives: the image (previous_layer_outputs<C, H, W>) as Values = C*H*W.
template <class Image, std::size_t Values>
struct flattened {};

namespace detail {

template <class Tag>
struct outputs_tag_of;
template <std::size_t... Dims>
struct outputs_tag_of<Shape<Dims...>> {
  using type = previous_layer_outputs<Dims...>;
};
// previous_layer_outputs<Dims...> of a Shape: how the checks name what a layer receives.
template <class S>
using outputs_tag = typename outputs_tag_of<S>::type;

template <class L>
concept named_layer = requires {
  { L::name() } -> std::convertible_to<std::string>;
};

template <class L>
concept shaped_layer = requires {
  typename L::template output_shape<Shape<1>>;
};

template <class L>
concept elementwise_layer = named_layer<L> && requires {
  { L::activation } -> std::convertible_to<kernels::Activation>;
};

template <class L>
concept loss_layer = named_layer<L> && shaped_layer<L> && requires {
  requires L::is_loss;
  { L::accepts_class_labels } -> std::convertible_to<bool>;
  { L::outputs_probabilities } -> std::convertible_to<bool>;
};

template <class L>
concept reshape_layer = named_layer<L> && shaped_layer<L> && requires {
  requires L::reshapes_only;
};

template <class L>
constexpr bool fuses_activation() {
  if constexpr (requires { L::fuses_activation; })
    return L::fuses_activation;
  else
    return false;
}

template <class L>
constexpr std::size_t kept_per_row() {
  if constexpr (requires { L::kept_per_row; })
    return L::kept_per_row;
  else
    return 0;
}

template <class L>
constexpr std::size_t scratch_size() {
  if constexpr (requires { L::scratch_size; })
    return L::scratch_size;
  else
    return 0;
}

// The Matrix type an entry of P's tensors() reaches.
template <class P, class Member>
using member_matrix_t = std::remove_cvref_t<decltype(std::declval<const Member&>().of(std::declval<P&>()))>;

// Values in the tensors a tensors() (or state_tensors()) tuple of P lists.
template <class P, class Members>
constexpr std::size_t values_in(Members members) {
  return std::apply([](auto... m) { return (std::size_t{0} + ... + member_matrix_t<P, decltype(m)>::size); },
                    members);
}

template <class L>
constexpr std::size_t kept_per_batch() {
  if constexpr (requires { L::kept_per_batch; })
    return L::kept_per_batch;
  else
    return 0;
}

// The state_tensors() of parameters P, or none.
template <class P>
constexpr auto state_tensors_of() {
  if constexpr (requires { P::state_tensors(); })
    return P::state_tensors();
  else
    return std::tuple<>{};
}

template <class L>
constexpr bool is_declaration() {
  if constexpr (requires { L::is_declaration; })
    return L::is_declaration;
  else
    return false;
}

// The exchange layout of a layer's tensor of `kind`, stored as Rows x Cols.
template <class L, std::size_t Rows, std::size_t Cols>
constexpr ExchangeLayout exchange_layout(TensorKind kind) {
  if constexpr (requires { L::exchange_layout(kind); }) {
    return L::exchange_layout(kind);
  } else {
    if (Rows == 1) return ExchangeLayout{1, {Cols}, false};
    return ExchangeLayout{2, {Rows, Cols}, false};
  }
}

template <class L, class T>
concept has_parameters = requires {
  typename L::template Parameters<T>;
};

template <class L, class T>
using parameters_of = typename L::template Parameters<T>;

// forward and backward_input callable as the network calls them, on In and one row of T.
template <class L, class In, class T>
concept computes_on = has_parameters<L, T> &&
    requires(const parameters_of<L, T>& p, parameters_of<L, T>& g, MatrixView<const T, 1, In::size> in,
             MatrixView<T, 1, In::size> d_in, MatrixView<T, 1, L::template output_shape<In>::size> out,
             MatrixView<const T, 1, L::template output_shape<In>::size> d_out, const LayerContext<T>& ctx,
             kernels::Activation act) {
  requires(fuses_activation<L>() ? requires { L::forward(p, in, out, act, ctx); }
                                 : requires { L::forward(p, in, out, ctx); });
  requires(fuses_activation<L>() ? requires { L::backward_input(p, d_out, in, d_in, act, ctx); }
                                 : requires { L::backward_input(p, d_out, in, d_in, ctx); });
  requires(
      std::tuple_size_v<decltype(parameters_of<L, T>::tensors())> == 0 ||
      requires { L::backward_params(in, d_out, g, ctx); } ||
      requires { L::backward_params(p, in, d_out, g, ctx); });
};

// A tensors() entry's layout: its own (an entry reaching into a block's layer) or its layer's.
template <class Layer, class M, class Member>
constexpr ExchangeLayout member_exchange_layout(const Member& member) {
  if constexpr (requires { member.exchange_layout(); })
    return member.exchange_layout();
  else
    return exchange_layout<Layer, M::rows, M::cols>(member.kind);
}
// What comes between an entry's module name and its tensor name: "" or a block's "2." (network/residual.hpp).
template <class Member>
std::string member_exchange_prefix(const Member& member) {
  if constexpr (requires { member.exchange_prefix(); })
    return member.exchange_prefix();
  else
    return "";
}

// backward_params as the layer declares it: with its parameters first (a block, which runs its layers'
// backward passes there) or without.
template <class L, class P, class In, class DOut, class G, class T>
void backward_params(const P& params, In in, DOut d_out, G& grads, const LayerContext<T>& ctx) {
  if constexpr (requires { L::backward_params(params, in, d_out, grads, ctx); })
    L::backward_params(params, in, d_out, grads, ctx);
  else
    L::backward_params(in, d_out, grads, ctx);
}

template <class L, class R>
struct fitted {
  using type = L;
};
template <class L, class R>
requires requires {
  typename L::template fitted_to<R>;
}
struct fitted<L, R> {
  using type = typename L::template fitted_to<R>;
};
// The layer as the network builds it when it receives R.
template <class L, class R>
using fitted_t = typename fitted<L, R>::type;

// Does L follow the contract when it receives R?
template <class L, class R>
concept layer_at = named_layer<L> && shaped_layer<L> &&
    (elementwise_layer<L> || loss_layer<L> || reshape_layer<L> || computes_on<fitted_t<L, R>, R, float>);

}  // namespace detail
}  // namespace typenet

// Residual<Layers...>: a residual block, y = x + f(x), where f is the chain of Layers (He et al. 2016; the
// notes' remedy for vanishing gradients: the identity path carries the gradient past f unchanged).
//
//   Network<Dense<784, 128>, ReLU,
//           Residual<Dense<128, 128>, ReLU, Dense<128, 128>>, ReLU,   // relu(x + W2 relu(W1 x))
//           Dense<128, 10>, SoftmaxCrossEntropy>
//
// f is planned like a network from what the block receives: its layers are counted from 0 inside the block,
// their own checks run there and an error names the block's position and the layer's inside it
// (layer_in_block<layer_index<2>, 1>). f must produce the shape the block receives: a mismatch is one error
// naming the block's position and both shapes. Blocks nest, hold no loss, and may hold any layer, BatchNorm
// and Conv2D included; the activation written after a block is applied to x + f(x).
//
// The block is one layer of its network (one model-file record, "Residual<Dense<128, 128>, ReLU, ...>"); its
// parameters are its layers', reached as net.layer<2>().inner.layer<0>().weights. In safetensors its tensors
// are named as a PyTorch module that subclasses nn.Sequential and returns x + super().forward(x) names them:
// "2.0.weight", "2.2.bias". A block lives in network/ because it is built from a network plan: layers/ know
// no network, and adding a block edited no layer.
#pragma once

#include <algorithm>
#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "typenet/core/init.hpp"
#include "typenet/kernels/kernels.hpp"
#include "typenet/layers/contract.hpp"
#include "typenet/network/build_network.hpp"
#include "typenet/network/network.hpp"
#include "typenet/network/parameters.hpp"
#include "typenet/network/shape_check.hpp"

namespace typenet {

template <class... Layers>
struct Residual;

// What a block receives and what its layers produce, as the check names them.
template <std::size_t... Dims>
struct block_receives {};
template <std::size_t... Dims>
struct block_produces {};

// Do the block's layers produce the shape it receives (y = x + f(x) needs both alike)?
template <class LayerIndex, class Block, class Receives, class Produces>
struct residual_block_keeps_shape {
  static constexpr bool value = true;
};
template <class Index, class... L, std::size_t... In, std::size_t... Out>
struct residual_block_keeps_shape<Index, Residual<L...>, block_receives<In...>, block_produces<Out...>> {
  static constexpr bool value = std::is_same_v<Shape<In...>, Shape<Out...>>;
};

template <class LayerIndex, class Block>
struct residual_block_has_layers {
  static constexpr bool value = true;
};
template <class Index>
struct residual_block_has_layers<Index, Residual<>> {
  static constexpr bool value = false;
};

// A loss ends a network, never a block.
template <class LayerIndex, class Layer>
struct block_holds_no_loss {
  static constexpr bool value = true;
};
template <class Index, detail::loss_layer Layer>
struct block_holds_no_loss<Index, Layer> {
  static constexpr bool value = false;
};

namespace detail {

// The Shape a received tag names.
template <class Tag>
struct shape_of_tag;
template <std::size_t... Dims>
struct shape_of_tag<previous_layer_outputs<Dims...>> {
  using type = Shape<Dims...>;
};
template <class Image, std::size_t Values>
struct shape_of_tag<flattened<Image, Values>> {
  using type = Shape<Values>;
};

template <class S>
struct block_tags;
template <std::size_t... Dims>
struct block_tags<Shape<Dims...>> {
  using receives = block_receives<Dims...>;
  using produces = block_produces<Dims...>;
};

template <class LayerIndex, class Layer>
constexpr bool check_block_holds_no_loss() {
  static_assert(block_holds_no_loss<LayerIndex, Layer>::value,
                "typenet: a Residual block holds no loss: the loss ends the network");
  return true;
}
// The checks of the block at BlockIndex whose layers receive R first: as a network's (build_network.hpp),
// each layer tagged with its position inside the block.
template <class BlockIndex, class R, class... Layers>
struct ResidualChecks {
  using Plan = PlanOf<R, Layers...>;
  static constexpr std::size_t count = sizeof...(Layers);
  template <std::size_t I>
  using at = layer_in_block<BlockIndex, I>;
  template <std::size_t I>
  using previous = typename Plan::template layer<(I == 0 ? 0 : I - 1)>;

  // Every rule as one bool, without an error.
  template <std::size_t... I>
  static constexpr bool all_fit(std::index_sequence<I...>) {
    return count > 0 &&
           (follows_layer_contract<at<I>, Layers, outputs_tag<typename Plan::template received<I>>>::value &&
            ...) &&
           (block_holds_no_loss<at<I>, typename Plan::template checked<I>>::value && ...) &&
           (reshape_keeps_size<at<I>, typename Plan::template checked<I>,
                               outputs_tag<typename Plan::template received<I>>>::value &&
            ...) &&
           (activation_follows_dense<at<I>, typename Plan::template checked<I>,
                                     previous_layer<previous<I>>>::value &&
            ...) &&
           Plan::first_misfit == count && std::is_same_v<typename Plan::template received<count>, R>;
  }
  static constexpr bool fits = all_fit(std::make_index_sequence<count>{});

  // The shapes only mean something when every layer inside fits.
  static constexpr bool layers_fit = count > 0 && Plan::first_misfit == count;
  using receives = typename block_tags<R>::receives;
  // What the shape check compares: after a mistake inside, the block's own shape (nothing more to say).
  using produces = typename block_tags<
      std::conditional_t<layers_fit, typename Plan::template received<count>, R>>::produces;
};

// The check_input and fits of Residual<Layers...>, with the positions I of its layers at hand: every rule of
// its layers as one static_assert each (one error for the first mistake), then the shapes, in the shortest
// chain of calls, so the messages stay short.
template <class Indices, class... Layers>
struct ResidualRules;
template <std::size_t... I, class... Layers>
struct ResidualRules<std::index_sequence<I...>, Layers...> {
  template <class LayerIndex, class Received>
  using checks = ResidualChecks<LayerIndex, typename shape_of_tag<Received>::type, Layers...>;

  template <class LayerIndex, class Received>
  static constexpr bool check_input() {
    using Plan = typename checks<LayerIndex, Received>::Plan;
    static_assert(residual_block_has_layers<LayerIndex, Residual<Layers...>>::value,
                  "typenet: a Residual block needs layers: Residual<Dense<N, N>, ReLU, Dense<N, N>>");
    // One expression, so that an empty block (its error above) warns of no unused value.
    const bool layers_checked =
        (check_layer_contract<layer_in_block<LayerIndex, I>, Layers,
                              outputs_tag<typename Plan::template received<I>>>() &&
         ...) &&
        (check_block_holds_no_loss<layer_in_block<LayerIndex, I>, typename Plan::template checked<I>>() &&
         ...) &&
        (check_reshape_keeps_size<layer_in_block<LayerIndex, I>, typename Plan::template checked<I>,
                                  outputs_tag<typename Plan::template received<I>>>() &&
         ...) &&
        (check_activation_position<
             layer_in_block<LayerIndex, I>, typename Plan::template checked<I>,
             previous_layer<typename checks<LayerIndex, Received>::template previous<I>>>() &&
         ...) &&
        (input_rules_if_t<I <= Plan::first_misfit, typename Plan::template checked<I>>::template check_input<
             layer_in_block<LayerIndex, I>, typename Plan::template received_tag<I>>() &&
         ...);
    static_assert(
        residual_block_keeps_shape<LayerIndex, Residual<Layers...>,
                                   typename checks<LayerIndex, Received>::receives,
                                   typename checks<LayerIndex, Received>::produces>::value,
        "typenet: a Residual block's layers must produce the shape the block receives (y = x + f(x))");
    return layers_checked;
  }
  template <class LayerIndex, class Received>
  static constexpr bool fits() {
    return checks<LayerIndex, Received>::fits;
  }
};

// A parameter tensor of layer I of a block: reached through the block's inner ParameterSet, laid out and
// named for exchange as that layer declares, under the layer's index inside the block.
template <std::size_t I, class Member, class InnerLayer>
struct BlockTensor {
  TensorKind kind;
  Member member;       // the entry of the inner layer's tensors()
  std::size_t module;  // the inner layer's index as PyTorch counts modules (Input not counted)
  template <class P>
  constexpr auto& of(P& p) const {
    return member.of(p.inner.template layer<I>());
  }
  std::string exchange_prefix() const {
    return std::to_string(module) + "." + member_exchange_prefix(member);
  }
  constexpr ExchangeLayout exchange_layout() const {
    using P = typename InnerLayer::template Parameters<float>;
    using M = member_matrix_t<P, Member>;
    return member_exchange_layout<InnerLayer, M>(member);
  }
};

// The block as the network builds it once it fits what it receives, R.
template <class R, class... Layers>
struct ResidualBlock {
  using Plan = PlanOf<R, Layers...>;
  static constexpr std::size_t stage_count = Plan::stage_count;
  template <std::size_t K>
  using stage = std::tuple_element_t<K, typename Plan::stages>;
  template <class T>
  using InnerParameters = ParameterSet<T, typename Plan::layers>;

  static std::string name() { return Residual<Layers...>::name(); }
  template <ShapeType Received>
  using output_shape = Received;
  static constexpr bool fuses_activation = true;

  template <class T>
  struct Parameters {
    InnerParameters<T> inner;
    static constexpr auto tensors() { return members<T, false>(); }
    static constexpr auto state_tensors() { return members<T, true>(); }
  };

  template <class Init, class T>
  static void initialize(Parameters<T>& p, NormalSource& source) {
    for_each_index<Plan::layer_count>([&](auto i) {
      constexpr std::size_t I = decltype(i)::value;
      using P = typename InnerParameters<T>::template layer_parameters<I>;
      if constexpr (std::tuple_size_v < decltype(P::tensors()) >> 0)
        Plan::template layer<I>::template initialize<Init>(p.inner.template layer<I>(), source);
    });
  }

  // What the block keeps from forward to backward, per stage of f: its output, its gradient and what the
  // stage itself keeps; then one flag (whether this step's gradients inside f are computed yet). Each slot
  // starts on 16 values (64 bytes of float), as the network's own slots do.
  static constexpr std::size_t slot_count = 3 * stage_count + 1;
  static constexpr std::size_t alignment = 16;
  template <std::size_t... K>
  static constexpr std::array<std::size_t, slot_count> slot_widths(std::index_sequence<K...>) {
    return {stage<K>::output_width..., stage<K>::output_width..., stage<K>::kept_per_row..., 0};
  }
  template <std::size_t... K>
  static constexpr std::array<std::size_t, slot_count> slot_extras(std::index_sequence<K...>) {
    return {(void(K), std::size_t{0})..., (void(K), std::size_t{0})..., stage<K>::kept_per_batch..., 1};
  }
  static constexpr auto widths = slot_widths(std::make_index_sequence<stage_count>{});
  static constexpr auto extras = slot_extras(std::make_index_sequence<stage_count>{});
  static constexpr std::size_t kept_per_row = [] {
    std::size_t n = 0;
    for (std::size_t w : widths) n += w;
    return n;
  }();
  static constexpr std::size_t kept_per_batch = [] {
    std::size_t n = 0;
    for (std::size_t e : extras) n += e + alignment - 1;
    return n;
  }();
  static constexpr std::size_t scratch_size = [] {
    std::size_t largest = 0;
    for_each_index<stage_count>(
        [&](auto k) { largest = std::max(largest, stage<decltype(k)::value>::scratch_size); });
    return largest;
  }();

  // out = act(in + f(in))
  template <class T, std::size_t Rows, std::size_t Size>
  static void forward(const Parameters<T>& p, MatrixView<const T, Rows, Size> in,
                      MatrixView<T, Rows, Size> out, kernels::Activation act, const LayerContext<T>& ctx) {
    const std::size_t rows = in.row_count();
    for_each_index<stage_count>([&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = stage<K>;
      stage_forward<S>(parameters_of_stage<K>(p), stage_input<K, Rows>(in, ctx, rows),
                       output<K, Rows>(ctx, rows), inner_context<K>(ctx, rows));
    });
    const T* f = output<stage_count - 1, Rows>(ctx, rows).data();
    for (std::size_t i = 0; i < rows * Size; ++i) out.data()[i] = in.data()[i] + f[i];
    if (act != kernels::Activation::identity)
      kernels::activation_forward(out.data(), out.data(), rows * Size, act);
    *slot<T>(ctx, rows, slot_count - 1) = T(0);  // this step's gradients inside f: not yet
  }

  // Each stage of f that keeps a state updates it (BatchNorm inside a block).
  template <class T, std::size_t Rows, std::size_t Size>
  static void update_state(Parameters<T>& p, MatrixView<const T, Rows, Size> in, const LayerContext<T>& ctx) {
    const std::size_t rows = in.row_count();
    for_each_index<stage_count>([&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using L = typename stage<K>::layer;
      auto& parameters = p.inner.template layer<stage<K>::position>();
      const auto x = stage_input<K, Rows>(in, ctx, rows);
      const LayerContext<T> inner = inner_context<K>(ctx, rows);
      if constexpr (requires { L::update_state(parameters, x, inner); })
        L::update_state(parameters, x, inner);
    });
  }

  // d_in = (d_out + J_f(in)^T d_out) (.) in_act'(in): the identity path adds d_out itself.
  template <class T, std::size_t Rows, std::size_t Size>
  static void backward_input(const Parameters<T>& p, MatrixView<const T, Rows, Size> d_out,
                             MatrixView<const T, Rows, Size> in, MatrixView<T, Rows, Size> d_in,
                             kernels::Activation in_act, const LayerContext<T>& ctx) {
    const std::size_t rows = in.row_count();
    compute_inner_gradients<Rows>(p, d_out, in, ctx);
    using S = stage<0>;
    const auto g = MatrixView<const T, Rows, S::output_width>(gradient<0, Rows>(ctx, rows));
    if constexpr (detail::fuses_activation<typename S::layer>())
      S::layer::backward_input(parameters_of_stage<0>(p), g, in, d_in, kernels::Activation::identity,
                               inner_context<0>(ctx, rows));
    else
      S::layer::backward_input(parameters_of_stage<0>(p), g, in, d_in, inner_context<0>(ctx, rows));
    for (std::size_t i = 0; i < rows * Size; ++i) d_in.data()[i] += d_out.data()[i];
    if (in_act != kernels::Activation::identity)
      kernels::activation_backward(in.data(), d_in.data(), d_in.data(), rows * Size, in_act);
  }

  // The gradients of f's parameters. Takes the parameters (layers/contract.hpp): as the network's first
  // stage the block gets no backward_input call, and the gradients inside f are computed here then.
  template <class T, std::size_t Rows, std::size_t Size>
  static void backward_params(const Parameters<T>& p, MatrixView<const T, Rows, Size> in,
                              MatrixView<const T, Rows, Size> d_out, Parameters<T>& grads,
                              const LayerContext<T>& ctx) {
    const std::size_t rows = in.row_count();
    compute_inner_gradients<Rows>(p, d_out, in, ctx);
    for_each_index<stage_count>([&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      using S = stage<K>;
      using P = typename InnerParameters<T>::template layer_parameters<S::position>;
      if constexpr (std::tuple_size_v < decltype(P::tensors()) >> 0)
        detail::backward_params<typename S::layer>(
            parameters_of_stage<K>(p), stage_input<K, Rows>(in, ctx, rows),
            MatrixView<const T, Rows, S::output_width>(gradient<K, Rows>(ctx, rows)),
            grads.inner.template layer<S::position>(), inner_context<K>(ctx, rows));
    });
  }

 private:
  // f's index of each layer as PyTorch counts modules (Input is none).
  static constexpr std::array<std::size_t, Plan::layer_count> module_indices = [] {
    std::array<std::size_t, Plan::layer_count> index{};
    std::size_t modules = 0;
    for_each_index<Plan::layer_count>([&](auto i) {
      index[i] = modules;
      if (!is_declaration<typename Plan::template layer<decltype(i)::value>>()) ++modules;
    });
    return index;
  }();

  template <class T, bool State>
  static constexpr auto members() {
    return [&]<std::size_t... I>(std::index_sequence<I...>) {
      return std::tuple_cat(members_of<I, T, State>()...);
    }
    (std::make_index_sequence<Plan::layer_count>{});
  }
  template <std::size_t I, class T, bool State>
  static constexpr auto members_of() {
    using P = typename InnerParameters<T>::template layer_parameters<I>;
    using Layer = typename Plan::template layer<I>;
    const auto wrap = [](auto... m) {
      return std::tuple{BlockTensor<I, decltype(m), Layer>{m.kind, m, module_indices[I]}...};
    };
    if constexpr (State)
      return std::apply(wrap, state_tensors_of<P>());
    else
      return std::apply(wrap, P::tensors());
  }

  template <std::size_t K, class T>
  static const auto& parameters_of_stage(const Parameters<T>& p) {
    return p.inner.template layer<stage<K>::position>();
  }

  template <class T>
  static T* slot(const LayerContext<T>& ctx, std::size_t rows, std::size_t index) {
    std::size_t at = 0;
    for (std::size_t j = 0; j < index; ++j)
      at += (rows * widths[j] + extras[j] + alignment - 1) / alignment * alignment;
    return ctx.kept + at;
  }
  template <std::size_t K, std::size_t Rows, class T>
  static MatrixView<T, Rows, stage<K>::output_width> output(const LayerContext<T>& ctx, std::size_t rows) {
    return {slot(ctx, rows, K), rows};
  }
  template <std::size_t K, std::size_t Rows, class T>
  static MatrixView<T, Rows, stage<K>::output_width> gradient(const LayerContext<T>& ctx, std::size_t rows) {
    return {slot(ctx, rows, stage_count + K), rows};
  }
  // Stage K's input: the block's for stage 0, else stage K - 1's output.
  template <std::size_t K, std::size_t Rows, class T, std::size_t Size>
  static MatrixView<const T, Rows, stage<K>::input_width> stage_input(MatrixView<const T, Rows, Size> in,
                                                                      const LayerContext<T>& ctx,
                                                                      std::size_t rows) {
    if constexpr (K == 0)
      return in;
    else
      return MatrixView<const T, Rows, stage<K>::input_width>(output<K - 1, Rows>(ctx, rows).data(), rows);
  }
  template <std::size_t K, class T>
  static LayerContext<T> inner_context(const LayerContext<T>& ctx, std::size_t rows) {
    T* kept = stage<K>::kept_per_row + stage<K>::kept_per_batch == 0 ? nullptr
                                                                     : slot(ctx, rows, 2 * stage_count + K);
    return {ctx.pool, kept, ctx.training, ctx.scratch, stage_random_seed(ctx.random, K)};
  }

  // The gradient at every stage of f, from d_out, once per step (backward_input and backward_params both
  // need them; whichever runs first computes them).
  template <std::size_t Rows, class T, std::size_t Size>
  static void compute_inner_gradients(const Parameters<T>& p, MatrixView<const T, Rows, Size> d_out,
                                      MatrixView<const T, Rows, Size> in, const LayerContext<T>& ctx) {
    const std::size_t rows = in.row_count();
    T* done = slot(ctx, rows, slot_count - 1);
    if (*done != T(0)) return;
    constexpr std::size_t last = stage_count - 1;
    // f's last stage saw its own activation: its derivative comes first.
    T* g = gradient<last, Rows>(ctx, rows).data();
    std::copy_n(d_out.data(), rows * Size, g);
    if constexpr (stage<last>::activation != kernels::Activation::identity)
      kernels::activation_backward(output<last, Rows>(ctx, rows).data(), g, g, rows * Size,
                                   stage<last>::activation);
    for_each_index<stage_count, true>([&](auto k) {
      constexpr std::size_t K = decltype(k)::value;
      if constexpr (K > 0) {
        using S = stage<K>;
        constexpr kernels::Activation in_act = stage<K - 1>::activation;
        const auto g_k = MatrixView<const T, Rows, S::output_width>(gradient<K, Rows>(ctx, rows));
        const auto a = MatrixView<const T, Rows, S::input_width>(output<K - 1, Rows>(ctx, rows));
        const auto d = gradient<K - 1, Rows>(ctx, rows);
        if constexpr (detail::fuses_activation<typename S::layer>()) {
          S::layer::backward_input(parameters_of_stage<K>(p), g_k, a, d, in_act, inner_context<K>(ctx, rows));
        } else {
          S::layer::backward_input(parameters_of_stage<K>(p), g_k, a, d, inner_context<K>(ctx, rows));
          if constexpr (in_act != kernels::Activation::identity)
            kernels::activation_backward(a.data(), d.data(), d.data(), d.size(), in_act);
        }
      }
    });
    *done = T(1);
  }
};

}  // namespace detail

template <class... Layers>
struct Residual : detail::ResidualRules<std::index_sequence_for<Layers...>, Layers...> {
  static std::string name() {
    std::string text = "Residual<";
    std::size_t i = 0;
    ((text += (i++ ? ", " : "") + Layers::name()), ...);
    return text + ">";
  }
  template <ShapeType Received>
  using output_shape = Received;
  // Built for what it receives; after a failed check, a pass-through (the one error above says why).
  template <ShapeType Received>
  using fitted_to = std::conditional_t<detail::ResidualChecks<layer_index<0>, Received, Layers...>::fits,
                                       detail::ResidualBlock<Received, Layers...>, detail::NotALayer>;
};

}  // namespace typenet

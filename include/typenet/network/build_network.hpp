// Turns the layer list the user wrote into a checked network plan: the shape every layer receives (one fold
// over the list), the layers as the network builds them, and the stages it runs.
//
// A stage is one computational layer and the element-wise activation written right after it, run as one
// fused pass (layers/contract.hpp). The losses, activations and reshape layers are not stages of their own.
#pragma once

#include <array>
#include <cstddef>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>

#include "typenet/core/matrix_view.hpp"
#include "typenet/layers/contract.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/shape_check.hpp"

namespace typenet::detail {

// Stands in for a type that is not a layer, after its error (a pass-through, so nothing else fails), and
// for the missing layers of a network that has none.
struct NotALayer {
  static std::string name() { return "(not a layer)"; }
  using input_shape = Shape<1>;
  template <ShapeType Received>
  using output_shape = Received;
  template <class T>
  using Parameters = NoParameters;
  template <class T, std::size_t Rows, std::size_t W>
  static void forward(const NoParameters&, MatrixView<const T, Rows, W> in, MatrixView<T, Rows, W> out,
                      const LayerContext<T>&) {
    for (std::size_t i = 0; i < in.size(); ++i) out.data()[i] = in.data()[i];
  }
  template <class T, std::size_t Rows, std::size_t W>
  static void backward_input(const NoParameters&, MatrixView<const T, Rows, W> d_out,
                             MatrixView<const T, Rows, W>, MatrixView<T, Rows, W> d_in,
                             const LayerContext<T>&) {
    for (std::size_t i = 0; i < d_out.size(); ++i) d_in.data()[i] = d_out.data()[i];
  }
};

// The layer the network works with at a position that receives R: the layer itself, or NotALayer.
template <class L, class R>
using checked_t = std::conditional_t<layer_at<L, R>, L, NotALayer>;

template <class L>
concept computational_layer = !elementwise_layer<L> && !loss_layer<L> && !reshape_layer<L>;

// What an activation position holds when no activation is written there.
struct NoActivation {
  static constexpr kernels::Activation activation = kernels::Activation::identity;
};

template <class Layer, class In, class Out, class Activation, std::size_t Position>
struct Stage {
  using layer = Layer;
  using input_shape = In;
  using output_shape = Out;
  static constexpr std::size_t input_width = In::size;
  static constexpr std::size_t output_width = Out::size;
  static constexpr kernels::Activation activation = Activation::activation;
  static constexpr std::size_t position = Position;  // where the layer stands in the list the user wrote
  static constexpr std::size_t kept_per_row = detail::kept_per_row<Layer>();
  static constexpr std::size_t kept_per_batch = detail::kept_per_batch<Layer>();
  static constexpr std::size_t scratch_size = detail::scratch_size<Layer>();

  // "layer 2 (Dense<256, 128> + Sigmoid)"
  static std::string describe() {
    std::string text = "layer " + std::to_string(Position) + " (" + Layer::name();
    if constexpr (!std::is_same_v<Activation, NoActivation>) text += " + " + Activation::name();
    return text + ")";
  }
};

template <class... S>
struct ShapeList {
  template <std::size_t I>
  using at = std::tuple_element_t<I, std::tuple<S...>>;
  using last = typename decltype((std::type_identity<S>{}, ...))::type;
};

// One step of the shape flow: L receives the last shape so far and adds what it produces.
template <class... S, class L>
auto operator>>(ShapeList<S...>, L*)
    -> ShapeList<S..., typename checked_t<L, typename ShapeList<S...>::last>::template output_shape<
                           typename ShapeList<S...>::last>>;

template <class... Layers>
struct LayerList {};

// What a layer receiving R from Previous is told it receives: Previous's own tag if it declares one (a
// reshape layer, layers/contract.hpp), else outputs_tag<R>.
template <class Previous, class PreviousReceived, class R>
struct received_tag_of {
  using type = outputs_tag<R>;
};
template <class Previous, class PreviousReceived, class R>
requires requires {
  typename Previous::template outputs_tag<PreviousReceived>;
}
struct received_tag_of<Previous, PreviousReceived, R> {
  using type = typename Previous::template outputs_tag<PreviousReceived>;
};

// A layer without rules of its own on what it receives.
struct AcceptsAnyInput {
  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool check_input() {
    return true;
  }
  template <class LayerIndex, class PreviousLayerOutputs>
  static constexpr bool fits() {
    return true;
  }
};

// Does L's own rules pass on what it receives (check_input without the error)? True for a layer with no
// fits() to ask.
template <class L, class LayerIndex, class Received>
constexpr bool layer_fits() {
  if constexpr (requires { L::template fits<LayerIndex, Received>(); })
    return L::template fits<LayerIndex, Received>();
  else
    return true;
}

template <class L>
using input_rules_t = std::conditional_t < requires {
  &L::template check_input<layer_index<0>, previous_layer_outputs<1>>;
}
, L, AcceptsAnyInput > ;

// Whose rules a position runs: its layer's while no layer before it failed its own, else none. After the
// first mistake the shapes downstream come from a guess, and their checks would only repeat it. (A type, not
// a function, so the error's instantiation chain stays as short.)
template <bool Run, class L>
using input_rules_if_t = std::conditional_t<Run, input_rules_t<L>, AcceptsAnyInput>;

template <class L>
constexpr bool declares_input_shape() {
  return requires {
    typename L::input_shape;
  };
}

// The plan of Layers when the first receives Received0, or (void) the input_shape the first layer that
// declares one declares: NetworkPlan below. A block (network/residual.hpp) plans its layers from what it
// receives.
template <class Received0, class... Layers>
struct PlanOf {
  static constexpr std::size_t layer_count = sizeof...(Layers);

  // The network's input: that of the first layer that declares one.
  static constexpr std::size_t first_declared = [] {
    constexpr std::array<bool, layer_count> declares = {declares_input_shape<Layers>()...};
    for (std::size_t i = 0; i < layer_count; ++i)
      if (declares[i]) return i;
    return layer_count;
  }();
  template <std::size_t I>
  static auto declared_input() {
    if constexpr (I < layer_count)
      return typename std::tuple_element_t<I, std::tuple<Layers...>>::input_shape{};
    else
      return Shape<1>{};
  }
  using input_shape =
      std::conditional_t<std::is_void_v<Received0>, decltype(declared_input<first_declared>()), Received0>;

  using Flow = decltype((ShapeList<input_shape>{} >> ... >> static_cast<Layers*>(nullptr)));
  // received<I>: the shape layer I receives; received<layer_count>: what the last layer produces.
  template <std::size_t I>
  using received = typename Flow::template at<I>;
  template <std::size_t I>
  using written = std::tuple_element_t<I, std::tuple<Layers...>>;
  template <std::size_t I>
  using checked = checked_t<written<I>, received<I>>;
  // The layer at position I as the network builds it.
  template <std::size_t I>
  using layer = fitted_t<checked<I>, received<I>>;
  // What the checks say layer I receives: previous_layer_outputs<Dims...>, or what a reshape before it tells.
  template <std::size_t I>
  using received_tag = typename std::conditional_t<
      I == 0, std::type_identity<outputs_tag<received<0>>>,
      received_tag_of<checked<(I == 0 ? 0 : I - 1)>, received<(I == 0 ? 0 : I - 1)>, received<I>>>::type;

  // The first position whose layer does not fit what it receives (layer_count if none).
  template <std::size_t... I>
  static constexpr std::size_t find_first_misfit(std::index_sequence<I...>) {
    constexpr std::array<bool, layer_count> fit = {
        layer_fits<input_rules_t<checked<I>>, layer_index<I>, received_tag<I>>()...};
    for (std::size_t i = 0; i < layer_count; ++i)
      if (!fit[i]) return i;
    return layer_count;
  }
  static constexpr std::size_t first_misfit = find_first_misfit(std::make_index_sequence<layer_count>{});

  template <std::size_t... I>
  static auto make_layers(std::index_sequence<I...>) -> LayerList<layer<I>...>;
  using layers = decltype(make_layers(std::make_index_sequence<layer_count>{}));

  template <std::size_t... I>
  static constexpr std::array<bool, layer_count> computational_flags(std::index_sequence<I...>) {
    return {computational_layer<layer<I>>...};
  }
  static constexpr std::array<bool, layer_count> computational =
      computational_flags(std::make_index_sequence<layer_count>{});

  template <std::size_t... I>
  static constexpr std::size_t count_losses(std::index_sequence<I...>) {
    return (std::size_t{0} + ... + std::size_t{loss_layer<checked<I>>});
  }
  static constexpr std::size_t losses = count_losses(std::make_index_sequence<layer_count>{});

  static constexpr std::size_t computational_count = [] {
    std::size_t count = 0;
    for (bool c : computational) count += c;
    return count;
  }();
  // A network without any computational layer (after its error) runs one pass-through stage.
  static constexpr std::size_t stage_count = computational_count == 0 ? 1 : computational_count;
  static constexpr std::array<std::size_t, stage_count> stage_positions = [] {
    std::array<std::size_t, stage_count> positions{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < layer_count; ++i)
      if (computational[i]) positions[k++] = i;
    return positions;
  }();

  template <std::size_t Position>
  static auto activation_after() {
    if constexpr (Position + 1 < layer_count) {
      using Next = layer<Position + 1>;
      if constexpr (elementwise_layer<Next> && fuses_activation<layer<Position>>())
        return std::type_identity<Next>{};
      else
        return std::type_identity<NoActivation>{};
    } else {
      return std::type_identity<NoActivation>{};
    }
  }

  template <std::size_t K>
  static auto make_stage() {
    if constexpr (computational_count == 0) {
      return Stage<NotALayer, input_shape, input_shape, NoActivation, 0>{};
    } else {
      constexpr std::size_t p = stage_positions[K];
      return Stage<layer<p>, received<p>, received<p + 1>, typename decltype(activation_after<p>())::type,
                   p>{};
    }
  }
  template <std::size_t... K>
  static auto make_stages(std::index_sequence<K...>) -> std::tuple<decltype(make_stage<K>())...>;
  using stages = decltype(make_stages(std::make_index_sequence<stage_count>{}));

  // The last loss written, or SoftmaxCrossEntropy for a network that failed the loss check.
  template <std::size_t... I>
  static constexpr std::size_t find_last_loss(std::index_sequence<I...>) {
    constexpr std::array<bool, layer_count> is_loss = {loss_layer<checked<I>>...};
    std::size_t last = layer_count;
    for (std::size_t i = 0; i < layer_count; ++i)
      if (is_loss[i]) last = i;
    return last;
  }
  static constexpr std::size_t loss_position = find_last_loss(std::make_index_sequence<layer_count>{});
  template <std::size_t P>
  static auto loss_at() {
    if constexpr (P < layer_count)
      return std::type_identity<checked<P>>{};
    else
      return std::type_identity<SoftmaxCrossEntropy>{};
  }
  using loss = typename decltype(loss_at<loss_position>())::type;

  // "Dense<784, 256>": the name of the layer at a position (for messages).
  static std::string layer_name(std::size_t position) {
    return name_at(position, std::make_index_sequence<layer_count>{});
  }
  template <std::size_t... I>
  static std::string name_at(std::size_t position, std::index_sequence<I...>) {
    std::string name;
    ((I == position ? (void)(name = layer<I>::name()) : (void)0), ...);
    return name;
  }
};

template <class... Layers>
struct NetworkPlan : PlanOf<void, Layers...> {};

template <class T, class Plan>
class NetworkImpl;

// Every check, flat. Each check_* is true when it passes; when it fails its static_assert is the one error.
template <class T, class... Layers, std::size_t... I>
constexpr auto build_network(std::index_sequence<I...>) {
  check_network_has_layers<layer_count<sizeof...(Layers)>>();
  if constexpr (sizeof...(Layers) == 0) {
    return std::type_identity<NetworkImpl<T, NetworkPlan<NotALayer, SoftmaxCrossEntropy>>>{};
  } else {
    using Plan = NetworkPlan<Layers...>;
    (check_layer_contract<layer_index<I>, Layers, outputs_tag<typename Plan::template received<I>>>() && ...);
    (check_reshape_keeps_size<layer_index<I>, typename Plan::template checked<I>,
                              outputs_tag<typename Plan::template received<I>>>() &&
     ...);
    check_first_layer<layer_index<0>, typename Plan::template checked<0>>();
    (check_activation_position<layer_index<I>, typename Plan::template checked<I>,
                               previous_layer<typename Plan::template layer<(I == 0 ? 0 : I - 1)>>>() &&
     ...);
    (input_rules_if_t<I <= Plan::first_misfit, typename Plan::template checked<I>>::template check_input<
         layer_index<I>, typename Plan::template received_tag<I>>() &&
     ...);
    check_loss_count<loss_count<Plan::losses>>();
    if constexpr (Plan::losses == 1)  // with two losses, one of them is necessarily not last: say it once
      (check_loss_position<layer_index<I>, typename Plan::template checked<I>,
                           layer_count<sizeof...(Layers)>>() &&
       ...);
    return std::type_identity<NetworkImpl<T, Plan>>{};
  }
}

}  // namespace typenet::detail

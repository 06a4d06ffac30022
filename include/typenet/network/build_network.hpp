// Turns the layer list the user wrote into a checked network type: runs every shape check (shape_check.hpp)
// and groups each Dense layer with the activation after it into a stage.
#pragma once

#include <array>
#include <cstddef>
#include <tuple>
#include <type_traits>
#include <utility>

#include "typenet/layers/activations.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/shape_check.hpp"
#include "typenet/network/stage.hpp"

namespace typenet::detail {

template <class T, class Loss, class... Stages>
class NetworkImpl;

template <std::size_t I, class... Layers>
using layer_at = std::tuple_element_t<I, std::tuple<Layers...>>;

template <class... Layers>
struct StagePlan {
  using Flow = WidthFlow<Layers...>;
  static constexpr std::size_t stage_count = [] {
    std::size_t count = 0;
    for (bool is_dense : Flow::dense) count += is_dense;
    return count;
  }();
  static constexpr std::array<std::size_t, stage_count> dense_positions = [] {
    std::array<std::size_t, stage_count> positions{};
    std::size_t k = 0;
    for (std::size_t i = 0; i < Flow::layer_count; ++i)
      if (Flow::dense[i]) positions[k++] = i;
    return positions;
  }();

  template <std::size_t Position>
  static constexpr kernels::Activation activation_after() {
    if constexpr (Position + 1 < Flow::layer_count) {
      using Next = layer_at<Position + 1, Layers...>;
      if constexpr (is_activation_v<Next>) return Next::activation;
    }
    return kernels::Activation::identity;
  }

  template <std::size_t K>
  using stage = DenseStage<Flow::received[dense_positions[K]], Flow::declared_outputs[dense_positions[K]],
                           activation_after<dense_positions[K]>(), dense_positions[K]>;

  // The last loss written, or SoftmaxCrossEntropy for a network that failed the loss check.
  using losses =
      decltype(std::tuple_cat(std::conditional_t<is_loss_v<Layers>, std::tuple<Layers>, std::tuple<>>{}...));
  using loss = std::tuple_element_t<std::tuple_size_v<losses>,
                                    decltype(std::tuple_cat(std::tuple<SoftmaxCrossEntropy>{}, losses{}))>;

  template <class T, std::size_t... K>
  static auto network(std::index_sequence<K...>) -> NetworkImpl<T, loss, stage<K>...>;
};

template <std::size_t I, class... Layers>
using previous_layer_t = layer_at<(I == 0 ? 0 : I - 1), Layers...>;

// Every check, flat. Each check_* is true when it passes; when it fails its static_assert is the one error.
template <class T, class... Layers, std::size_t... I>
constexpr auto build_network(std::index_sequence<I...>) {
  using Flow = WidthFlow<Layers...>;
  check_first_layer<layer_index<0>, layer_at<0, Layers...>>();
  (check_activation_position<layer_index<I>, Layers, previous_layer<previous_layer_t<I, Layers...>>>() &&
   ...);
  (check_layer_widths<layer_index<I>, Layers>() && ...);
  (check_layer_input<layer_index<I>, Layers, previous_layer_outputs<Flow::received[I]>>() && ...);
  check_loss_count<loss_count<Flow::losses>>();
  if constexpr (Flow::losses == 1)  // with two losses, one of them is necessarily not last: say it once
    (check_loss_position<layer_index<I>, Layers, layer_count<sizeof...(Layers)>>() && ...);
  using Plan = StagePlan<Layers...>;
  return std::type_identity<decltype(Plan::template network<T>(
      std::make_index_sequence<Plan::stage_count>{}))>{};
}

}  // namespace typenet::detail

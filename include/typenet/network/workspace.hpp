// Workspace: the work matrices of a pass over `rows` samples, carved from one arena, in one layout shared by
// inference, the loss-only pass and training:
//   [scratch][output of each stage][what each stage keeps from forward][the loss's predictions][gradient of
//   each stage]
// where scratch is the largest scratch_size of any stage (layers/contract.hpp), whatever the row count.
// The forward-only passes use the part before the gradients. The arena grows only when a pass has more rows
// than any before, never inside a training step that fits (TrainerOptions::reserve_rows).
#pragma once

#include <array>
#include <cstddef>
#include <tuple>

#include "typenet/core/arena.hpp"
#include "typenet/core/matrix_view.hpp"

namespace typenet::detail {

template <class T, class Plan>
class Workspace {
 public:
  static constexpr std::size_t stage_count = Plan::stage_count;
  template <std::size_t K>
  using stage = std::tuple_element_t<K, typename Plan::stages>;

  // Makes room for `rows` rows (with the gradients, for training); a no-op once they fit.
  void reserve(std::size_t rows, bool with_gradients) {
    arena_.reserve(offset(rows, with_gradients ? 3 * stage_count + 1 : 2 * stage_count + 1));
  }
  std::size_t capacity() const { return arena_.capacity(); }

  // Stage K's output (after its fused activation) and gradient dL/dz at its pre-activation; Rows may be
  // dynamic_rows, with the count in `rows`.
  template <std::size_t Rows, std::size_t K>
  MatrixView<T, Rows, stage<K>::output_width> output(std::size_t rows = Rows) const {
    return {arena_.data() + slot<Rows, K>(rows), rows};
  }
  template <std::size_t Rows, std::size_t K>
  MatrixView<T, Rows, stage<K>::output_width> gradient(std::size_t rows = Rows) const {
    return {arena_.data() + slot<Rows, 2 * stage_count + 1 + K>(rows), rows};
  }
  // rows * kept_per_row values, then kept_per_batch.
  template <std::size_t K>
  T* kept(std::size_t rows) const {
    return stage<K>::kept_per_row + stage<K>::kept_per_batch == 0
               ? nullptr
               : arena_.data() + offset(rows, stage_count + K);
  }
  // The scratch of the stage that runs now (null when no stage asks for one).
  T* scratch() const { return scratch_values == 0 ? nullptr : arena_.data(); }

  template <std::size_t Rows>
  MatrixView<T, Rows, stage<stage_count - 1>::output_width> predictions(std::size_t rows = Rows) const {
    return {arena_.data() + slot<Rows, 2 * stage_count>(rows), rows};
  }

 private:
  template <std::size_t... K>
  static constexpr std::array<std::size_t, 3 * stage_count + 1> slot_widths(std::index_sequence<K...>) {
    return {stage<K>::output_width..., stage<K>::kept_per_row..., stage<stage_count - 1>::output_width,
            stage<K>::output_width...};
  }
  static constexpr auto widths = slot_widths(std::make_index_sequence<stage_count>{});
  // Values of a slot whatever the row count: the kept_per_batch of the kept slots.
  template <std::size_t... K>
  static constexpr std::array<std::size_t, 3 * stage_count + 1> slot_extras(std::index_sequence<K...>) {
    std::array<std::size_t, 3 * stage_count + 1> extras{};
    const std::array<std::size_t, stage_count> per_batch = {stage<K>::kept_per_batch...};
    for (std::size_t k = 0; k < stage_count; ++k) extras[stage_count + k] = per_batch[k];
    return extras;
  }
  static constexpr auto extras = slot_extras(std::make_index_sequence<stage_count>{});

  template <std::size_t... K>
  static constexpr std::size_t largest_scratch(std::index_sequence<K...>) {
    std::size_t largest = 0;
    ((largest = stage<K>::scratch_size > largest ? stage<K>::scratch_size : largest), ...);
    return largest;
  }
  static constexpr std::size_t scratch_values = largest_scratch(std::make_index_sequence<stage_count>{});

  // Where slot `slot` starts for `rows` rows: every slot starts on a cache line.
  static constexpr std::size_t offset(std::size_t rows, std::size_t slot) {
    std::size_t total = Arena<T>::round_up(scratch_values);
    for (std::size_t i = 0; i < slot; ++i) total += Arena<T>::round_up(rows * widths[i] + extras[i]);
    return total;
  }

  // offset(), computed by the compiler when the row count is a constant.
  template <std::size_t Rows, std::size_t Slot>
  static std::size_t slot(std::size_t rows) {
    if constexpr (Rows == dynamic_rows) {
      return offset(rows, Slot);
    } else {
      constexpr std::size_t at = offset(Rows, Slot);
      return at;
    }
  }

  Arena<T> arena_;
};

}  // namespace typenet::detail

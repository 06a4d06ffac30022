// Dropout<N, D>: inverted dropout with rate N/D (Dropout<20> drops 20% of the values, Dropout<1, 3> a third).
//
// In training each value is kept with probability 1 - rate and then scaled by 1 / (1 - rate), so a value's
// expected output is its input and inference is the identity (predict, classify, accuracy and the loss-only
// passes never drop). The mask is a function of ctx.random (TrainerOptions::seed, the step number and the
// layer's position), the row and the column: the same seed gives the same masks and the same weights, bit
// for bit, on any machine. Backward draws the same mask again instead of keeping it, so the layer needs no
// memory of its own and adapts to whatever shape it receives. Place it after an activation:
//
//   Network<Dense<784, 256>, ReLU, Dropout<20>, Dense<256, 10>, SoftmaxCrossEntropy>
#pragma once

#include <cstddef>
#include <cstdint>
#include <string>

#include "typenet/core/matrix_view.hpp"
#include "typenet/core/shape.hpp"
#include "typenet/layers/contract.hpp"

namespace typenet {

template <std::size_t Numerator, std::size_t Denominator>
struct Dropout;

// The rate of the Dropout at LayerIndex is below 1 (a rate of 1 would drop everything and scale by 1/0).
template <class LayerIndex, class Layer>
struct dropout_rate_is_below_one {
  static constexpr bool value = true;
};
template <class Index, std::size_t N, std::size_t D>
struct dropout_rate_is_below_one<Index, Dropout<N, D>> {
  static constexpr bool value = D > 0 && N < D;
};

template <std::size_t Numerator, std::size_t Denominator = 100>
struct Dropout {
  static constexpr double rate = Denominator > 0 && Numerator < Denominator
                                     ? double(Numerator) / double(Denominator)
                                     : 0;

  template <class LayerIndex, class Received>
  static constexpr bool check_input() {
    static_assert(dropout_rate_is_below_one<LayerIndex, Dropout>::value,
                  "typenet: a Dropout rate N / D must be below 1 (Dropout<20> drops 20%)");
    return true;
  }
  template <class LayerIndex, class Received>
  static constexpr bool fits() {
    return dropout_rate_is_below_one<LayerIndex, Dropout>::value;
  }

  static std::string name() {
    return "Dropout<" + std::to_string(Numerator) +
           (Denominator == 100 ? "" : ", " + std::to_string(Denominator)) + ">";
  }
  template <ShapeType Received>
  using output_shape = Received;
  template <class T>
  using Parameters = NoParameters;

  template <class T, std::size_t Rows, std::size_t Size>
  static void forward(const NoParameters&, MatrixView<const T, Rows, Size> in, MatrixView<T, Rows, Size> out,
                      const LayerContext<T>& ctx) {
    apply_mask(in.data(), out.data(), in.row_count() * Size, ctx);
  }

  template <class T, std::size_t Rows, std::size_t Size>
  static void backward_input(const NoParameters&, MatrixView<const T, Rows, Size> d_out,
                             MatrixView<const T, Rows, Size>, MatrixView<T, Rows, Size> d_in,
                             const LayerContext<T>& ctx) {
    apply_mask(d_out.data(), d_in.data(), d_out.row_count() * Size, ctx);
  }

  // Whether value i of the batch is kept in the pass whose seed is `random` (a uniform 53-bit draw against
  // the rate, from a counter-based hash: no state, the same draw in forward and backward).
  static bool kept(std::uint64_t random, std::size_t i) {
    constexpr double scale = 9007199254740992.0;  // 2^53
    constexpr std::uint64_t threshold = std::uint64_t(rate * scale);
    return (detail::mix_bits(random ^ (0x9E3779B97F4A7C15ull * (std::uint64_t(i) + 1))) >> 11) >= threshold;
  }

 private:
  template <class T>
  static void apply_mask(const T* from, T* to, std::size_t count, const LayerContext<T>& ctx) {
    if (!ctx.training || Numerator == 0) {
      if (from != to)
        for (std::size_t i = 0; i < count; ++i) to[i] = from[i];
      return;
    }
    const T keep_scale = T(1 / (1 - rate));
    for (std::size_t i = 0; i < count; ++i) to[i] = kept(ctx.random, i) ? from[i] * keep_scale : T(0);
  }
};

}  // namespace typenet

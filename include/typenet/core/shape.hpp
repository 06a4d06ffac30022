// Shape<Dims...>: the shape of one sample, as a type. Shape<N> is a vector of N features; Shape<C, H, W> an
// image of C channels (stored NCHW: one sample is one row of C*H*W values). A batch of B samples is a B-row
// matrix whose width is the shape's size, so every layer's views stay plain row-major matrices.
#pragma once

#include <array>
#include <cstddef>
#include <span>
#include <string>

namespace typenet {

template <std::size_t... Dims>
struct Shape {
  static_assert(sizeof...(Dims) >= 1 && sizeof...(Dims) <= 3,
                "typenet::Shape: a shape has 1 to 3 dimensions");
  static constexpr std::size_t rank = sizeof...(Dims);
  static constexpr std::array<std::size_t, rank> dims = {Dims...};
  static constexpr std::size_t size = (std::size_t{1} * ... * Dims);  // values per sample

  // "784", "6x28x28"
  static std::string text();
};

namespace detail {

// "784", "6x28x28": dimensions joined by 'x' (shapes in messages and in the model file's errors).
inline std::string dims_text(std::span<const std::size_t> dims) {
  std::string out;
  for (std::size_t d : dims) {
    if (!out.empty()) out += 'x';  // appended: g++ 12 warns (-Wrestrict) on "x" + std::string
    out += std::to_string(d);
  }
  return out;
}

// The channels, height and width an image layer reads in S: S itself when it is Shape<C, H, W>, else
// 1 x 1 x size (what such a layer is built for after the error saying it needs an image).
template <class S>
struct image_dims {
  static constexpr bool is_image = S::rank == 3;
  static constexpr std::size_t channels = is_image ? S::dims[0] : 1;
  static constexpr std::size_t height = is_image ? S::dims[1] : 1;
  static constexpr std::size_t width = is_image ? S::dims[2] : S::size;
};

template <class S>
struct is_shape {
  static constexpr bool value = false;
};
template <std::size_t... Dims>
struct is_shape<Shape<Dims...>> {
  static constexpr bool value = true;
};

}  // namespace detail

template <std::size_t... Dims>
std::string Shape<Dims...>::text() {
  return detail::dims_text(dims);
}

template <class S>
concept ShapeType = detail::is_shape<S>::value;

}  // namespace typenet

// MatrixView<T, Rows, Cols>: a non-owning, row-major view with a static shape. Layers pass views to each
// other, so every product in the forward and backward chain is shape-checked by the compiler. Rows may be
// `dynamic_rows` (inference over any number of samples): the width stays a type, the count is a value.
#pragma once

#include <cstddef>
#include <limits>
#include <type_traits>

namespace typenet {

inline constexpr std::size_t dynamic_rows = std::numeric_limits<std::size_t>::max();

namespace detail {
template <std::size_t Rows>
struct RowCount {
  constexpr explicit RowCount(std::size_t = Rows) {}
  static constexpr std::size_t value() { return Rows; }
};
template <>
struct RowCount<dynamic_rows> {
  constexpr explicit RowCount(std::size_t count) : count_(count) {}
  constexpr std::size_t value() const { return count_; }
  std::size_t count_;
};
}  // namespace detail

template <class T, std::size_t Rows, std::size_t Cols>
class MatrixView {
 public:
  using value_type = std::remove_const_t<T>;
  static constexpr std::size_t cols = Cols;

  constexpr explicit MatrixView(T* data) requires(Rows != dynamic_rows) : data_(data), rows_(Rows) {}
  constexpr MatrixView(T* data, std::size_t rows) : data_(data), rows_(rows) {}
  // A view of mutable data is also a view of const data.
  template <class U>
  requires(std::is_same_v<const U, T> &&
           !std::is_same_v<U, T>) constexpr MatrixView(MatrixView<U, Rows, Cols> other)
      : data_(other.data()), rows_(other.row_count()) {}

  constexpr T* data() const { return data_; }
  constexpr std::size_t row_count() const { return rows_.value(); }
  constexpr std::size_t size() const { return row_count() * Cols; }
  constexpr T& operator()(std::size_t row, std::size_t col) const { return data_[row * Cols + col]; }

 private:
  T* data_;
  [[no_unique_address]] detail::RowCount<Rows> rows_;
};

}  // namespace typenet

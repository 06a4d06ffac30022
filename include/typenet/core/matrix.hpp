// Matrix<T, Rows, Cols>: a matrix whose shape is part of its type. Row-major, 64-byte aligned; a batch of
// samples is the rows. Storage is on the heap (the 784x256 weights alone are 0.8 MB), allocated once at
// construction; nothing in a training step constructs one.
#pragma once

#include <algorithm>
#include <cstddef>
#include <memory>
#include <new>
#include <span>

#include "typenet/core/matrix_view.hpp"

namespace typenet {

template <class T, std::size_t Rows, std::size_t Cols>
class Matrix {
  static_assert(Rows > 0 && Cols > 0, "typenet::Matrix: both dimensions must be positive");

 public:
  using value_type = T;
  static constexpr std::size_t rows = Rows;
  static constexpr std::size_t cols = Cols;
  static constexpr std::size_t size = Rows * Cols;
  static constexpr std::size_t alignment = 64;  // a cache line, and a full AVX-512 vector

  // Zero-filled.
  Matrix() : data_(static_cast<T*>(::operator new[](bytes(), std::align_val_t{alignment}))) { fill(T(0)); }
  // From nested braces, row by row: Matrix<double, 2, 3> m({{1, 2, 3}, {4, 5, 6}}). A row or value too many
  // does not compile; missing ones are zero, as in any array.
  Matrix(const T (&values)[Rows][Cols]) : Matrix() {
    for (std::size_t r = 0; r < Rows; ++r) std::copy_n(values[r], Cols, data() + r * Cols);
  }
  Matrix(const Matrix& other) : Matrix() { std::copy_n(other.data(), size, data()); }
  Matrix(Matrix&&) noexcept = default;
  Matrix& operator=(const Matrix& other) {
    if (this != &other) std::copy_n(other.data(), size, data());
    return *this;
  }
  Matrix& operator=(Matrix&&) noexcept = default;
  ~Matrix() = default;

  T* data() { return data_.get(); }
  const T* data() const { return data_.get(); }
  std::span<T, size> values() { return std::span<T, size>(data(), size); }
  std::span<const T, size> values() const { return std::span<const T, size>(data(), size); }

  T& operator()(std::size_t row, std::size_t col) { return data_[row * Cols + col]; }
  const T& operator()(std::size_t row, std::size_t col) const { return data_[row * Cols + col]; }
  std::span<T, Cols> row(std::size_t r) { return std::span<T, Cols>(data() + r * Cols, Cols); }
  std::span<const T, Cols> row(std::size_t r) const {
    return std::span<const T, Cols>(data() + r * Cols, Cols);
  }

  void fill(T value) { std::fill_n(data(), size, value); }

  MatrixView<T, Rows, Cols> view() { return MatrixView<T, Rows, Cols>(data()); }
  MatrixView<const T, Rows, Cols> view() const { return MatrixView<const T, Rows, Cols>(data()); }
  operator MatrixView<T, Rows, Cols>() { return view(); }
  operator MatrixView<const T, Rows, Cols>() const { return view(); }

 private:
  static constexpr std::size_t bytes() { return size * sizeof(T); }
  struct AlignedDelete {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t{alignment}); }
  };
  std::unique_ptr<T[], AlignedDelete> data_;
};

// Row vectors (biases) are 1 x N matrices.
template <class T, std::size_t N>
using RowVector = Matrix<T, 1, N>;

}  // namespace typenet

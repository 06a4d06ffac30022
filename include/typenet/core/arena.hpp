// Arena: one 64-byte-aligned buffer that the per-batch work matrices are carved from. It grows only when a
// larger batch than any before is requested, never inside a step that fits.
#pragma once

#include <cstddef>
#include <memory>
#include <new>

namespace typenet::detail {

template <class T>
class Arena {
 public:
  static constexpr std::size_t alignment = 64;
  // Offsets are rounded up to a cache line so every carved matrix starts aligned.
  static constexpr std::size_t round_up(std::size_t count) {
    constexpr std::size_t per_line = alignment / sizeof(T);
    return (count + per_line - 1) / per_line * per_line;
  }

  void reserve(std::size_t count) {
    if (count <= capacity_) return;
    data_.reset(static_cast<T*>(::operator new[](count * sizeof(T), std::align_val_t{alignment})));
    capacity_ = count;
  }
  T* data() const { return data_.get(); }
  std::size_t capacity() const { return capacity_; }

 private:
  struct AlignedDelete {
    void operator()(T* p) const { ::operator delete[](p, std::align_val_t{alignment}); }
  };
  std::unique_ptr<T[], AlignedDelete> data_;
  std::size_t capacity_ = 0;
};

}  // namespace typenet::detail

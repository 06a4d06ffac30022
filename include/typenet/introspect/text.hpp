// Text helpers for the introspection tables. concat() builds a string by appending pieces: besides being
// one allocation, it keeps clear of g++ 12's false -Wrestrict warning on `"literal" + std::string&&`.
#pragma once

#include <cstddef>
#include <initializer_list>
#include <string>
#include <string_view>

namespace typenet::detail {

inline std::string concat(std::initializer_list<std::string_view> pieces) {
  std::size_t size = 0;
  for (std::string_view piece : pieces) size += piece.size();
  std::string text;
  text.reserve(size);
  for (std::string_view piece : pieces) text.append(piece);
  return text;
}

// Pads like Python's f"{text:<width}": never truncates.
inline std::string pad_right(std::string_view text, std::size_t width) {
  std::string padded(text);
  if (padded.size() < width) padded.append(width - padded.size(), ' ');
  return padded;
}

}  // namespace typenet::detail

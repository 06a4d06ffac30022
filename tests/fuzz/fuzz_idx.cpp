// libFuzzer target: any bytes given to the IDX reader (raw, and through gunzip when they start like gzip)
// must either parse or throw typenet::DataError; anything else (a crash, a sanitizer report, another
// exception) is a finding.
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "typenet/io/idx.hpp"

namespace {

void parse_all_ways(std::span<const std::uint8_t> bytes) {
  for (const std::size_t dims : {1u, 3u}) {
    try {
      const typenet::IdxArray array = typenet::parse_idx(bytes, dims, "fuzz-idx");
      // What parse_idx promises: the dimensions multiply to the number of values.
      std::size_t product = 1;
      for (const std::size_t d : array.dims) product *= d;
      if (array.dims.size() != dims || product != array.values.size()) __builtin_trap();
    } catch (const typenet::DataError&) {
    }
  }
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  parse_all_ways(bytes);
  try {
    const std::vector<std::uint8_t> plain = typenet::gunzip(bytes, "fuzz-idx.gz");
    parse_all_ways(plain);
  } catch (const typenet::DataError&) {
  }
  return 0;
}

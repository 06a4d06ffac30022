// Saving and loading a network's parameters: typenet::save_model(net, path), typenet::load_model(net, path).
//
// The file format, version 1. Every integer and value is little-endian, whatever the machine.
//   offset    size      field
//   0         8         magic "TYPENET\0"
//   8         4         u32 format version (1)
//   12        4         u32 scalar type: bytes per value, 4 = IEEE-754 binary32 (float), 8 = binary64
//   (double) 16        4         u32 L, the number of Dense layers 20        16 * L    per Dense layer: u64
//   inputs, u64 outputs 20 + 16L  ...       the parameter tensors in for_each_parameter_tensor order: per
//   Dense layer its weights
//                       (inputs x outputs, row-major), then its bias (outputs), as raw IEEE values
//   end - 4   4         u32 CRC-32 (the zlib / IEEE 802.3 polynomial) of every byte before it
//
// save_model writes `path.tmp`, flushes it to disk and renames it over `path`, so a crash or a full disk
// never leaves a half-written model under the real name. load_model reads and checks the whole file before
// it touches the network: on any error (a ModelFileError naming the file and what differs, e.g.
// "model.tnet: layer 1 (Dense): file has 256x64, network has 256x128") the network is unchanged.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

namespace typenet {

class ModelFileError : public std::runtime_error {
 public:
  using std::runtime_error::runtime_error;
};

inline constexpr std::uint32_t model_file_version = 1;

namespace detail {

inline constexpr char model_magic[8] = {'T', 'Y', 'P', 'E', 'N', 'E', 'T', '\0'};
inline constexpr std::size_t model_header_size = 20;

// Defined in src/io/model_file.cc.
std::uint32_t crc32_of(std::span<const std::uint8_t> bytes);
// Writes `path.tmp`, checks every write, flush, fsync and close, then renames it to `path`.
void write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes);
std::vector<std::uint8_t> read_model_bytes(const std::filesystem::path& path);

template <class U>
void put_le(std::vector<std::uint8_t>& out, U value) {
  for (std::size_t i = 0; i < sizeof(U); ++i) out.push_back(std::uint8_t(value >> (8 * i)));
}
template <class U>
U get_le(const std::uint8_t* p) {
  U value = 0;
  for (std::size_t i = 0; i < sizeof(U); ++i) value |= U(p[i]) << (8 * i);
  return value;
}

// The unsigned integer with T's bits.
template <class T>
using bits_of = std::conditional_t<sizeof(T) == 4, std::uint32_t, std::uint64_t>;

}  // namespace detail

// The file's bytes for `net` (what save_model writes).
template <class Net>
std::vector<std::uint8_t> encode_model(const Net& net) {
  using T = typename Net::scalar_type;
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "typenet model files hold float or double");
  std::vector<std::uint8_t> out(detail::model_magic, detail::model_magic + 8);
  out.reserve(detail::model_header_size + 16 * Net::stage_count + Net::parameter_count * sizeof(T) + 4);
  detail::put_le(out, model_file_version);
  detail::put_le(out, std::uint32_t(sizeof(T)));
  detail::put_le(out, std::uint32_t(Net::stage_count));
  for (std::size_t k = 0; k < Net::stage_count; ++k) {
    detail::put_le(out, std::uint64_t(Net::widths[k]));
    detail::put_le(out, std::uint64_t(Net::widths[k + 1]));
  }
  net.for_each_parameter_tensor([&](auto tensor) {
    for (T v : tensor.values) detail::put_le(out, std::bit_cast<detail::bits_of<T>>(v));
  });
  detail::put_le(out, detail::crc32_of(out));
  return out;
}

// Checks `bytes` against `net`'s shape and, only if every check passes, copies the parameters into it.
template <class Net>
void decode_model(Net& net, std::span<const std::uint8_t> bytes, const std::string& name) {
  using T = typename Net::scalar_type;
  auto fail = [&](const std::string& what) {
    throw ModelFileError(name + ": " + what);
  };
  const std::size_t size = bytes.size();
  if (size < detail::model_header_size)
    fail("truncated header: expected at least " + std::to_string(detail::model_header_size) +
         " bytes, found " + std::to_string(size));
  if (std::memcmp(bytes.data(), detail::model_magic, 8) != 0)
    fail("magic: expected \"TYPENET\\0\": not a typenet model file");
  const auto version = detail::get_le<std::uint32_t>(bytes.data() + 8);
  if (version != model_file_version)
    fail("format version: file has " + std::to_string(version) + ", this build reads " +
         std::to_string(model_file_version));
  const auto scalar = detail::get_le<std::uint32_t>(bytes.data() + 12);
  auto scalar_name = [](std::uint32_t s) {
    return std::to_string(s) + (s == 4 ? " (float)" : s == 8 ? " (double)" : " (unknown)");
  };
  if (scalar != sizeof(T))
    fail("scalar type: file has " + scalar_name(scalar) + ", network has " + scalar_name(sizeof(T)));
  const auto layers = detail::get_le<std::uint32_t>(bytes.data() + 16);
  const std::size_t shapes_end = detail::model_header_size + 16 * std::size_t(layers);
  if (size < shapes_end)
    fail("truncated layer table: expected " + std::to_string(shapes_end) + " bytes for " +
         std::to_string(layers) + " layers, found " + std::to_string(size));
  for (std::size_t k = 0; k < std::min<std::size_t>(layers, Net::stage_count); ++k) {
    const auto in = detail::get_le<std::uint64_t>(bytes.data() + detail::model_header_size + 16 * k);
    const auto out = detail::get_le<std::uint64_t>(bytes.data() + detail::model_header_size + 16 * k + 8);
    if (in != Net::widths[k] || out != Net::widths[k + 1])
      fail("layer " + std::to_string(k) + " (Dense): file has " + std::to_string(in) + "x" +
           std::to_string(out) + ", network has " + std::to_string(Net::widths[k]) + "x" +
           std::to_string(Net::widths[k + 1]));
  }
  if (layers != Net::stage_count)
    fail("layer count: file has " + std::to_string(layers) + " Dense layers, network has " +
         std::to_string(Net::stage_count));
  const std::size_t expected = shapes_end + Net::parameter_count * sizeof(T) + 4;
  if (size != expected)
    fail(std::string(size < expected ? "truncated" : "trailing bytes") + ": expected " +
         std::to_string(expected) + " bytes, found " + std::to_string(size));
  const auto stored_crc = detail::get_le<std::uint32_t>(bytes.data() + size - 4);
  const auto actual_crc = detail::crc32_of(bytes.first(size - 4));
  if (stored_crc != actual_crc)
    fail("checksum: the file is corrupt (its CRC-32 does not match its contents)");

  const std::uint8_t* p = bytes.data() + shapes_end;
  net.for_each_parameter_tensor([&](auto tensor) {
    for (T& v : tensor.values) {
      v = std::bit_cast<T>(detail::get_le<detail::bits_of<T>>(p));
      p += sizeof(T);
    }
  });
}

template <class Net>
void save_model(const Net& net, const std::filesystem::path& path) {
  detail::write_file_atomically(path, encode_model(net));
}

template <class Net>
void load_model(Net& net, const std::filesystem::path& path) {
  const std::vector<std::uint8_t> bytes = detail::read_model_bytes(path);
  decode_model(net, bytes, path.string());
}

}  // namespace typenet

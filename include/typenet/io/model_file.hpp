// Saving and loading a network's parameters: typenet::save_model(net, path), typenet::load_model(net, path).
//
// The file format, version 3. Every integer and value is little-endian, whatever the machine.
//   offset    size      field
//   0         8         magic "TYPENET\0"
//   8         4         u32 format version (3)
//   12        4         u32 scalar type: bytes per value, 4 = IEEE-754 binary32 (float), 8 = binary64
//                       (double)
//   16        4         u32 L, the number of layers: every layer written, activations and the loss included
//   20        ...       per layer, in order: u32 n, then n bytes of its name as the network has it
//                       ("Dense<784, 256>", "Sigmoid", "SoftmaxCrossEntropy"); u32 rank and rank x u64: the
//                       shape it receives; u64: how many parameter values it has; u64: how many state
//                       values it has (BatchNorm's running mean and variance; 0 for most layers)
//   ...       ...       the parameter tensors in for_each_parameter_tensor order (per Dense layer its
//                       weights, inputs x outputs row-major, then its bias), as raw IEEE values
//   ...       ...       the state tensors in for_each_state_tensor order, as raw IEEE values
//   end - 4   4         u32 CRC-32 (the zlib / IEEE 802.3 polynomial) of every byte before it
// Version 2 (still read) is version 3 without state: no state count in the records, no state tensors.
// Version 1 (still read) recorded only the Dense layers: u32 D at 16, then D x (u64 inputs, u64 outputs),
// then the tensors and the CRC-32. Such a file loads into a network whose Dense layers have those shapes;
// it cannot say which activations or loss it was trained with.
//
// save_model writes `path.tmp`, flushes it to disk and renames it over `path`, so a crash or a full disk
// never leaves a half-written model under the real name. load_model reads and checks the whole file before
// it touches the network: on any error (a ModelFileError naming the file, the first differing layer and
// both sides, e.g. "model.tnet: layer 2: file has Dense<256, 64>, network has Dense<256, 128>") the network
// is unchanged.
#pragma once

#include <algorithm>
#include <bit>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <vector>

#include "typenet/core/shape.hpp"
#include "typenet/network/parameters.hpp"

#include "typenet/core/error.hpp"

namespace typenet {

class ModelFileError : public Error {
 public:
  using Error::Error;
};

inline constexpr std::uint32_t model_file_version = 3;

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

namespace detail {

template <class Net>
struct ModelRecords {
  struct Layer {
    std::string name;
    std::vector<std::uint64_t> shape;  // what it receives
    std::uint64_t values;              // parameter values
    std::uint64_t state_values;        // state values (version 3)
  };
  static std::vector<Layer> of_network() {
    std::vector<Layer> layers;
    for_each_index<Net::layer_count>([&](auto i) {
      constexpr std::size_t I = decltype(i)::value;
      using Received = typename Net::plan::template received<I>;
      using P = typename Net::Parameters::template layer_parameters<I>;
      layers.push_back({Net::plan::layer_name(I),
                        {Received::dims.begin(), Received::dims.end()},
                        values_in<P>(P::tensors()),
                        values_in<P>(state_tensors_of<P>())});
    });
    return layers;
  }
};

// Version 1 files hold, per Dense layer, In x Out weights and Out biases: does Net have that layout?
template <class Net>
bool version1_layout_fits() {
  const auto layers = ModelRecords<Net>::of_network();
  std::size_t k = 0;
  for (std::size_t i = 0; i < layers.size(); ++i) {
    if (k < Net::stage_count && Net::plan::stage_positions[k] == i) {
      if (layers[i].values != (Net::widths[k] + 1) * Net::widths[k + 1]) return false;
      ++k;
    } else if (layers[i].values != 0) {
      return false;
    }
  }
  return true;
}

inline std::string shape_text(const std::vector<std::uint64_t>& shape) {
  static_assert(std::is_same_v<std::uint64_t, std::size_t>, "model-file shapes are std::size_t dims here");
  return dims_text(shape);
}

// Reads the byte range [at, at + n) of a model file, or fails naming what was being read.
class ModelReader {
 public:
  ModelReader(std::span<const std::uint8_t> bytes, std::size_t at,
              const std::function<void(std::string)>& fail)
      : bytes_(bytes), at_(at), fail_(fail) {}
  template <class U>
  U get(const char* what) {
    need(sizeof(U), what);
    const U value = get_le<U>(bytes_.data() + at_);
    at_ += sizeof(U);
    return value;
  }
  std::string text(std::size_t n, const char* what) {
    need(n, what);
    std::string s(reinterpret_cast<const char*>(bytes_.data() + at_), n);
    at_ += n;
    return s;
  }
  std::size_t position() const { return at_; }

 private:
  void need(std::size_t n, const char* what) {
    if (bytes_.size() - at_ < n)
      fail_("truncated " + std::string(what) + " at byte " + std::to_string(at_) + ": expected " +
            std::to_string(n) + " more bytes, found " + std::to_string(bytes_.size() - at_));
  }
  std::span<const std::uint8_t> bytes_;
  std::size_t at_;
  const std::function<void(std::string)>& fail_;
};

// Version 1's layer table against the network: its Dense layers, in order.
template <class Net>
std::size_t check_version1_layers(std::span<const std::uint8_t> bytes,
                                  const std::function<void(std::string)>& fail) {
  const auto dense = get_le<std::uint32_t>(bytes.data() + 16);
  const std::size_t end = model_header_size + 16 * std::size_t(dense);
  if (bytes.size() < end)
    fail("truncated layer table: expected " + std::to_string(end) + " bytes for " + std::to_string(dense) +
         " layers, found " + std::to_string(bytes.size()));
  for (std::size_t k = 0; k < std::min<std::size_t>(dense, Net::stage_count); ++k) {
    const auto in = get_le<std::uint64_t>(bytes.data() + model_header_size + 16 * k);
    const auto out = get_le<std::uint64_t>(bytes.data() + model_header_size + 16 * k + 8);
    if (in != Net::widths[k] || out != Net::widths[k + 1])
      fail("layer " + std::to_string(Net::plan::stage_positions[k]) + " (Dense): file has " +
           std::to_string(in) + "x" + std::to_string(out) + ", network has " +
           std::to_string(Net::widths[k]) + "x" + std::to_string(Net::widths[k + 1]));
  }
  if (dense != Net::stage_count)
    fail("layer count: file has " + std::to_string(dense) + " Dense layers, network has " +
         std::to_string(Net::stage_count));
  return end;
}

// Version 2's layer records against the network's, one by one: the first difference is the error.
template <class Net>
std::size_t check_layer_records(std::span<const std::uint8_t> bytes, std::uint32_t version,
                                const std::function<void(std::string)>& fail) {
  const std::vector<typename ModelRecords<Net>::Layer> expected = ModelRecords<Net>::of_network();
  ModelReader in(bytes, 16, fail);
  const auto layers = in.get<std::uint32_t>("layer count");
  for (std::size_t i = 0; i < layers; ++i) {
    const auto name_size = in.get<std::uint32_t>("layer record");
    if (name_size > 256)
      fail("layer " + std::to_string(i) + ": a name of " + std::to_string(name_size) + " bytes");
    const std::string name = in.text(name_size, "layer record");
    const auto rank = in.get<std::uint32_t>("layer record");
    if (rank < 1 || rank > 3)
      fail("layer " + std::to_string(i) + " (" + name + "): a shape of rank " + std::to_string(rank));
    std::vector<std::uint64_t> shape(rank);
    for (auto& d : shape) d = in.get<std::uint64_t>("layer record");
    const auto values = in.get<std::uint64_t>("layer record");
    const auto state_values = version >= 3 ? in.get<std::uint64_t>("layer record") : std::uint64_t{0};
    if (i >= expected.size())
      fail("layer count: file has " + std::to_string(layers) + " layers, network has " +
           std::to_string(expected.size()) + " (the file's layer " + std::to_string(i) + " is " + name + ")");
    const auto& e = expected[i];
    if (name != e.name) fail("layer " + std::to_string(i) + ": file has " + name + ", network has " + e.name);
    if (shape != e.shape)
      fail("layer " + std::to_string(i) + " (" + name + "): file has input " + shape_text(shape) +
           ", network has input " + shape_text(e.shape));
    if (values != e.values)
      fail("layer " + std::to_string(i) + " (" + name + "): file has " + std::to_string(values) +
           " parameter values, network has " + std::to_string(e.values));
    if (state_values != e.state_values)
      fail("layer " + std::to_string(i) + " (" + name + "): file has " + std::to_string(state_values) +
           " state values, network has " + std::to_string(e.state_values) +
           (version < 3 ? " (format version " + std::to_string(version) + " holds no state)" : ""));
  }
  if (layers != expected.size())
    fail("layer count: file has " + std::to_string(layers) + " layers, network has " +
         std::to_string(expected.size()) + " (the network's layer " + std::to_string(layers) + " is " +
         expected[layers].name + ")");
  return in.position();
}

}  // namespace detail

// The file's bytes for `net` (what save_model writes).
template <class Net>
std::vector<std::uint8_t> encode_model(const Net& net) {
  using T = typename Net::scalar_type;
  static_assert(sizeof(T) == 4 || sizeof(T) == 8, "typenet model files hold float or double");
  std::vector<std::uint8_t> out(detail::model_magic, detail::model_magic + 8);
  out.reserve(detail::model_header_size + 64 * Net::layer_count +
              (Net::parameter_count + Net::state_count) * sizeof(T) + 4);
  detail::put_le(out, model_file_version);
  detail::put_le(out, std::uint32_t(sizeof(T)));
  detail::put_le(out, std::uint32_t(Net::layer_count));
  for (const auto& layer : detail::ModelRecords<Net>::of_network()) {
    detail::put_le(out, std::uint32_t(layer.name.size()));
    out.insert(out.end(), layer.name.begin(), layer.name.end());
    detail::put_le(out, std::uint32_t(layer.shape.size()));
    for (std::uint64_t d : layer.shape) detail::put_le(out, d);
    detail::put_le(out, layer.values);
    detail::put_le(out, layer.state_values);
  }
  const auto put_values = [&](auto tensor) {
    for (T v : tensor.values) detail::put_le(out, std::bit_cast<detail::bits_of<T>>(v));
  };
  net.for_each_parameter_tensor(put_values);
  net.for_each_state_tensor(put_values);
  detail::put_le(out, detail::crc32_of(out));
  return out;
}

// Checks `bytes` against `net`'s layers and, only if every check passes, copies the parameters into it.
template <class Net>
void decode_model(Net& net, std::span<const std::uint8_t> bytes, const std::string& name) {
  using T = typename Net::scalar_type;
  const std::function<void(std::string)> fail = [&](const std::string& what) {
    throw ModelFileError(name + ": " + what);
  };
  const std::size_t size = bytes.size();
  if (size < detail::model_header_size)
    fail("truncated header: expected at least " + std::to_string(detail::model_header_size) +
         " bytes, found " + std::to_string(size));
  if (std::memcmp(bytes.data(), detail::model_magic, 8) != 0)
    fail("magic: expected \"TYPENET\\0\": not a typenet model file");
  const auto version = detail::get_le<std::uint32_t>(bytes.data() + 8);
  if (version < 1 || version > model_file_version)
    fail("format version: file has " + std::to_string(version) + ", this build reads 1 to " +
         std::to_string(model_file_version));
  const auto scalar = detail::get_le<std::uint32_t>(bytes.data() + 12);
  auto scalar_name = [](std::uint32_t s) {
    return std::to_string(s) + (s == 4 ? " (float)" : s == 8 ? " (double)" : " (unknown)");
  };
  if (scalar != sizeof(T))
    fail("scalar type: file has " + scalar_name(scalar) + ", network has " + scalar_name(sizeof(T)));
  if (version == 1 && !detail::version1_layout_fits<Net>())
    fail("format version 1 holds Dense layers only; this network has other layers with parameters");
  const std::size_t tensors_at = version == 1 ? detail::check_version1_layers<Net>(bytes, fail)
                                              : detail::check_layer_records<Net>(bytes, version, fail);
  // Versions 1 and 2 hold no state: the records above already refused a network that has some.
  const std::size_t expected = tensors_at + (Net::parameter_count + Net::state_count) * sizeof(T) + 4;
  if (size != expected)
    fail(std::string(size < expected ? "truncated" : "trailing bytes") + ": expected " +
         std::to_string(expected) + " bytes, found " + std::to_string(size));
  const auto stored_crc = detail::get_le<std::uint32_t>(bytes.data() + size - 4);
  const auto actual_crc = detail::crc32_of(bytes.first(size - 4));
  if (stored_crc != actual_crc)
    fail("checksum: the file is corrupt (its CRC-32 does not match its contents)");

  const std::uint8_t* p = bytes.data() + tensors_at;
  const auto get_values = [&](auto tensor) {
    for (T& v : tensor.values) {
      v = std::bit_cast<T>(detail::get_le<detail::bits_of<T>>(p));
      p += sizeof(T);
    }
  };
  net.for_each_parameter_tensor(get_values);
  net.for_each_state_tensor(get_values);
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

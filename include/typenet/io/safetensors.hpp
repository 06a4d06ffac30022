// Weights to and from PyTorch: typenet::load_safetensors(net, path), typenet::save_safetensors(net, path).
//
// The safetensors format (as huggingface/safetensors defines it): a u64 little-endian N, N bytes of a JSON
// object {"name": {"dtype": "F32", "shape": [256, 784], "data_offsets": [begin, end]}, ...,
// "__metadata__": {"key": "text"}}, then the tensors' raw little-endian values, each in [begin, end) of that
// data, row-major.
//
// Names and layouts are those of a torch.nn.Sequential of the same layers: the tensors of the layer at
// position p are "<m>.weight" and "<m>.bias", where m counts the layers before it as PyTorch counts
// modules (every layer written, activations and Flatten included, except Input, which PyTorch has no
// module for; the loss is last and holds nothing). So
//   Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>
// reads 0.weight [256, 784], 0.bias [256], 2.weight, 2.bias, 4.weight, 4.bias, and LeNet-5 (Input first)
// 0.weight [6, 1, 5, 5], 0.bias, 3.*, 7.*, 9.*, 11.*. Linear weights are (out, in), typenet's transposed;
// Conv2d weights (out, in, kH, kW), typenet's own order. A model that names its modules (self.fc1 = ...)
// maps them with SafetensorsOptions::module_names. State tensors map the same way: BatchNorm<C> at module m
// reads and writes m.weight (scale), m.bias (shift), m.running_mean and m.running_var, each [C]; the file's
// m.num_batches_tracked (a counter PyTorch keeps only for momentum=None, which typenet does not offer) is
// accepted and ignored on load, and not written (PyTorch's load_state_dict fills it in when it is absent).
//
// load_safetensors checks the whole file before it writes one parameter, so on any error the network is
// unchanged and a SafetensorsError names the file and what is wrong: the header's length and JSON; each
// tensor's entry, dtype, shape (against the network's: the tensor, the layer's position and type, both
// shapes) and offsets (inside the data, not overlapping, covering it exactly); a tensor the network needs
// and the file lacks, or one the file has and the network does not use (allowed with allow_unexpected);
// a NaN or infinite value. A float network reads F32, F16 and BF16 (converted exactly); a double network
// also F64. save_safetensors writes the network's own dtype (F32 or F64), like save_model through a
// temporary file and a rename.
#pragma once

#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <map>
#include <span>
#include <string>
#include <string_view>
#include <tuple>
#include <type_traits>
#include <vector>

#include "typenet/io/model_file.hpp"
#include "typenet/layers/contract.hpp"
#include "typenet/network/network.hpp"
#include "typenet/network/parameters.hpp"

namespace typenet {

class SafetensorsError : public ModelFileError {
 public:
  using ModelFileError::ModelFileError;
};

struct SafetensorsOptions {
  // Module names by the layer's position in the network (as errors count it): {{0, "fc1"}, {2, "fc2"}}
  // reads fc1.weight, fc1.bias, ... Layers not listed keep their Sequential index.
  std::map<std::size_t, std::string> module_names;
  // Load: ignore tensors the network has no use for (a head trained elsewhere, an optimizer's state).
  bool allow_unexpected = false;
};

namespace detail {

// A network tensor as the file holds it.
struct ExchangeTensor {
  std::string name;        // "2.weight"
  std::size_t layer;       // its layer's position
  std::string layer_name;  // "Dense<256, 128>"
  ExchangeLayout layout;
  std::size_t rows, cols;  // as typenet stores it
};

// Defined in src/io/safetensors.cc for float and double.
// tolerated: names the file may hold, which are ignored (BatchNorm's num_batches_tracked).
template <class T>
void decode_safetensors_into(std::span<const std::uint8_t> bytes, const std::string& file,
                             const std::vector<ExchangeTensor>& expected,
                             const std::vector<std::span<T>>& into, const std::vector<std::string>& tolerated,
                             bool allow_unexpected);
template <class T>
std::vector<std::uint8_t> encode_safetensors_from(const std::vector<ExchangeTensor>& tensors,
                                                  const std::vector<std::span<const T>>& values,
                                                  const std::string& network);

// The module index PyTorch gives the layer at each position.
template <class Net>
std::vector<std::size_t> sequential_indices() {
  std::vector<std::size_t> index;
  std::size_t modules = 0;
  for_each_index<Net::layer_count>([&](auto i) {
    index.push_back(modules);
    if (!is_declaration<typename Net::plan::template layer<decltype(i)::value>>()) ++modules;
  });
  return index;
}

// The module name of each layer, as `options` says.
template <class Net>
std::vector<std::string> module_names(const SafetensorsOptions& options) {
  const std::vector<std::size_t> index = sequential_indices<Net>();
  std::vector<std::string> names;
  for (std::size_t i = 0; i < Net::layer_count; ++i) {
    const auto named = options.module_names.find(i);
    names.push_back(named != options.module_names.end() ? named->second : std::to_string(index[i]));
  }
  return names;
}

// Net's tensors in for_each_parameter_tensor order, then its state tensors in for_each_state_tensor order,
// named as `options` says.
template <class Net>
std::vector<ExchangeTensor> exchange_tensors(const SafetensorsOptions& options) {
  const std::vector<std::string> modules = module_names<Net>(options);
  std::vector<ExchangeTensor> tensors;
  std::vector<bool> has_parameters(Net::layer_count, false);
  const auto add_layer = [&](auto i, auto state) {
    constexpr std::size_t I = decltype(i)::value;
    using Layer = typename Net::plan::template layer<I>;
    using P = typename Net::Parameters::template layer_parameters<I>;
    const std::string& module = modules[I];
    const auto add = [&](auto member) {
      using M = member_matrix_t<P, decltype(member)>;
      const ExchangeLayout layout = detail::member_exchange_layout<Layer, M>(member);
      std::size_t values = 1;
      for (std::size_t d = 0; d < layout.rank; ++d) values *= layout.dims[d];
      // A layer's own declaration, checked once here rather than trusted with the file's bytes.
      if (values != M::size || layout.rank > 4 ||
          (layout.transposed && (layout.rank != 2 || layout.dims[0] != M::cols || layout.dims[1] != M::rows)))
        throw SafetensorsError(Net::plan::layer_name(I) + "::exchange_layout(" + to_string(member.kind) +
                               ") does not describe its " + std::to_string(M::rows) + " x " +
                               std::to_string(M::cols) + " tensor");
      tensors.push_back({module + "." + member_exchange_prefix(member) + exchange_name(member.kind), I,
                         Net::plan::layer_name(I), layout, M::rows, M::cols});
      has_parameters[I] = true;
    };
    if constexpr (decltype(state)::value)
      std::apply([&](auto... member) { (add(member), ...); }, state_tensors_of<P>());
    else
      std::apply([&](auto... member) { (add(member), ...); }, P::tensors());
  };
  for_each_index<Net::layer_count>([&](auto i) { add_layer(i, std::false_type{}); });
  for_each_index<Net::layer_count>([&](auto i) { add_layer(i, std::true_type{}); });
  for (const auto& [position, module] : options.module_names) {
    if (position >= Net::layer_count || !has_parameters[position])
      throw SafetensorsError(
          "SafetensorsOptions::module_names: layer " + std::to_string(position) +
          (position < Net::layer_count ? " (" + Net::plan::layer_name(position) + ")" : "") +
          " has no parameters to name (the network has " + std::to_string(Net::layer_count) + " layers)");
    if (module.empty())
      throw SafetensorsError("SafetensorsOptions::module_names: layer " + std::to_string(position) +
                             " is given an empty name");
  }
  for (std::size_t a = 0; a < tensors.size(); ++a)
    for (std::size_t b = a + 1; b < tensors.size(); ++b)
      if (tensors[a].name == tensors[b].name)
        throw SafetensorsError("SafetensorsOptions::module_names: layers " +
                               std::to_string(tensors[a].layer) + " and " + std::to_string(tensors[b].layer) +
                               " would both hold " + tensors[a].name);
  return tensors;
}

// What a load ignores: the num_batches_tracked beside every running_mean (BatchNorm's, in a block too).
inline std::vector<std::string> tolerated_tensors(const std::vector<ExchangeTensor>& expected) {
  static constexpr std::string_view mean = "running_mean";
  std::vector<std::string> names;
  for (const ExchangeTensor& e : expected)
    if (e.name.size() >= mean.size() && e.name.compare(e.name.size() - mean.size(), mean.size(), mean) == 0)
      names.push_back(e.name.substr(0, e.name.size() - mean.size()) + "num_batches_tracked");
  return names;
}

}  // namespace detail

// The file's bytes for `net` (what save_safetensors writes).
template <class Net>
std::vector<std::uint8_t> encode_safetensors(const Net& net, const SafetensorsOptions& options = {}) {
  using T = typename Net::scalar_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "safetensors: float or double networks");
  std::vector<std::span<const T>> values;
  net.for_each_parameter_tensor([&](auto tensor) { values.push_back(tensor.values); });
  net.for_each_state_tensor([&](auto tensor) { values.push_back(tensor.values); });
  return detail::encode_safetensors_from<T>(detail::exchange_tensors<Net>(options), values,
                                            detail::network_text<Net>());
}

// Checks `bytes` against `net` and, only if every check passes, copies the tensors into it. `name` (the
// file's) begins every error message.
template <class Net>
void decode_safetensors(Net& net, std::span<const std::uint8_t> bytes, const std::string& name,
                        const SafetensorsOptions& options = {}) {
  using T = typename Net::scalar_type;
  static_assert(std::is_same_v<T, float> || std::is_same_v<T, double>,
                "safetensors: float or double networks");
  const std::vector<detail::ExchangeTensor> expected = detail::exchange_tensors<Net>(options);
  std::vector<std::span<T>> into;
  net.for_each_parameter_tensor([&](auto tensor) { into.push_back(tensor.values); });
  net.for_each_state_tensor([&](auto tensor) { into.push_back(tensor.values); });
  detail::decode_safetensors_into<T>(bytes, name, expected, into, detail::tolerated_tensors(expected),
                                     options.allow_unexpected);
}

template <class Net>
void save_safetensors(const Net& net, const std::filesystem::path& path,
                      const SafetensorsOptions& options = {}) {
  detail::write_file_atomically(path, encode_safetensors(net, options));
}

template <class Net>
void load_safetensors(Net& net, const std::filesystem::path& path, const SafetensorsOptions& options = {}) {
  const std::vector<std::uint8_t> bytes = detail::read_model_bytes(path);
  decode_safetensors(net, bytes, path.string(), options);
}

}  // namespace typenet

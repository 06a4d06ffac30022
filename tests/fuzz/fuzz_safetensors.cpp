// libFuzzer target: any bytes given to decode_safetensors for a small fixed network must either load or
// throw typenet::SafetensorsError, and a rejected file must leave the network unchanged. A file that loads
// must hold only finite values, and what saving the loaded network writes must load back to the same
// parameters.
#include <cmath>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "typenet/io/model_file.hpp"
#include "typenet/io/safetensors.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"

namespace {

using SmallNet =
    typenet::Network<typenet::Dense<6, 5>, typenet::ReLU, typenet::Dense<5, 3>, typenet::SoftmaxCrossEntropy>;

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  static SmallNet net{typenet::HeNormal{.seed = 1}};
  const std::vector<std::uint8_t> before = typenet::encode_model(net);
  try {
    typenet::decode_safetensors(net, std::span<const std::uint8_t>(data, size), "fuzz.safetensors");
  } catch (const typenet::SafetensorsError&) {
    if (typenet::encode_model(net) != before) __builtin_trap();  // a rejected file changed the network
    return 0;
  }
  net.for_each_parameter_tensor([](auto tensor) {
    for (const float v : tensor.values)
      if (!std::isfinite(v)) __builtin_trap();
  });
  const std::vector<std::uint8_t> loaded = typenet::encode_model(net);
  SmallNet again{typenet::HeNormal{.seed = 2}};
  typenet::decode_safetensors(again, typenet::encode_safetensors(net), "again.safetensors");
  if (typenet::encode_model(again) != loaded) __builtin_trap();
  return 0;
}

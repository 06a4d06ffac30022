// libFuzzer target: any bytes given to decode_model for a small fixed network must either load or throw
// typenet::ModelFileError, and a rejected file must leave the network unchanged. The bytes are tried twice:
// as given, and with their last 4 bytes replaced by the right CRC-32, so the fuzzer also gets past the
// checksum to the layer table and the parameters.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <vector>

#include "typenet/io/model_file.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"

namespace {

using SmallNet =
    typenet::Network<typenet::Dense<6, 5>, typenet::ReLU, typenet::Dense<5, 3>, typenet::SoftmaxCrossEntropy>;

void decode(std::span<const std::uint8_t> bytes) {
  static SmallNet net{typenet::HeNormal{.seed = 1}};
  const std::vector<std::uint8_t> before = typenet::encode_model(net);
  try {
    typenet::decode_model(net, bytes, "fuzz.tnet");
  } catch (const typenet::ModelFileError&) {
    if (typenet::encode_model(net) != before) __builtin_trap();  // a rejected file changed the network
    return;
  }
  // A file that loads is exactly what saving the loaded network writes.
  const std::vector<std::uint8_t> after = typenet::encode_model(net);
  if (!std::equal(after.begin(), after.end(), bytes.begin(), bytes.end())) __builtin_trap();
}

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  const std::span<const std::uint8_t> bytes(data, size);
  decode(bytes);
  if (size >= 4) {
    std::vector<std::uint8_t> fixed(bytes.begin(), bytes.end());
    const std::uint32_t crc = typenet::detail::crc32_of(std::span(fixed).first(size - 4));
    for (std::size_t i = 0; i < 4; ++i) fixed[size - 4 + i] = std::uint8_t(crc >> (8 * i));
    decode(fixed);
  }
  return 0;
}

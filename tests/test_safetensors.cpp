// safetensors files: PyTorch's names, shapes and layouts; bit-exact round trips; exact F16/BF16 and F32 ->
// double conversion; module names; and a table of malformed files, each with its message and the network
// left unchanged. (tests/pytorch_interop.py checks the same files against PyTorch itself.)
#include <bit>
#include <catch2/catch.hpp>
#include <cmath>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <limits>
#include <nlohmann/json.hpp>
#include <string>
#include <utility>
#include <vector>

#include "support.hpp"
#include "typenet/io/safetensors.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/conv2d.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/flatten.hpp"
#include "typenet/layers/input.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/layers/max_pool2d.hpp"
#include "typenet/network/network.hpp"

namespace fs = std::filesystem;
using namespace typenet;
using Bytes = std::vector<std::uint8_t>;
using Json = nlohmann::ordered_json;

namespace {

using FashionNet =
    Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;
using LeNet =
    Network<Input<1, 28, 28>, Conv2D<1, 6, 5, 1, 2>, ReLU, MaxPool2D<2>, Conv2D<6, 16, 5>, ReLU, MaxPool2D<2>,
            Flatten, Dense<400, 120>, ReLU, Dense<120, 84>, ReLU, Dense<84, 10>, SoftmaxCrossEntropy>;
using SmallNet = Network<Dense<6, 5>, ReLU, Dense<5, 3>, SoftmaxCrossEntropy>;
using SmallDoubleNet = BasicNetwork<double, Dense<6, 5>, ReLU, Dense<5, 3>, SoftmaxCrossEntropy>;

// A file split into its JSON header and its data, and put back together.
struct Parts {
  Json header;
  Bytes data;
};
Parts split(const Bytes& file) {
  std::uint64_t n = 0;
  for (int i = 0; i < 8; ++i) n |= std::uint64_t(file[std::size_t(i)]) << (8 * i);
  const auto* text = reinterpret_cast<const char*>(file.data() + 8);
  return {Json::parse(text, text + n), Bytes(file.begin() + 8 + std::ptrdiff_t(n), file.end())};
}
Bytes join(const std::string& header, const Bytes& data) {
  Bytes out;
  for (int i = 0; i < 8; ++i) out.push_back(std::uint8_t(std::uint64_t(header.size()) >> (8 * i)));
  out.insert(out.end(), header.begin(), header.end());
  out.insert(out.end(), data.begin(), data.end());
  return out;
}
Bytes join(const Parts& parts) {
  return join(parts.header.dump(), parts.data);
}

float f32_at(const Bytes& data, std::size_t offset) {
  std::uint32_t bits = 0;
  for (int i = 0; i < 4; ++i) bits |= std::uint32_t(data[offset + std::size_t(i)]) << (8 * i);
  return std::bit_cast<float>(bits);
}
void put_u16(Bytes& out, std::uint16_t v) {
  out.push_back(std::uint8_t(v));
  out.push_back(std::uint8_t(v >> 8));
}
void put_f32(Bytes& out, float v) {
  const auto bits = std::bit_cast<std::uint32_t>(v);
  for (int i = 0; i < 4; ++i) out.push_back(std::uint8_t(bits >> (8 * i)));
}

std::string message_of(SmallNet& net, const Bytes& bytes, const SafetensorsOptions& options = {}) {
  try {
    decode_safetensors(net, bytes, "t.safetensors", options);
  } catch (const SafetensorsError& e) {
    return e.what();
  }
  return "(loaded)";
}

}  // namespace

TEST_CASE("the MLP's file holds PyTorch's names, shapes and (out, in) Linear weights", "[safetensors]") {
  const FashionNet net{HeNormal{.seed = 7}};
  const Bytes file = encode_safetensors(net);
  const Parts parts = split(file);
  std::uint64_t header_bytes = 0;
  for (int i = 0; i < 8; ++i) header_bytes |= std::uint64_t(file[std::size_t(i)]) << (8 * i);
  CHECK((8 + header_bytes) % 8 == 0);  // the data starts aligned, as safetensors writes it

  std::vector<std::string> names;
  for (const auto& [name, entry] : parts.header.items()) names.push_back(name);
  CHECK(names == std::vector<std::string>{"__metadata__", "0.weight", "0.bias", "2.weight", "2.bias",
                                          "4.weight", "4.bias"});
  CHECK(parts.header["__metadata__"]["format"] == "pt");
  CHECK(parts.header["0.weight"]["dtype"] == "F32");
  CHECK(parts.header["0.weight"]["shape"] == Json::array({256, 784}));
  CHECK(parts.header["0.bias"]["shape"] == Json::array({256}));
  CHECK(parts.header["4.weight"]["shape"] == Json::array({10, 128}));
  // Element (out 3, in 5) of PyTorch's 2.weight is typenet's W(5, 3).
  const std::size_t begin = parts.header["2.weight"]["data_offsets"][0].get<std::size_t>();
  CHECK(f32_at(parts.data, begin + 4 * (3 * 256 + 5)) == net.layer<2>().weights(5, 3));
  CHECK(f32_at(parts.data, begin + 4 * (127 * 256 + 255)) == net.layer<2>().weights(255, 127));
}

TEST_CASE("LeNet's names count modules as a Sequential does, without Input", "[safetensors]") {
  const LeNet net{HeNormal{.seed = 3}};
  const Parts parts = split(encode_safetensors(net));
  CHECK(parts.header["0.weight"]["shape"] == Json::array({6, 1, 5, 5}));
  CHECK(parts.header["3.weight"]["shape"] == Json::array({16, 6, 5, 5}));
  CHECK(parts.header["3.bias"]["shape"] == Json::array({16}));
  CHECK(parts.header["7.weight"]["shape"] == Json::array({120, 400}));
  CHECK(parts.header["9.weight"]["shape"] == Json::array({84, 120}));
  CHECK(parts.header["11.weight"]["shape"] == Json::array({10, 84}));
  CHECK(parts.header.size() == 11);  // ten tensors and __metadata__
  // Conv2d weights keep typenet's (out, in, kH, kW) order: filter 15, channel 5, row 4, column 3.
  const std::size_t begin = parts.header["3.weight"]["data_offsets"][0].get<std::size_t>();
  CHECK(f32_at(parts.data, begin + 4 * (((15 * 6 + 5) * 5 + 4) * 5 + 3)) ==
        net.layer<4>().weights(15, (5 * 5 + 4) * 5 + 3));
}

TEST_CASE("save_safetensors and load_safetensors round-trip bit for bit", "[safetensors]") {
  const fs::path dir = fs::current_path() / "test_safetensors_files";
  fs::create_directories(dir);
  SECTION("the MLP") {
    const FashionNet saved{HeNormal{.seed = 1}};
    save_safetensors(saved, dir / "mlp.safetensors");
    FashionNet loaded{HeNormal{.seed = 2}};
    REQUIRE(test::parameter_bits(loaded) != test::parameter_bits(saved));
    load_safetensors(loaded, dir / "mlp.safetensors");
    CHECK(test::parameter_bits(loaded) == test::parameter_bits(saved));
    CHECK_FALSE(fs::exists(dir / "mlp.safetensors.tmp"));
  }
  SECTION("LeNet") {
    const LeNet saved{HeNormal{.seed = 1}};
    save_safetensors(saved, dir / "lenet.safetensors");
    LeNet loaded{HeNormal{.seed = 2}};
    load_safetensors(loaded, dir / "lenet.safetensors");
    CHECK(test::parameter_bits(loaded) == test::parameter_bits(saved));
  }
  SECTION("a double network writes F64") {
    const SmallDoubleNet saved{HeNormal{.seed = 1}};
    const Bytes file = encode_safetensors(saved);
    CHECK(split(file).header["0.weight"]["dtype"] == "F64");
    SmallDoubleNet loaded{HeNormal{.seed = 2}};
    decode_safetensors(loaded, file, "d.safetensors");
    CHECK(test::parameter_bits(loaded) == test::parameter_bits(saved));
  }
  SECTION("a missing file is a ModelFileError naming it") {
    FashionNet net;
    CHECK_THROWS_WITH(load_safetensors(net, dir / "none.safetensors"),
                      Catch::Matchers::StartsWith((dir / "none.safetensors").string() + ": cannot open"));
  }
}

TEST_CASE("F32 loads into a double network exactly; F64 into a float network is refused", "[safetensors]") {
  const SmallNet floats{HeNormal{.seed = 4}};
  SmallDoubleNet doubles{HeNormal{.seed = 5}};
  decode_safetensors(doubles, encode_safetensors(floats), "f.safetensors");
  CHECK(doubles.layer<0>().weights(2, 3) == double(floats.layer<0>().weights(2, 3)));
  CHECK(doubles.layer<2>().bias(0, 1) == double(floats.layer<2>().bias(0, 1)));

  SmallNet net{HeNormal{.seed = 6}};
  const Bytes before = test::parameter_bits(net);
  CHECK(message_of(net, encode_safetensors(doubles)) ==
        "t.safetensors: tensor 0.weight (layer 0, Dense<6, 5>): dtype F64 would be rounded to this float "
        "network: save it as F32 or use a Network<double, ...>");
  CHECK(test::parameter_bits(net) == before);
}

TEST_CASE("F16 and BF16 tensors convert exactly, subnormals and signed zeros included", "[safetensors]") {
  // 0.weight F16: 1, -2, 0.5, 2^-24 (the smallest subnormal), 65504 (the largest), -0, then 1.5 repeated.
  const std::uint16_t halves[] = {0x3c00, 0xc000, 0x3800, 0x0001, 0x7bff, 0x8000};
  const float half_values[] = {1.0f, -2.0f, 0.5f, 0x1p-24f, 65504.0f, -0.0f};
  // 0.bias BF16: 1, -5, 2^-133 (a subnormal), 3.140625, -0.
  const std::uint16_t brains[] = {0x3f80, 0xc0a0, 0x0001, 0x4049, 0x8000};
  const float brain_values[] = {1.0f, -5.0f, 0x1p-133f, 3.140625f, -0.0f};
  Bytes data;
  for (std::size_t i = 0; i < 30; ++i) put_u16(data, i < 6 ? halves[i] : std::uint16_t{0x3e00});
  for (const std::uint16_t b : brains) put_u16(data, b);
  for (std::size_t i = 0; i < 18; ++i) put_f32(data, 0.25f * float(i));
  const std::string header = R"({"0.weight":{"dtype":"F16","shape":[5,6],"data_offsets":[0,60]},)"
                             R"("0.bias":{"dtype":"BF16","shape":[5],"data_offsets":[60,70]},)"
                             R"("2.weight":{"dtype":"F32","shape":[3,5],"data_offsets":[70,130]},)"
                             R"("2.bias":{"dtype":"F32","shape":[3],"data_offsets":[130,142]}})";
  SmallNet net;
  decode_safetensors(net, join(header, data), "half.safetensors");
  for (std::size_t i = 0; i < 6; ++i) {  // file element (out 0, in i) is typenet's W(i, 0)
    CHECK(net.layer<0>().weights(i, 0) == half_values[i]);
    CHECK(std::signbit(net.layer<0>().weights(i, 0)) == std::signbit(half_values[i]));
  }
  CHECK(net.layer<0>().weights(0, 1) == 1.5f);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(net.layer<0>().bias(0, i) == brain_values[i]);
    CHECK(std::signbit(net.layer<0>().bias(0, i)) == std::signbit(brain_values[i]));
  }
  CHECK(net.layer<2>().weights(4, 2) == 0.25f * float(2 * 5 + 4));
  CHECK(net.layer<2>().bias(0, 2) == 0.25f * 17);
}

TEST_CASE("module names map a model whose modules are named, and bad mappings are refused", "[safetensors]") {
  const SafetensorsOptions named{.module_names = {{0, "fc1"}, {2, "fc2"}, {4, "fc3"}}};
  const FashionNet saved{HeNormal{.seed = 1}};
  const Bytes file = encode_safetensors(saved, named);
  CHECK(split(file).header.contains("fc2.weight"));
  FashionNet loaded{HeNormal{.seed = 2}};
  decode_safetensors(loaded, file, "named.safetensors", named);
  CHECK(test::parameter_bits(loaded) == test::parameter_bits(saved));

  CHECK_THROWS_WITH(
      decode_safetensors(loaded, file, "named.safetensors"),
      "named.safetensors: missing tensor 0.weight (layer 0, Dense<784, 256>), shape [256, 784]; "
      "the file has fc1.weight, fc1.bias, fc2.weight, fc2.bias, fc3.weight, fc3.bias");
  CHECK_THROWS_WITH(
      encode_safetensors(saved, {.module_names = {{1, "act"}}}),
      "SafetensorsOptions::module_names: layer 1 (Sigmoid) has no parameters to name (the network "
      "has 6 layers)");
  CHECK_THROWS_WITH(encode_safetensors(saved, {.module_names = {{9, "x"}}}),
                    "SafetensorsOptions::module_names: layer 9 has no parameters to name (the network has 6 "
                    "layers)");
  CHECK_THROWS_WITH(encode_safetensors(saved, {.module_names = {{0, "2"}}}),
                    "SafetensorsOptions::module_names: layers 0 and 2 would both hold 2.weight");
  CHECK_THROWS_WITH(encode_safetensors(saved, {.module_names = {{0, ""}}}),
                    "SafetensorsOptions::module_names: layer 0 is given an empty name");
}

TEST_CASE("tensors the network does not use are refused unless allowed", "[safetensors]") {
  const SmallNet saved{HeNormal{.seed = 1}};
  Parts parts = split(encode_safetensors(saved));
  const std::size_t end = parts.data.size();
  parts.header["5.num_batches_tracked"] = {
      {"dtype", "I64"}, {"shape", Json::array()}, {"data_offsets", {end, end + 8}}};
  parts.data.resize(end + 8, 0);
  const Bytes file = join(parts);
  SmallNet net{HeNormal{.seed = 2}};
  CHECK(message_of(net, file) ==
        "t.safetensors: unexpected tensor 5.num_batches_tracked []: the network has no tensor of that name "
        "(SafetensorsOptions::allow_unexpected ignores such tensors)");
  decode_safetensors(net, file, "t.safetensors",
                     SafetensorsOptions{.module_names = {}, .allow_unexpected = true});
  CHECK(test::parameter_bits(net) == test::parameter_bits(saved));
}

TEST_CASE("every malformed file is refused with what and where, the network unchanged", "[safetensors]") {
  const SmallNet good{HeNormal{.seed = 1}};
  const Bytes valid = encode_safetensors(good);
  const Parts parts =
      split(valid);  // 0.weight [0, 120), 0.bias [120, 140), 2.weight [140, 200), 2.bias [200, 212)
  const auto edited = [&](auto&& edit) {
    Parts p = parts;
    edit(p);
    return join(p);
  };
  Bytes nan_file = valid;
  const std::size_t nan_at = 8 + (valid.size() - 8 - parts.data.size()) + 140 + 4 * 4;
  const auto nan_bits = std::bit_cast<std::uint32_t>(std::numeric_limits<float>::quiet_NaN());
  for (int i = 0; i < 4; ++i) nan_file[nan_at + std::size_t(i)] = std::uint8_t(nan_bits >> (8 * i));

  Bytes past_end = join(std::string(20, ' '), {});
  past_end[0] = 0xe8, past_end[1] = 0x03;  // 1000

  const std::vector<std::pair<Bytes, std::string>> cases = {
      {Bytes{}, "truncated: a safetensors file starts with an 8-byte header length, the file has 0 bytes"},
      {Bytes(valid.begin(), valid.begin() + 5),
       "truncated: a safetensors file starts with an 8-byte header length, the file has 5 bytes"},
      {past_end, "header length 1000 runs past the end of the file (20 bytes follow the length)"},
      {Bytes(valid.begin(), valid.begin() + 100),
       "header length " + std::to_string(valid.size() - 8 - parts.data.size()) +
           " runs past the end of the file (92 bytes follow the length)"},
      {join(R"({"0.weight": )", {}),
       "header is not valid JSON: parse error at line 1, column 14: syntax error while parsing value - "
       "unexpected end of input; expected '[', '{', or a literal"},
      {join("[1, 2]", {}), "header is not a JSON object of tensors"},
      {join(R"({"a": 1e400})", {}), "header is not valid JSON: number overflow parsing '1e400'"},
      {join(R"({"a":{"dtype":"F32","shape":[],"data_offsets":[0,4]},"a":{}})", Bytes(4, 0)),
       "header names \"a\" twice"},
      {edited([](Parts& p) { p.header["__metadata__"]["format"] = 1; }),
       "__metadata__ \"format\" is not a string"},
      {edited([](Parts& p) { p.header["0.bias"] = Json::array(); }),
       "tensor 0.bias: its entry is not an object"},
      {edited([](Parts& p) { p.header["0.bias"].erase("dtype"); }), "tensor 0.bias: no \"dtype\""},
      {edited([](Parts& p) { p.header["0.bias"]["dtype"] = "F17"; }), "tensor 0.bias: unknown dtype \"F17\""},
      {edited([](Parts& p) { p.header["0.bias"]["shape"] = {-5}; }),
       "tensor 0.bias: shape [-5] holds a value that is not a size"},
      {edited([](Parts& p) { p.header["0.bias"]["data_offsets"] = {120}; }),
       "tensor 0.bias: data_offsets [120] is not [begin, end]"},
      {edited([](Parts& p) {
         p.header["0.bias"]["data_offsets"] = {140, 120};
       }),
       "tensor 0.bias: data_offsets [140,120] ends before it begins"},
      {edited([](Parts& p) {
         p.header["0.bias"]["data_offsets"] = {120, 136};
       }),
       "tensor 0.bias: data_offsets [120, 136) hold 16 bytes, its shape [5] of F32 needs 5 x 4"},
      {edited([](Parts& p) {
         p.header["2.bias"]["data_offsets"] = {204, 216};
       }),
       "tensor 2.bias: data_offsets [204, 216) run past the end of the data (212 bytes)"},
      {edited([](Parts& p) {
         p.header["0.bias"]["data_offsets"] = {100, 120};
       }),
       "tensors 0.weight [0, 120) and 0.bias [100, 120) overlap"},
      {edited([](Parts& p) {
         p.header["2.bias"]["data_offsets"] = {200, 212}, p.data.resize(216, 0);
       }),
       "trailing bytes: the tensors cover 212 bytes of data, the file holds 216"},
      {edited([](Parts& p) {
         p.header["2.bias"]["data_offsets"] = {204, 216};
         p.data.resize(216, 0);
       }),
       "bytes [200, 204) of the data belong to no tensor"},
      {edited([](Parts& p) { p.header.erase("2.bias"), p.data.resize(200); }),
       "missing tensor 2.bias (layer 2, Dense<5, 3>), shape [3]; the file has 0.weight, 0.bias, 2.weight"},
      {edited([](Parts& p) { p.header["0.bias"]["dtype"] = "I32"; }),
       "tensor 0.bias (layer 0, Dense<6, 5>): dtype I32; the network reads F32, F16 or BF16"},
      {edited([](Parts& p) {
         p.header["0.weight"]["shape"] = {6, 5};
       }),
       "tensor 0.weight (layer 0, Dense<6, 5>): file has shape [6, 5], network has [5, 6]"},
      {edited([](Parts& p) { p.header["0.weight"]["shape"] = {30}; }),
       "tensor 0.weight (layer 0, Dense<6, 5>): file has shape [30], network has [5, 6]"},
      {nan_file, "tensor 2.weight (layer 2, Dense<5, 3>): element 4 is NaN"},
  };
  SmallNet net{HeNormal{.seed = 9}};
  const Bytes before = test::parameter_bits(net);
  for (const auto& [bytes, expected] : cases) {
    INFO(expected);
    CHECK(message_of(net, bytes) == "t.safetensors: " + expected);
    CHECK(test::parameter_bits(net) == before);
  }
  decode_safetensors(net, valid, "t.safetensors");  // and the untouched file still loads
  CHECK(test::parameter_bits(net) == test::parameter_bits(good));
}

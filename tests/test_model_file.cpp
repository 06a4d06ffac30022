// Model files: a bit-exact round trip, every rejected file leaving the network untouched, and a failed save
// leaving the previous file intact.
#include <bit>
#include <catch2/catch.hpp>
#include <cerrno>
#include <cstdint>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <system_error>
#include <vector>

#include "support.hpp"
#include "typenet/io/model_file.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"

namespace fs = std::filesystem;
using namespace typenet;
using Catch::Matchers::Contains;
using Bytes = std::vector<std::uint8_t>;

namespace {

using FashionNet =
    Network<Dense<784, 256>, Sigmoid, Dense<256, 128>, Sigmoid, Dense<128, 10>, SoftmaxCrossEntropy>;
using NarrowNet =
    Network<Dense<784, 256>, Sigmoid, Dense<256, 64>, Sigmoid, Dense<64, 10>, SoftmaxCrossEntropy>;
using SmallNet = Network<Dense<6, 5>, ReLU, Dense<5, 3>, SoftmaxCrossEntropy>;
using ShortNet = Network<Dense<6, 5>, SoftmaxCrossEntropy>;
using SmallDoubleNet = BasicNetwork<double, Dense<6, 5>, ReLU, Dense<5, 3>, SoftmaxCrossEntropy>;

fs::path scratch(const std::string& name) {
  const fs::path dir = fs::current_path() / "test_model_file_files";
  fs::create_directories(dir);
  return dir / name;
}

Bytes read_all(const fs::path& path) {
  std::ifstream in(path, std::ios::binary);
  return Bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
}

void write_all(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(out.good());
}

// Loading `bytes` into a SmallNet must fail with `expected` in the message and change nothing.
void require_rejected(const Bytes& bytes, const std::string& expected) {
  const fs::path path = scratch("rejected.tnet");
  write_all(path, bytes);
  SmallNet net{HeNormal{.seed = 99}};
  const Bytes before = test::parameter_bits(net);
  REQUIRE_THROWS_MATCHES(load_model(net, path), ModelFileError,
                         Catch::Matchers::Message(path.string() + ": " + expected));
  REQUIRE(test::parameter_bits(net) == before);
}

}  // namespace

TEST_CASE("save then load gives bit-identical parameters and predictions") {
  FashionNet saved{HeNormal{.seed = 1}};
  FashionNet loaded{HeNormal{.seed = 2}};
  REQUIRE(test::parameter_bits(saved) != test::parameter_bits(loaded));
  const fs::path path = scratch("fashion.tnet");
  save_model(saved, path);
  REQUIRE_FALSE(fs::exists(path.string() + ".tmp"));
  REQUIRE(fs::file_size(path) == encode_model(saved).size());
  load_model(loaded, path);
  REQUIRE(test::parameter_bits(saved) == test::parameter_bits(loaded));

  Matrix<float, 5, 784> x;
  for (std::size_t i = 0; i < x.size; ++i) x.data()[i] = float(i % 255) / 255.0f;
  const auto a = saved.predict(x);
  const auto b = loaded.predict(x);
  REQUIRE(std::memcmp(a.data(), b.data(), sizeof(float) * a.size) == 0);
}

// One layer record of the layer table: name, the shape it receives, its parameter count and (from version
// 3 on) its state count.
Bytes layer_record(const std::string& name, std::uint64_t receives, std::uint64_t values,
                   std::uint32_t version = model_file_version) {
  Bytes out;
  detail::put_le(out, std::uint32_t(name.size()));
  out.insert(out.end(), name.begin(), name.end());
  detail::put_le(out, std::uint32_t(1));
  detail::put_le(out, receives);
  detail::put_le(out, values);
  if (version >= 3) detail::put_le(out, std::uint64_t{0});
  return out;
}

TEST_CASE("the file layout is the documented one") {
  SmallNet net{HeNormal{.seed = 3}};
  const Bytes bytes = encode_model(net);
  REQUIRE(std::memcmp(bytes.data(), "TYPENET\0", 8) == 0);
  REQUIRE(bytes[8] == 3);   // version, little-endian u32
  REQUIRE(bytes[12] == 4);  // float
  REQUIRE(bytes[16] == 4);  // four layers: Dense<6, 5>, ReLU, Dense<5, 3>, SoftmaxCrossEntropy
  Bytes records;
  for (const Bytes& r : {layer_record("Dense<6, 5>", 6, 35), layer_record("ReLU", 5, 0),
                         layer_record("Dense<5, 3>", 5, 18), layer_record("SoftmaxCrossEntropy", 3, 0)})
    records.insert(records.end(), r.begin(), r.end());
  REQUIRE(Bytes(bytes.begin() + 20, bytes.begin() + 20 + std::ptrdiff_t(records.size())) == records);
  const std::size_t tensors_at = 20 + records.size();
  float first_weight;
  std::memcpy(&first_weight, bytes.data() + tensors_at, 4);  // (little-endian hosts)
  REQUIRE(first_weight == net.layer<0>().weights(0, 0));
  REQUIRE(bytes.size() == tensors_at + SmallNet::parameter_count * 4 + 4);
}

// The version-1 file of a network of Dense layers, written as that format was: no activations, no loss.
template <class Net>
Bytes version1_file(const Net& net) {
  Bytes out(detail::model_magic, detail::model_magic + 8);
  detail::put_le(out, std::uint32_t(1));
  detail::put_le(out, std::uint32_t(4));
  detail::put_le(out, std::uint32_t(Net::stage_count));
  for (std::size_t k = 0; k < Net::stage_count; ++k) {
    detail::put_le(out, std::uint64_t(Net::widths[k]));
    detail::put_le(out, std::uint64_t(Net::widths[k + 1]));
  }
  net.for_each_parameter_tensor([&](auto tensor) {
    for (float v : tensor.values) detail::put_le(out, std::bit_cast<std::uint32_t>(v));
  });
  detail::put_le(out, detail::crc32_of(out));
  return out;
}

// The version-2 file of SmallNet, as that format wrote it: layer records without a state count.
Bytes version2_file(const SmallNet& net) {
  Bytes out(detail::model_magic, detail::model_magic + 8);
  detail::put_le(out, std::uint32_t(2));
  detail::put_le(out, std::uint32_t(4));
  detail::put_le(out, std::uint32_t(4));
  for (const Bytes& r : {layer_record("Dense<6, 5>", 6, 35, 2), layer_record("ReLU", 5, 0, 2),
                         layer_record("Dense<5, 3>", 5, 18, 2), layer_record("SoftmaxCrossEntropy", 3, 0, 2)})
    out.insert(out.end(), r.begin(), r.end());
  net.for_each_parameter_tensor([&](auto tensor) {
    for (float v : tensor.values) detail::put_le(out, std::bit_cast<std::uint32_t>(v));
  });
  detail::put_le(out, detail::crc32_of(out));
  return out;
}

TEST_CASE("files in format version 2 still load") {
  const SmallNet saved{HeNormal{.seed = 23}};
  SmallNet loaded{HeNormal{.seed = 24}};
  REQUIRE(test::parameter_bits(saved) != test::parameter_bits(loaded));
  decode_model(loaded, version2_file(saved), "version2.tnet");
  REQUIRE(test::parameter_bits(saved) == test::parameter_bits(loaded));
}

TEST_CASE("files in format version 1 still load") {
  const FashionNet saved{HeNormal{.seed = 21}};
  const fs::path path = scratch("version1.tnet");
  write_all(path, version1_file(saved));
  FashionNet loaded{HeNormal{.seed = 22}};
  load_model(loaded, path);
  REQUIRE(test::parameter_bits(loaded) == test::parameter_bits(saved));

  // A version-1 mismatch names the layer by its position too (Dense layers stand at 0, 2, 4).
  write_all(path, version1_file(NarrowNet{HeNormal{.seed = 1}}));
  const Bytes before = test::parameter_bits(loaded);
  REQUIRE_THROWS_MATCHES(
      load_model(loaded, path), ModelFileError,
      Catch::Matchers::Message(path.string() + ": layer 2 (Dense): file has 256x64, network has 256x128"));
  REQUIRE(test::parameter_bits(loaded) == before);
}

TEST_CASE("a file records every layer: another activation or loss is the first differing layer") {
  const fs::path path = scratch("layers.tnet");
  using SigmoidNet = Network<Dense<6, 5>, Sigmoid, Dense<5, 3>, SoftmaxCrossEntropy>;
  using RegressionNet = Network<Dense<6, 5>, ReLU, Dense<5, 3>, MeanSquaredError>;
  save_model(SigmoidNet{HeNormal{.seed = 1}}, path);
  require_rejected(read_all(path), "layer 1: file has Sigmoid, network has ReLU");
  save_model(RegressionNet{HeNormal{.seed = 1}}, path);
  require_rejected(read_all(path), "layer 3: file has MeanSquaredError, network has SoftmaxCrossEntropy");
}

TEST_CASE("double networks round-trip too") {
  SmallDoubleNet saved{HeNormal{.seed = 5}}, loaded{HeNormal{.seed = 6}};
  save_model(saved, scratch("double.tnet"));
  load_model(loaded, scratch("double.tnet"));
  REQUIRE(test::parameter_bits(saved) == test::parameter_bits(loaded));
}

TEST_CASE("loading a file of another shape names the first differing layer and leaves the network alone") {
  const fs::path path = scratch("model.tnet");
  save_model(NarrowNet{HeNormal{.seed = 1}}, path);
  FashionNet net{HeNormal{.seed = 7}};
  const Bytes before = test::parameter_bits(net);
  REQUIRE_THROWS_MATCHES(
      load_model(net, path), ModelFileError,
      Catch::Matchers::Message(path.string() +
                               ": layer 2: file has Dense<256, 64>, network has Dense<256, 128>"));
  REQUIRE(test::parameter_bits(net) == before);
}

TEST_CASE("loading a file with another layer count or scalar type fails") {
  save_model(ShortNet{}, scratch("short.tnet"));
  require_rejected(read_all(scratch("short.tnet")),
                   "layer 1: file has SoftmaxCrossEntropy, network has ReLU");
  Bytes fewer = encode_model(SmallNet{});
  fewer[16] = 3;  // the same records, the last one left out of the count
  require_rejected(fewer,
                   "layer count: file has 3 layers, network has 4 (the network's layer 3 is "
                   "SoftmaxCrossEntropy)");
  save_model(SmallDoubleNet{}, scratch("double.tnet"));
  require_rejected(read_all(scratch("double.tnet")),
                   "scalar type: file has 8 (double), network has 4 (float)");
}

TEST_CASE("corrupt files are rejected and leave the network alone") {
  const Bytes good = encode_model(SmallNet{HeNormal{.seed = 11}});

  Bytes bad = good;
  bad[0] = 'X';
  require_rejected(bad, "magic: expected \"TYPENET\\0\": not a typenet model file");

  bad = good;
  bad[8] = 4;
  require_rejected(bad, "format version: file has 4, this build reads 1 to 3");

  bad = good;
  bad[12] = 3;
  require_rejected(bad, "scalar type: file has 3 (unknown), network has 4 (float)");

  bad = Bytes(good.begin(), good.begin() + 10);
  require_rejected(bad, "truncated header: expected at least 20 bytes, found 10");

  bad = Bytes(good.begin(), good.begin() + 30);  // inside the name of layer 0 (11 bytes from byte 24)
  require_rejected(bad, "truncated layer record at byte 24: expected 11 more bytes, found 6");

  bad = good;
  bad[21] = 1;  // layer 0's name 267 bytes long
  require_rejected(bad, "layer 0: a name of 267 bytes");

  Bytes v1 = version1_file(SmallNet{HeNormal{.seed = 11}});
  v1.resize(30);
  require_rejected(v1, "truncated layer table: expected 52 bytes for 2 layers, found 30");

  bad = Bytes(good.begin(), good.end() - 1);
  require_rejected(bad, "truncated: expected " + std::to_string(good.size()) + " bytes, found " +
                            std::to_string(good.size() - 1));

  bad = good;
  bad.push_back(0);
  require_rejected(bad, "trailing bytes: expected " + std::to_string(good.size()) + " bytes, found " +
                            std::to_string(good.size() + 1));

  bad = good;
  bad[good.size() - 5] ^= 0x01;  // one bit of the last bias
  require_rejected(bad, "checksum: the file is corrupt (its CRC-32 does not match its contents)");
}

TEST_CASE("a failed save leaves the previous file intact") {
  const fs::path path = scratch("keep.tnet");
  SmallNet first{HeNormal{.seed = 1}}, second{HeNormal{.seed = 2}};
  save_model(first, path);
  const Bytes previous = read_all(path);

  // The temporary file cannot be created (a directory is in its way): the save fails before `path`.
  const fs::path tmp = path.string() + ".tmp";
  fs::create_directories(tmp);
  REQUIRE_THROWS_MATCHES(save_model(second, path), ModelFileError,
                         Catch::Matchers::Predicate<ModelFileError>([&](const ModelFileError& e) {
                           return std::string(e.what()).find(tmp.string() + ": cannot create") == 0;
                         }));
  fs::remove(tmp);
  REQUIRE(read_all(path) == previous);

  // A directory that does not exist.
  REQUIRE_THROWS_AS(save_model(second, scratch("no-such-dir") / "model.tnet"), ModelFileError);

  // The rename cannot replace a non-empty directory: the temporary file is cleaned up.
  const fs::path dir_target = scratch("a-directory.tnet");
  fs::create_directories(dir_target / "inside");
  REQUIRE_THROWS_WITH(save_model(second, dir_target), Contains("cannot rename keep.tnet.tmp") ||
                                                          Contains("cannot rename a-directory.tnet.tmp"));
  REQUIRE_FALSE(fs::exists(dir_target.string() + ".tmp"));
  REQUIRE(fs::is_directory(dir_target / "inside"));

  // And a successful save replaces it.
  save_model(second, path);
  SmallNet check;
  load_model(check, path);
  REQUIRE(test::parameter_bits(check) == test::parameter_bits(second));
}

TEST_CASE("loading a missing file names it") {
  SmallNet net;
  REQUIRE_THROWS_WITH(load_model(net, scratch("absent.tnet")), Contains("absent.tnet: cannot open"));
}

TEST_CASE("loading a directory names it, with a ModelFileError") {
  // It opens like a file; its first read once threw the standard library's std::ios_base::failure.
  const fs::path dir = scratch("a-directory-model.tnet");
  fs::create_directories(dir);
  SmallNet net;
  REQUIRE_THROWS_MATCHES(load_model(net, dir), ModelFileError,
                         Catch::Matchers::Message(dir.string() + ": cannot read: it is a directory"));
}

TEST_CASE("a save that runs out of disk space leaves the previous file intact and names the file") {
  // /dev/full fails every write with ENOSPC: a symlink in place of the temporary file simulates a full disk.
  REQUIRE(fs::exists("/dev/full"));
  const std::string no_space = std::generic_category().message(ENOSPC);
  const fs::path path = scratch("full.tnet");
  const fs::path tmp = path.string() + ".tmp";
  save_model(SmallNet{HeNormal{.seed = 1}}, path);
  const Bytes previous = read_all(path);

  auto save_onto_full_disk = [&](const auto& net) -> std::string {
    fs::remove(tmp);
    fs::create_symlink("/dev/full", tmp);
    try {
      save_model(net, path);
    } catch (const ModelFileError& e) {
      return e.what();
    }
    return "no ModelFileError";
  };
  // A small model fits stdio's buffer, so the flush fails; a large one fails in fwrite itself.
  CHECK(save_onto_full_disk(SmallNet{HeNormal{.seed = 2}}) == tmp.string() + ": flush failed: " + no_space);
  CHECK(save_onto_full_disk(FashionNet{HeNormal{.seed = 2}}) == tmp.string() + ": write failed: " + no_space);

  REQUIRE(read_all(path) == previous);
  REQUIRE_FALSE(fs::exists(fs::symlink_status(tmp)));  // the failed temporary file is gone
  REQUIRE(fs::exists("/dev/full"));                    // (removing it removed the link, not the device)
}

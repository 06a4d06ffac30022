// Writes the fuzzers' seed corpus: valid IDX files (raw and gzip), a valid model file and a valid
// safetensors file for the fuzzers' network, and a few malformed ones, so the fuzzers start from inputs
// that reach deep into the parsers.
//   make_fuzz_seeds OUTPUT_DIR   ->   OUTPUT_DIR/idx/*, OUTPUT_DIR/model/*, OUTPUT_DIR/safetensors/*
#include <zlib.h>

#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <stdexcept>
#include <string>
#include <vector>

#include "typenet/io/model_file.hpp"
#include "typenet/io/safetensors.hpp"
#include "typenet/layers/activations.hpp"
#include "typenet/layers/dense.hpp"
#include "typenet/layers/losses.hpp"
#include "typenet/network/network.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

using SmallNet =
    typenet::Network<typenet::Dense<6, 5>, typenet::ReLU, typenet::Dense<5, 3>, typenet::SoftmaxCrossEntropy>;

Bytes idx(const std::vector<std::uint32_t>& dims, std::size_t payload) {
  Bytes out = {0, 0, 0x08, std::uint8_t(dims.size())};
  for (const std::uint32_t d : dims)
    for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::uint8_t(d >> shift));
  for (std::size_t i = 0; i < payload; ++i) out.push_back(std::uint8_t(i % 10));
  return out;
}

Bytes gzip(const Bytes& plain) {
  z_stream z{};
  if (deflateInit2(&z, Z_BEST_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) != Z_OK)
    throw std::runtime_error("deflateInit2 failed");
  Bytes out(deflateBound(&z, uLong(plain.size())));
  z.next_in = const_cast<Bytef*>(plain.data());
  z.avail_in = uInt(plain.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  const int code = deflate(&z, Z_FINISH);
  out.erase(out.end() - std::ptrdiff_t(z.avail_out), out.end());  // (resize: a g++ 12 false warning)
  deflateEnd(&z);
  if (code != Z_STREAM_END) throw std::runtime_error("deflate failed");
  return out;
}

void write(const fs::path& path, const Bytes& bytes) {
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  if (!out) throw std::runtime_error(path.string() + ": cannot write");
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fuzz_seeds OUTPUT_DIR\n");
    return 2;
  }
  try {
    const fs::path idx_dir = fs::path(argv[1]) / "idx", model_dir = fs::path(argv[1]) / "model",
                   safetensors_dir = fs::path(argv[1]) / "safetensors";
    for (const fs::path& dir : {idx_dir, model_dir, safetensors_dir}) fs::create_directories(dir);

    const Bytes images = idx({2, 4, 4}, 32), labels = idx({5}, 5);
    write(idx_dir / "images-raw", images);
    write(idx_dir / "labels-raw", labels);
    write(idx_dir / "images-gz", gzip(images));
    write(idx_dir / "labels-gz", gzip(labels));
    Bytes two_members = gzip(labels);
    const Bytes second = gzip(Bytes(labels.begin() + 8, labels.end()));
    two_members.insert(two_members.end(), second.begin(), second.end());
    write(idx_dir / "labels-gz-two-members", two_members);
    Bytes bad = images;
    bad[2] = 0x0d;
    write(idx_dir / "bad-element-type", bad);
    write(idx_dir / "truncated-header", Bytes(images.begin(), images.begin() + 10));
    write(idx_dir / "truncated-payload", Bytes(images.begin(), images.end() - 1));
    write(idx_dir / "overflowing-dims", idx({0xffffffff, 0xffffffff, 0xffffffff}, 3));
    const Bytes gz = gzip(images);
    write(idx_dir / "gz-truncated", Bytes(gz.begin(), gz.end() - 6));

    const Bytes model = typenet::encode_model(SmallNet{typenet::HeNormal{.seed = 3}});
    write(model_dir / "valid.tnet", model);
    write(model_dir / "truncated.tnet", Bytes(model.begin(), model.begin() + 30));
    bad = model;
    bad[20] = 7;  // layer 0 claims 7 inputs
    write(model_dir / "wrong-shape.tnet", bad);
    bad = model;
    bad[16] = 0xff;  // a huge layer count
    write(model_dir / "many-layers.tnet", bad);

    const Bytes tensors = typenet::encode_safetensors(SmallNet{typenet::HeNormal{.seed = 3}});
    write(safetensors_dir / "valid.safetensors", tensors);
    write(safetensors_dir / "truncated.safetensors", Bytes(tensors.begin(), tensors.begin() + 40));
    bad = tensors;
    bad.back() ^= 0x7f;  // a NaN or a changed weight
    write(safetensors_dir / "last-byte.safetensors", bad);
    const std::string half = R"({"0.weight":{"dtype":"F16","shape":[5,6],"data_offsets":[0,60]},)"
                             R"("0.bias":{"dtype":"BF16","shape":[5],"data_offsets":[60,70]},)"
                             R"("2.weight":{"dtype":"F32","shape":[3,5],"data_offsets":[70,130]},)"
                             R"("2.bias":{"dtype":"F32","shape":[3],"data_offsets":[130,142]}})";
    Bytes halves;
    for (std::size_t i = 0; i < 8; ++i) halves.push_back(std::uint8_t(half.size() >> (8 * i)));
    halves.insert(halves.end(), half.begin(), half.end());
    for (std::size_t i = 0; i < 142; ++i) halves.push_back(std::uint8_t(i % 2 ? 0x3c : 0x00));
    write(safetensors_dir / "half.safetensors", halves);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "make_fuzz_seeds: %s\n", e.what());
    return 1;
  }
  return 0;
}

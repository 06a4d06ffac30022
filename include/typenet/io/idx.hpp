// Reading IDX files (the MNIST / Fashion-MNIST format), raw or gzip-compressed.
//
// An IDX file is a big-endian header, then the payload:
//   magic: 0x00 0x00 <element type> <number of dimensions>   (element type 0x08: unsigned byte)
//   one u32 per dimension (images: count, rows, cols; labels: count)
//   the elements, row-major, exactly as many as the dimensions multiply to.
// Everything is checked: a bad file is a typenet::DataError whose message names the file, the field, the
// value expected and the value found, e.g.
//   train-images-idx3-ubyte.gz: header field 'magic': expected 0x00000803 (unsigned-byte, 3 dimensions),
//   found 0x00000801 (unsigned-byte, 1 dimension)
#pragma once

#include <array>
#include <cstddef>
#include <cstdint>
#include <filesystem>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "typenet/core/error.hpp"

namespace typenet {

// A data file that cannot be used: missing, unreadable, malformed, or not what the network expects.
class DataError : public Error {
 public:
  using Error::Error;
};

// One IDX array of unsigned bytes: its dimensions and its elements.
struct IdxArray {
  std::vector<std::size_t> dims;
  std::vector<std::uint8_t> values;
};

// Parses IDX bytes (already decompressed) that must hold unsigned bytes in `expected_dims` dimensions.
// `name` is the file name used in error messages.
IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::size_t expected_dims, const std::string& name);

// Decompresses gzip data held in memory (one or more members, nothing after them); a DataError naming `name`
// when it is truncated or corrupt.
std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> compressed, const std::string& name);

// Reads a whole file, decompressing it (gunzip) when it starts with the gzip magic bytes 1f 8b.
std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path);

// read_file_bytes + parse_idx, except that a gzip file is inflated no further than twice the size its IDX
// header announces plus 1 MiB (a DataError beyond: a small file cannot exhaust memory).
IdxArray read_idx(const std::filesystem::path& path, std::size_t expected_dims);

// What a data set must look like to feed the network.
struct DatasetSpec {
  std::size_t rows = 28;     // image height
  std::size_t cols = 28;     // image width; rows * cols is the network's input width
  std::size_t classes = 10;  // every label must be below this
};

// Images as floats in [0, 1] (pixel / 255), one row of rows * cols per image, and their labels; or, for a
// regression (MeanSquaredError) or soft-label network, a row of target_width target values per sample.
struct Dataset {
  std::vector<float> images;
  std::vector<std::uint8_t> labels;
  std::size_t count = 0, rows = 0, cols = 0;
  // Target rows instead of labels: count x target_width values (0: the data set has labels only).
  std::vector<float> targets;
  std::size_t target_width = 0;

  std::size_t image_size() const { return rows * cols; }
  const float* image(std::size_t i) const { return images.data() + i * image_size(); }
  const float* target(std::size_t i) const { return targets.data() + i * target_width; }

  // Before a network reads it: count images of `input_width` pixels and count labels, each below `classes`.
  // A DataError names what does not fit (a Dataset built by hand can hold anything), a LabelError the
  // first label out of range, with its sample.
  void check_fits(std::size_t input_width, std::size_t classes) const;
  // The same for training on target rows: count images and count rows of `output_width` finite targets.
  void check_fits_targets(std::size_t input_width, std::size_t output_width) const;
};

// Loads and cross-checks an image file (3 dimensions) and a label file (1 dimension).
Dataset load_idx_dataset(const std::filesystem::path& images_path, const std::filesystem::path& labels_path,
                         const DatasetSpec& spec = {});

// The first min(n, count) samples of `data` (their labels and target rows too).
Dataset first_samples(const Dataset& data, std::size_t n);

// Where Debian's dataset-fashion-mnist package puts the files.
inline constexpr const char* default_fashion_mnist_dir = "/usr/share/datasets/fashion-mnist";

struct TrainTestSets {
  Dataset train, test;
};

// Loads train-{images-idx3,labels-idx1}-ubyte and t10k-... from `dir`, each with or without .gz.
TrainTestSets load_fashion_mnist(const std::filesystem::path& dir = default_fashion_mnist_dir);

// `dir/base.gz` if it exists, else `dir/base`; a DataError naming both when neither does.
std::filesystem::path find_idx_file(const std::filesystem::path& dir, const std::string& base);

inline constexpr std::array<const char*, 10> fashion_mnist_class_names = {
    "T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"};

}  // namespace typenet

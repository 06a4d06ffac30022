// The IDX reader on small files written here: valid raw and gzip files, and each kind of malformed file,
// checking that the error names the file, the field, the expected and the found value.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "typenet/io/idx.hpp"

namespace fs = std::filesystem;
using Bytes = std::vector<std::uint8_t>;

namespace {

fs::path scratch_dir() {
  const fs::path dir = fs::current_path() / "test_idx_files";
  fs::create_directories(dir);
  return dir;
}

void put_be32(Bytes& out, std::uint32_t v) {
  for (int shift = 24; shift >= 0; shift -= 8) out.push_back(std::uint8_t(v >> shift));
}

// An IDX file: magic 00 00 type ndims, the dimensions, then the payload.
Bytes idx_bytes(std::uint8_t type, const std::vector<std::uint32_t>& dims, const Bytes& payload) {
  Bytes out = {0, 0, type, std::uint8_t(dims.size())};
  for (std::uint32_t d : dims) put_be32(out, d);
  out.insert(out.end(), payload.begin(), payload.end());
  return out;
}

Bytes pixels(std::size_t count) {
  Bytes p(count * 28 * 28);
  for (std::size_t i = 0; i < p.size(); ++i) p[i] = std::uint8_t(i * 7);
  return p;
}

Bytes valid_images(std::uint32_t count = 3) {
  return idx_bytes(0x08, {count, 28, 28}, pixels(count));
}
Bytes valid_labels(const Bytes& labels = {1, 9, 0}) {
  return idx_bytes(0x08, {std::uint32_t(labels.size())}, labels);
}

fs::path write_raw(const std::string& name, const Bytes& bytes) {
  const fs::path path = scratch_dir() / name;
  std::ofstream out(path, std::ios::binary | std::ios::trunc);
  out.write(reinterpret_cast<const char*>(bytes.data()), std::streamsize(bytes.size()));
  REQUIRE(out.good());
  return path;
}

fs::path write_gz(const std::string& name, const Bytes& bytes) {
  const fs::path path = scratch_dir() / name;
  gzFile file = gzopen(path.c_str(), "wb");
  REQUIRE(file != nullptr);
  REQUIRE(gzwrite(file, bytes.data(), unsigned(bytes.size())) == int(bytes.size()));
  REQUIRE(gzclose(file) == Z_OK);
  return path;
}

// The DataError message of loading `images` with a valid label file (or `labels` when given).
std::string images_error(const Bytes& images, const std::string& name = "bad-images-idx3-ubyte") {
  const fs::path path = write_raw(name, images);
  const fs::path labels = write_raw("ok-labels-idx1-ubyte", valid_labels());
  try {
    typenet::load_idx_dataset(path, labels);
  } catch (const typenet::DataError& e) {
    return e.what();
  }
  FAIL("no DataError for " << name);
  return "";
}

std::string labels_error(const Bytes& labels, std::uint32_t image_count = 3) {
  const fs::path images = write_raw("ok-images-idx3-ubyte", valid_images(image_count));
  const fs::path path = write_raw("bad-labels-idx1-ubyte", labels);
  try {
    typenet::load_idx_dataset(images, path);
  } catch (const typenet::DataError& e) {
    return e.what();
  }
  FAIL("no DataError");
  return "";
}

using Catch::Matchers::Contains;

}  // namespace

TEST_CASE("a valid raw IDX pair loads as floats in [0, 1] with its labels") {
  const auto data = typenet::load_idx_dataset(write_raw("images-idx3-ubyte", valid_images()),
                                              write_raw("labels-idx1-ubyte", valid_labels()));
  REQUIRE(data.count == 3);
  REQUIRE(data.rows == 28);
  REQUIRE(data.cols == 28);
  REQUIRE(data.image_size() == 784);
  REQUIRE(data.images.size() == 3 * 784);
  REQUIRE(data.labels == Bytes{1, 9, 0});
  const Bytes p = pixels(3);
  for (std::size_t i = 0; i < p.size(); ++i) REQUIRE(data.images[i] == float(p[i]) / 255.0f);
  REQUIRE(*std::max_element(data.images.begin(), data.images.end()) <= 1.0f);
}

TEST_CASE("a gzip-compressed IDX pair loads the same as the raw one") {
  const auto raw = typenet::load_idx_dataset(write_raw("images-idx3-ubyte", valid_images()),
                                             write_raw("labels-idx1-ubyte", valid_labels()));
  const auto gz = typenet::load_idx_dataset(write_gz("images-idx3-ubyte.gz", valid_images()),
                                            write_gz("labels-idx1-ubyte.gz", valid_labels()));
  REQUIRE(gz.images == raw.images);
  REQUIRE(gz.labels == raw.labels);
  REQUIRE(gz.count == raw.count);
}

TEST_CASE("load_fashion_mnist finds .gz and raw files in a directory") {
  const fs::path dir = scratch_dir() / "fashion";
  fs::create_directories(dir);
  for (const char* f : {"train-images-idx3-ubyte", "train-labels-idx1-ubyte", "t10k-images-idx3-ubyte",
                        "t10k-labels-idx1-ubyte", "train-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"})
    fs::remove(dir / f);
  write_gz("fashion/train-images-idx3-ubyte.gz", valid_images(2));
  write_raw("fashion/train-labels-idx1-ubyte", valid_labels({3, 4}));
  write_raw("fashion/t10k-images-idx3-ubyte", valid_images(3));
  write_gz("fashion/t10k-labels-idx1-ubyte.gz", valid_labels({5, 6, 7}));
  const auto sets = typenet::load_fashion_mnist(dir);
  REQUIRE(sets.train.count == 2);
  REQUIRE(sets.test.count == 3);
  REQUIRE(sets.test.labels == Bytes{5, 6, 7});
  const auto head = typenet::first_samples(sets.test, 2);
  REQUIRE(head.count == 2);
  REQUIRE(head.labels == Bytes{5, 6});
  REQUIRE(head.images.size() == 2 * 784);

  fs::remove(dir / "t10k-labels-idx1-ubyte.gz");
  REQUIRE_THROWS_WITH(typenet::load_fashion_mnist(dir), Contains("t10k-labels-idx1-ubyte") &&
                                                            Contains("expected t10k-labels-idx1-ubyte.gz or "
                                                                     "t10k-labels-idx1-ubyte") &&
                                                            Contains("found neither"));
}

TEST_CASE("IDX: a missing file is a DataError naming it") {
  REQUIRE_THROWS_WITH(typenet::read_idx(scratch_dir() / "no-such-file", 1),
                      Contains("no-such-file") && Contains("cannot open"));
}

TEST_CASE("IDX: wrong magic") {
  Bytes bad = valid_images();
  bad[0] = 0x12;
  bad[1] = 0x34;
  const std::string message = images_error(bad, "train-images-idx3-ubyte");
  REQUIRE_THAT(message, Contains("train-images-idx3-ubyte: header field 'magic': expected 0x00000803 "
                                 "(unsigned-byte, 3 dimensions), found 0x12340803 (not an IDX file"));
}

TEST_CASE("IDX: wrong element type") {
  Bytes bad = valid_images();
  bad[2] = 0x0d;
  REQUIRE_THAT(images_error(bad),
               Contains("bad-images-idx3-ubyte: header field 'magic': expected 0x00000803 "
                        "(unsigned-byte, 3 dimensions), found 0x00000d03 (float, 3 dimensions)"));
  bad[2] = 0x42;
  REQUIRE_THAT(images_error(bad), Contains("found 0x00004203 (unknown element type 0x42, 3 dimensions)"));
}

TEST_CASE("IDX: wrong number of dimensions (a label file given as images)") {
  REQUIRE_THAT(
      images_error(valid_labels(), "train-images-idx3-ubyte.gz"),
      Contains("train-images-idx3-ubyte.gz: header field 'magic': expected 0x00000803 (unsigned-byte, 3 "
               "dimensions), found 0x00000801 (unsigned-byte, 1 dimension)"));
}

TEST_CASE("IDX: a zero dimension") {
  REQUIRE_THAT(images_error(idx_bytes(0x08, {3, 0, 28}, {})),
               Contains("bad-images-idx3-ubyte: header field 'dimension 1 (rows)': expected a non-zero size, "
                        "found 0"));
  REQUIRE_THAT(
      labels_error(idx_bytes(0x08, {0}, {})),
      Contains("bad-labels-idx1-ubyte: header field 'dimension 0 (count)': expected a non-zero size, "
               "found 0"));
}

TEST_CASE("IDX: a dimension product that overflows") {
  // 0xffffffff^3 wraps around 64 bits; the check must fire before any size comparison.
  REQUIRE_THAT(
      images_error(idx_bytes(0x08, {0xffffffff, 0xffffffff, 0xffffffff}, {1, 2, 3})),
      Contains("header field 'dimensions': expected a product that fits in 64 bits, found 4294967295 x "
               "4294967295 x 4294967295 (overflows)"));
}

TEST_CASE("IDX: a truncated header") {
  Bytes bad = valid_images();
  bad.resize(10);
  REQUIRE_THAT(images_error(bad), Contains("bad-images-idx3-ubyte: header: expected 16 bytes (magic and 3 "
                                           "dimension sizes), found 10 bytes"));
  bad.resize(2);
  REQUIRE_THAT(images_error(bad),
               Contains("header: expected at least 4 bytes (the magic number), found 2 bytes"));
}

TEST_CASE("IDX: a truncated payload") {
  Bytes bad = valid_images();
  bad.pop_back();
  REQUIRE_THAT(images_error(bad), Contains("bad-images-idx3-ubyte: payload (truncated): expected 2352 bytes "
                                           "(3 x 28 x 28) after the 16-byte header, found 2351 bytes"));
}

TEST_CASE("IDX: trailing bytes") {
  Bytes bad = valid_labels();
  bad.push_back(0);
  bad.push_back(0);
  REQUIRE_THAT(labels_error(bad),
               Contains("bad-labels-idx1-ubyte: payload (trailing bytes): expected 3 bytes (3) "
                        "after the 8-byte header, found 5 bytes"));
}

TEST_CASE("IDX: a truncated gzip stream") {
  const fs::path gz = write_gz("cut-images-idx3-ubyte.gz", valid_images());
  const auto size = fs::file_size(gz);
  fs::resize_file(gz, size - 12);  // drop the CRC and length trailer and some data
  REQUIRE_THROWS_WITH(typenet::read_idx(gz, 3), Contains("cut-images-idx3-ubyte.gz: gzip stream: expected a "
                                                         "complete, valid stream, found"));
}

TEST_CASE("IDX: images and labels that disagree in count") {
  REQUIRE_THAT(
      labels_error(valid_labels({1, 2}), 3),
      Contains("bad-labels-idx1-ubyte: header field 'count': expected 3 labels (the image count of ") &&
          Contains("ok-images-idx3-ubyte), found 2"));
}

TEST_CASE("IDX: a label that is not a class") {
  REQUIRE_THAT(labels_error(valid_labels({1, 2, 10})),
               Contains("bad-labels-idx1-ubyte: label 2: expected a class below 10, found 10"));
}

TEST_CASE("IDX: images that do not match the network input") {
  REQUIRE_THAT(
      images_error(idx_bytes(0x08, {3, 32, 32}, Bytes(3 * 32 * 32))),
      Contains("bad-images-idx3-ubyte: header fields 'rows' x 'columns': expected 28x28 (784 pixels, the "
               "network's input width), found 32x32"));
}

// The IDX reader on small files written here: valid raw and gzip files, and each kind of malformed file,
// checking that the error names the file, the field, the expected and the found value.
#include <zlib.h>

#include <catch2/catch.hpp>
#include <cstdint>
#include <filesystem>
#include <fstream>
#include <initializer_list>
#include <string>
#include <utility>
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

// Bytes gzip-compressed in memory, as `gzip` writes them.
Bytes gzip_bytes(const Bytes& plain) {
  z_stream z{};
  REQUIRE(deflateInit2(&z, Z_DEFAULT_COMPRESSION, Z_DEFLATED, 16 + MAX_WBITS, 8, Z_DEFAULT_STRATEGY) == Z_OK);
  Bytes out(deflateBound(&z, uLong(plain.size())));
  z.next_in = const_cast<Bytef*>(plain.data());
  z.avail_in = uInt(plain.size());
  z.next_out = out.data();
  z.avail_out = uInt(out.size());
  REQUIRE(deflate(&z, Z_FINISH) == Z_STREAM_END);
  out.erase(out.end() - std::ptrdiff_t(z.avail_out), out.end());  // (resize: a g++ 12 false warning)
  deflateEnd(&z);
  return out;
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

TEST_CASE("IDX: a directory in place of the file is a DataError naming it") {
  // It opens like a file; its reported size (2^63 - 1) once made the reader throw std::bad_alloc.
  const fs::path dir = scratch_dir() / "a-directory-idx1-ubyte";
  fs::create_directories(dir);
  REQUIRE_THROWS_MATCHES(typenet::read_idx(dir, 1), typenet::DataError,
                         Catch::Matchers::Message(dir.string() + ": cannot read: it is a directory"));
}

namespace {

Bytes with(Bytes bytes, std::size_t at, std::initializer_list<std::uint8_t> values) {
  for (std::uint8_t v : values) bytes.at(at++) = v;
  return bytes;
}
Bytes first(const Bytes& bytes, std::size_t n) {
  return Bytes(bytes.begin(), bytes.begin() + std::ptrdiff_t(n));
}
Bytes plus(Bytes bytes, const Bytes& more) {
  bytes.insert(bytes.end(), more.begin(), more.end());
  return bytes;
}

enum class Blamed { images, labels };

// One hand-made malformed pair: the file the error must name and the rest of its message, in which
// "{images}" stands for the image file's path.
struct Malformed {
  const char* what;
  Bytes images, labels;
  Blamed blamed;
  std::string message;
};

std::string replace_all(std::string s, const std::string& from, const std::string& to) {
  for (std::size_t at = s.find(from); at != std::string::npos; at = s.find(from, at + to.size()))
    s.replace(at, from.size(), to);
  return s;
}

}  // namespace

TEST_CASE("IDX: every malformed file is a DataError naming the file, the field, the expected and the found") {
  const std::vector<Malformed> table = {
      {"wrong magic", with(valid_images(), 0, {0x12, 0x34}), valid_labels(), Blamed::images,
       "header field 'magic': expected 0x00000803 (unsigned-byte, 3 dimensions), found 0x12340803 (not an "
       "IDX "
       "file: the first two bytes must be zero)"},
      {"wrong element type", with(valid_images(), 2, {0x0d}), valid_labels(), Blamed::images,
       "header field 'magic': expected 0x00000803 (unsigned-byte, 3 dimensions), found 0x00000d03 (float, 3 "
       "dimensions)"},
      {"unknown element type", with(valid_images(), 2, {0x42}), valid_labels(), Blamed::images,
       "header field 'magic': expected 0x00000803 (unsigned-byte, 3 dimensions), found 0x00004203 (unknown "
       "element type 0x42, 3 dimensions)"},
      {"a label file given as images", valid_labels(), valid_labels(), Blamed::images,
       "header field 'magic': expected 0x00000803 (unsigned-byte, 3 dimensions), found 0x00000801 "
       "(unsigned-byte, 1 dimension)"},
      {"an image file given as labels", valid_images(), valid_images(), Blamed::labels,
       "header field 'magic': expected 0x00000801 (unsigned-byte, 1 dimension), found 0x00000803 "
       "(unsigned-byte, 3 dimensions)"},
      {"dimension product overflowing 64 bits",
       idx_bytes(0x08, {0xffffffff, 0xffffffff, 0xffffffff}, {1, 2, 3}), valid_labels(), Blamed::images,
       "header field 'dimensions': expected a product that fits in 64 bits, found 4294967295 x 4294967295 x "
       "4294967295 (overflows)"},
      {"header cut inside the dimensions", first(valid_images(), 10), valid_labels(), Blamed::images,
       "header: expected 16 bytes (magic and 3 dimension sizes), found 10 bytes"},
      {"header cut inside the magic", first(valid_images(), 2), valid_labels(), Blamed::images,
       "header: expected at least 4 bytes (the magic number), found 2 bytes"},
      {"an empty file", Bytes{}, valid_labels(), Blamed::images,
       "header: expected at least 4 bytes (the magic number), found 0 bytes"},
      {"truncated payload", first(valid_images(), 16 + 3 * 784 - 1), valid_labels(), Blamed::images,
       "payload (truncated): expected 2352 bytes (3 x 28 x 28) after the 16-byte header, found 2351 bytes"},
      {"trailing bytes", valid_images(), plus(valid_labels(), {0, 0}), Blamed::labels,
       "payload (trailing bytes): expected 3 bytes (3) after the 8-byte header, found 5 bytes"},
      {"zero images", idx_bytes(0x08, {0, 28, 28}, {}), valid_labels({}), Blamed::images,
       "header field 'dimension 0 (count)': expected a non-zero size, found 0"},
      {"zero labels", valid_images(), valid_labels({}), Blamed::labels,
       "header field 'dimension 0 (count)': expected a non-zero size, found 0"},
      {"zero rows", idx_bytes(0x08, {3, 0, 28}, {}), valid_labels(), Blamed::images,
       "header field 'dimension 1 (rows)': expected a non-zero size, found 0"},
      {"images and labels of different counts", valid_images(3), valid_labels({1, 2}), Blamed::labels,
       "header field 'count': expected 3 labels (the image count of {images}), found 2"},
      {"images that are not 28x28 for a 784-input network", idx_bytes(0x08, {3, 32, 32}, Bytes(3 * 32 * 32)),
       valid_labels(), Blamed::images,
       "header fields 'rows' x 'columns': expected 28x28 (784 pixels, the network's input width), found "
       "32x32"},
      {"images of 784 pixels in the wrong shape", idx_bytes(0x08, {3, 16, 49}, Bytes(3 * 784)),
       valid_labels(), Blamed::images,
       "header fields 'rows' x 'columns': expected 28x28 (784 pixels, the network's input width), found "
       "16x49"},
      {"a label that is not a class", valid_images(), valid_labels({1, 2, 10}), Blamed::labels,
       "label 2: expected a class below 10, found 10"},
      {"a label far beyond the classes", valid_images(), valid_labels({255, 2, 3}), Blamed::labels,
       "label 0: expected a class below 10, found 255"},
  };
  // Each file raw and gzip-compressed: the same checks, the same message, the file's own name.
  for (const bool gz : {false, true}) {
    for (const Malformed& row : table) {
      DYNAMIC_SECTION(row.what << (gz ? " (gzip)" : " (raw)")) {
        const std::string suffix = gz ? ".gz" : "";
        const fs::path images = gz ? write_gz("table-images-idx3-ubyte.gz", row.images)
                                   : write_raw("table-images-idx3-ubyte", row.images);
        const fs::path labels = gz ? write_gz("table-labels-idx1-ubyte.gz", row.labels)
                                   : write_raw("table-labels-idx1-ubyte", row.labels);
        const fs::path& blamed = row.blamed == Blamed::images ? images : labels;
        const std::string expected =
            blamed.string() + ": " + replace_all(row.message, "{images}", images.string());
        REQUIRE_THROWS_MATCHES(typenet::load_idx_dataset(images, labels), typenet::DataError,
                               Catch::Matchers::Message(expected));
      }
    }
  }
}

TEST_CASE("IDX: a truncated gzip file") {
  const fs::path gz = write_gz("cut-images-idx3-ubyte.gz", valid_images());
  fs::resize_file(gz, fs::file_size(gz) - 12);  // drop the CRC and length trailer and some data
  REQUIRE_THROWS_MATCHES(
      typenet::read_idx(gz, 3), typenet::DataError,
      Catch::Matchers::Message(gz.string() + ": gzip stream: expected a complete, valid stream, found a "
                                             "truncated stream (unexpected end of file)"));
}

TEST_CASE("gunzip: in memory, what read_file_bytes does to .gz files") {
  const Bytes plain = valid_labels({4, 5, 6});
  const Bytes gz = gzip_bytes(plain);
  REQUIRE(typenet::gunzip(gz, "x.gz") == plain);

  SECTION("concatenated members decompress to the concatenation, as with gzip -d") {
    const Bytes tail = {7, 8};
    REQUIRE(typenet::gunzip(plus(gz, gzip_bytes(tail)), "x.gz") == plus(plain, tail));
  }
  SECTION("bytes after the stream that are not another member are rejected") {
    REQUIRE_THROWS_MATCHES(
        typenet::gunzip(plus(gz, {0, 0, 0}), "x.gz"), typenet::DataError,
        Catch::Matchers::Message(
            "x.gz: gzip stream: expected a complete, valid stream, found 3 bytes after the end of the "
            "compressed data"));
  }
  SECTION("a corrupted stream names zlib's reason") {
    Bytes bad = gz;
    bad[bad.size() - 8] ^= 0xff;  // the CRC-32 of the data
    REQUIRE_THROWS_MATCHES(
        typenet::gunzip(bad, "x.gz"), typenet::DataError,
        Catch::Matchers::Message("x.gz: gzip stream: expected a complete, valid stream, found incorrect data "
                                 "check"));
  }
  SECTION("only the gzip magic") {
    REQUIRE_THROWS_MATCHES(
        typenet::gunzip(Bytes{0x1f, 0x8b}, "x.gz"), typenet::DataError,
        Catch::Matchers::Message("x.gz: gzip stream: expected a complete, valid stream, found "
                                 "a truncated stream (unexpected end of file)"));
  }
  SECTION("a large payload grows the output buffer several times") {
    Bytes big(1 << 20);
    for (std::size_t i = 0; i < big.size(); ++i) big[i] = std::uint8_t(i / 4096);
    REQUIRE(typenet::gunzip(gzip_bytes(big), "big.gz") == big);
  }
}

TEST_CASE("IDX: a gzip file that inflates far beyond its header (a gzip bomb) stops early with a DataError") {
  // A valid 3-label header followed by 8 MiB of zeros: 8 KB compressed. Reading stops at twice the 11 bytes
  // the header announces plus 1 MiB, instead of inflating everything.
  Bytes bomb = valid_labels({1, 2, 3});
  bomb.resize(bomb.size() + (8u << 20), 0);
  const fs::path gz = write_gz("bomb-labels-idx1-ubyte.gz", bomb);
  REQUIRE(fs::file_size(gz) < 64 * 1024);
  REQUIRE_THROWS_MATCHES(
      typenet::read_idx(gz, 1), typenet::DataError,
      Catch::Matchers::Message(gz.string() +
                               ": gzip stream: expected at most 1048598 bytes once decompressed "
                               "(twice the 11 bytes its IDX header gives, plus 1 MiB), found more"));
  // The same data not compressed is reported by its size.
  REQUIRE_THROWS_WITH(typenet::parse_idx(bomb, 1, "plain"),
                      Catch::Matchers::Contains("payload (trailing bytes): expected 3 bytes"));
}

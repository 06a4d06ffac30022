// IDX reading: see include/typenet/io/idx.hpp.
#include "typenet/io/idx.hpp"

#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <fstream>
#include <limits>
#include <optional>
#include <sstream>
#include <system_error>

namespace typenet {
namespace {

constexpr std::uint8_t unsigned_byte_type = 0x08;

std::string hex32(std::uint32_t v) {
  char buffer[16];
  std::snprintf(buffer, sizeof buffer, "0x%08x", v);
  return buffer;
}

const char* element_type_name(std::uint8_t type) {
  switch (type) {
    case 0x08:
      return "unsigned-byte";
    case 0x09:
      return "signed-byte";
    case 0x0b:
      return "short";
    case 0x0c:
      return "int";
    case 0x0d:
      return "float";
    case 0x0e:
      return "double";
    default:
      return nullptr;
  }
}

// "unsigned-byte, 3 dimensions", or why the value is no IDX magic at all.
std::string describe_magic(std::uint32_t magic) {
  if ((magic >> 16) != 0) return "not an IDX file: the first two bytes must be zero";
  const auto type = std::uint8_t(magic >> 8);
  const auto dims = std::uint8_t(magic);
  std::ostringstream out;
  if (const char* name = element_type_name(type)) {
    out << name;
  } else {
    char buffer[32];
    std::snprintf(buffer, sizeof buffer, "unknown element type 0x%02x", unsigned(type));
    out << buffer;
  }
  out << ", " << unsigned(dims) << (dims == 1 ? " dimension" : " dimensions");
  return out.str();
}

[[noreturn]] void fail(const std::string& name, const std::string& field, const std::string& expected,
                       const std::string& found) {
  throw DataError(name + ": " + field + ": expected " + expected + ", found " + found);
}

std::uint32_t read_be32(const std::uint8_t* p) {
  return std::uint32_t(p[0]) << 24 | std::uint32_t(p[1]) << 16 | std::uint32_t(p[2]) << 8 |
         std::uint32_t(p[3]);
}

const char* dimension_name(std::size_t i) {
  return i == 0 ? "count" : i == 1 ? "rows" : "columns";
}

std::string join_dims(const std::vector<std::size_t>& dims) {
  std::string s;
  for (std::size_t i = 0; i < dims.size(); ++i) s += (i ? " x " : "") + std::to_string(dims[i]);
  return s;
}

}  // namespace

namespace {

bool is_gzip(std::span<const std::uint8_t> bytes) {
  return bytes.size() >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b;
}

// What inflate does on reaching `limit` output bytes with more to come.
enum class AtLimit { stop, fail };

// gunzip with at most `limit` bytes of output: a few kilobytes that inflate to gigabytes (a gzip bomb) end
// in a DataError about their size (AtLimit::fail, `limit_reason` says where the limit comes from) or are
// read only as far as needed (AtLimit::stop).
std::vector<std::uint8_t> inflate_bytes(std::span<const std::uint8_t> compressed, const std::string& name,
                                        std::size_t limit, AtLimit at_limit,
                                        const std::string& limit_reason) {
  z_stream z{};
  if (inflateInit2(&z, 16 + MAX_WBITS) != Z_OK) throw DataError(name + ": gzip stream: zlib cannot start");
  struct End {
    z_stream* z;
    ~End() { inflateEnd(z); }
  } end{&z};
  auto corrupt = [&](const std::string& found) {
    fail(name, "gzip stream", "a complete, valid stream", found);
  };
  constexpr std::size_t max_piece = std::numeric_limits<uInt>::max();  // zlib counts in uInt
  // One byte of room past the limit tells "exactly the limit" from "more".
  const std::size_t capacity = limit == std::numeric_limits<std::size_t>::max() ? limit : limit + 1;
  std::vector<std::uint8_t> out(std::min(capacity, std::max<std::size_t>(compressed.size() * 2, 1024)));
  std::size_t fed = 0, produced = 0;
  for (;;) {
    if (produced > limit) {
      if (at_limit == AtLimit::stop) break;
      fail(name, "gzip stream",
           "at most " + std::to_string(limit) + " bytes once decompressed (" + limit_reason + ")", "more");
    }
    if (z.avail_in == 0 && fed < compressed.size()) {
      const std::size_t piece = std::min(compressed.size() - fed, max_piece);
      // zlib's next_in is not const-qualified in every build, but inflate never writes through it.
      z.next_in = const_cast<Bytef*>(compressed.data() + fed);
      z.avail_in = uInt(piece);
      fed += piece;
    }
    if (produced == out.size()) out.resize(std::min(capacity, out.size() * 2));
    const std::size_t room = std::min(out.size() - produced, max_piece);
    z.next_out = out.data() + produced;
    z.avail_out = uInt(room);
    const int code = inflate(&z, Z_NO_FLUSH);
    produced += room - z.avail_out;
    if (code == Z_STREAM_END) {
      const std::size_t consumed = fed - z.avail_in;
      if (consumed == compressed.size()) break;
      // Another member may follow (`cat a.gz b.gz`); anything else after the stream is damage.
      const std::size_t rest = compressed.size() - consumed;
      if (rest < 2 || compressed[consumed] != 0x1f || compressed[consumed + 1] != 0x8b)
        corrupt(std::to_string(rest) + " bytes after the end of the compressed data");
      if (inflateReset(&z) != Z_OK) corrupt("a stream zlib cannot restart");
      continue;
    }
    // With room to write, Z_BUF_ERROR means the input ran out before the stream ended.
    if (code == Z_BUF_ERROR && z.avail_in == 0 && fed == compressed.size())
      corrupt("a truncated stream (unexpected end of file)");
    if (code != Z_OK) corrupt(z.msg != nullptr ? z.msg : "zlib error " + std::to_string(code));
  }
  out.resize(std::min(produced, limit));
  return out;
}

// The size of the whole array an IDX header announces (header included), if `head` holds a valid header.
std::optional<std::size_t> idx_size_from_header(std::span<const std::uint8_t> head,
                                                std::size_t expected_dims) {
  const std::size_t header_size = 4 + 4 * expected_dims;
  if (head.size() < header_size) return std::nullopt;
  if (read_be32(head.data()) != (std::uint32_t(unsigned_byte_type) << 8 | std::uint32_t(expected_dims)))
    return std::nullopt;
  std::size_t product = 1;
  for (std::size_t i = 0; i < expected_dims; ++i) {
    const std::size_t dim = read_be32(head.data() + 4 + 4 * i);
    if (dim == 0 || product > (std::numeric_limits<std::size_t>::max() - header_size) / dim)
      return std::nullopt;
    product *= dim;
  }
  return header_size + product;
}

}  // namespace

std::vector<std::uint8_t> gunzip(std::span<const std::uint8_t> compressed, const std::string& name) {
  return inflate_bytes(compressed, name, std::numeric_limits<std::size_t>::max(), AtLimit::fail, "");
}

namespace {

std::vector<std::uint8_t> read_raw_bytes(const std::filesystem::path& path) {
  const std::string name = path.string();
  std::ifstream in(path, std::ios::binary);
  if (!in) throw DataError(name + ": cannot open: " + std::strerror(errno));
  // A directory opens like a file but has no size to trust (tellg reports 2^63 - 1 for it).
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec)) throw DataError(name + ": cannot read: it is a directory");
  // Read in pieces rather than trusting a reported size: pipes and /proc files have none.
  std::vector<std::uint8_t> bytes;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0)
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
  if (in.bad()) throw DataError(name + ": read error");
  return bytes;
}

}  // namespace

std::vector<std::uint8_t> read_file_bytes(const std::filesystem::path& path) {
  std::vector<std::uint8_t> bytes = read_raw_bytes(path);
  // The gzip magic bytes decide, not the file name.
  if (is_gzip(bytes)) return gunzip(bytes, path.string());
  return bytes;
}

IdxArray parse_idx(std::span<const std::uint8_t> bytes, std::size_t expected_dims, const std::string& name) {
  const std::uint32_t expected_magic = std::uint32_t(unsigned_byte_type) << 8 | std::uint32_t(expected_dims);
  if (bytes.size() < 4)
    fail(name, "header", "at least 4 bytes (the magic number)", std::to_string(bytes.size()) + " bytes");
  const std::uint32_t magic = read_be32(bytes.data());
  if (magic != expected_magic)
    fail(name, "header field 'magic'", hex32(expected_magic) + " (" + describe_magic(expected_magic) + ")",
         hex32(magic) + " (" + describe_magic(magic) + ")");

  const std::size_t header_size = 4 + 4 * expected_dims;
  if (bytes.size() < header_size)
    fail(name, "header",
         std::to_string(header_size) + " bytes (magic and " + std::to_string(expected_dims) +
             " dimension sizes)",
         std::to_string(bytes.size()) + " bytes");

  IdxArray array;
  std::size_t product = 1;
  for (std::size_t i = 0; i < expected_dims; ++i) {
    const std::size_t dim = read_be32(bytes.data() + 4 + 4 * i);
    const std::string field =
        "header field 'dimension " + std::to_string(i) + " (" + dimension_name(i) + ")'";
    if (dim == 0) fail(name, field, "a non-zero size", "0");
    array.dims.push_back(dim);
    // A product that wraps around could match a short file by accident.
    if (product > std::numeric_limits<std::size_t>::max() / dim) {
      for (std::size_t j = i + 1; j < expected_dims; ++j)
        array.dims.push_back(read_be32(bytes.data() + 4 + 4 * j));
      fail(name, "header field 'dimensions'", "a product that fits in 64 bits",
           join_dims(array.dims) + " (overflows)");
    }
    product *= dim;
  }

  const std::size_t payload = bytes.size() - header_size;
  if (payload != product) {
    const std::string expected = std::to_string(product) + " bytes (" + join_dims(array.dims) +
                                 ") after the " + std::to_string(header_size) + "-byte header";
    fail(name, payload < product ? "payload (truncated)" : "payload (trailing bytes)", expected,
         std::to_string(payload) + " bytes");
  }
  array.values.assign(bytes.begin() + std::ptrdiff_t(header_size), bytes.end());
  return array;
}

IdxArray read_idx(const std::filesystem::path& path, std::size_t expected_dims) {
  const std::string name = path.string();
  std::vector<std::uint8_t> bytes = read_raw_bytes(path);
  if (is_gzip(bytes)) {
    // Inflate the header first, then not much more than it announces: a file that inflates far beyond it
    // (a gzip bomb) stops with an error instead of exhausting memory, while a few bytes too many still
    // reach parse_idx, whose message counts them.
    const std::size_t header_size = 4 + 4 * expected_dims;
    std::vector<std::uint8_t> head = inflate_bytes(bytes, name, header_size, AtLimit::stop, "");
    const std::optional<std::size_t> size = idx_size_from_header(head, expected_dims);
    if (!size) return parse_idx(head, expected_dims, name);  // throws: the header itself is wrong
    constexpr std::size_t slack = std::size_t(1) << 20;
    const std::size_t limit =
        *size <= (std::numeric_limits<std::size_t>::max() - slack) / 2 ? 2 * *size + slack : *size;
    bytes = inflate_bytes(bytes, name, limit, AtLimit::fail,
                          "twice the " + std::to_string(*size) + " bytes its IDX header gives, plus 1 MiB");
  }
  return parse_idx(bytes, expected_dims, name);
}

Dataset load_idx_dataset(const std::filesystem::path& images_path, const std::filesystem::path& labels_path,
                         const DatasetSpec& spec) {
  IdxArray images = read_idx(images_path, 3);
  const IdxArray labels = read_idx(labels_path, 1);
  const std::string images_name = images_path.string(), labels_name = labels_path.string();

  if (images.dims[1] != spec.rows || images.dims[2] != spec.cols)
    fail(images_name, "header fields 'rows' x 'columns'",
         std::to_string(spec.rows) + "x" + std::to_string(spec.cols) + " (" +
             std::to_string(spec.rows * spec.cols) + " pixels, the network's input width)",
         std::to_string(images.dims[1]) + "x" + std::to_string(images.dims[2]));
  if (images.dims[0] != labels.dims[0])
    fail(labels_name, "header field 'count'",
         std::to_string(images.dims[0]) + " labels (the image count of " + images_name + ")",
         std::to_string(labels.dims[0]));
  for (std::size_t i = 0; i < labels.values.size(); ++i)
    if (labels.values[i] >= spec.classes)
      fail(labels_name, "label " + std::to_string(i), "a class below " + std::to_string(spec.classes),
           std::to_string(unsigned(labels.values[i])));

  Dataset data;
  data.count = images.dims[0];
  data.rows = spec.rows;
  data.cols = spec.cols;
  data.images.resize(images.values.size());
  for (std::size_t i = 0; i < images.values.size(); ++i) data.images[i] = float(images.values[i]) / 255.0f;
  data.labels = labels.values;
  return data;
}

namespace {
// The images of a data set before a network of `input_width` inputs reads them.
void check_images(const Dataset& d, std::size_t input_width) {
  if (d.image_size() != input_width)
    throw DataError("dataset: image size: expected " + std::to_string(input_width) +
                    " pixels (the network's input width), found " + std::to_string(d.image_size()));
  if (d.images.size() != d.count * d.image_size())
    throw DataError("dataset: images: expected " + std::to_string(d.count) + " x " +
                    std::to_string(d.image_size()) + " values, found " + std::to_string(d.images.size()));
}
}  // namespace

void Dataset::check_fits_targets(std::size_t input_width, std::size_t output_width) const {
  check_images(*this, input_width);
  if (target_width != output_width)
    throw DataError(
        "dataset: target rows: expected " + std::to_string(output_width) +
        " values per sample (the network's output width), found " +
        (target_width == 0 ? std::string("none (a data set of labels only)") : std::to_string(target_width)));
  if (targets.size() != count * target_width)
    throw DataError("dataset: targets: expected " + std::to_string(count) + " x " +
                    std::to_string(target_width) + " values, found " + std::to_string(targets.size()));
  for (std::size_t i = 0; i < targets.size(); ++i)
    if (!std::isfinite(targets[i]))
      throw DataError("dataset: target " + std::to_string(i % target_width) + " of sample " +
                      std::to_string(i / target_width) + " is " + std::to_string(targets[i]) +
                      ", not a finite number");
}

void Dataset::check_fits(std::size_t input_width, std::size_t classes) const {
  check_images(*this, input_width);
  if (labels.size() != count)
    throw DataError("dataset: labels: expected " + std::to_string(count) + " (one per image), found " +
                    std::to_string(labels.size()));
  for (std::size_t i = 0; i < count; ++i)
    if (labels[i] >= classes)
      throw LabelError("dataset: label " + std::to_string(labels[i]) + " of sample " + std::to_string(i) +
                       " is not a class index below " + std::to_string(classes) +
                       " (the network's output width)");
}

Dataset first_samples(const Dataset& data, std::size_t n) {
  Dataset out;
  out.count = std::min(n, data.count);
  out.rows = data.rows;
  out.cols = data.cols;
  out.images.assign(data.images.begin(), data.images.begin() + std::ptrdiff_t(out.count * data.image_size()));
  out.labels.assign(data.labels.begin(),
                    data.labels.begin() + std::ptrdiff_t(std::min(out.count, data.labels.size())));
  out.target_width = data.target_width;
  out.targets.assign(
      data.targets.begin(),
      data.targets.begin() + std::ptrdiff_t(std::min(out.count * data.target_width, data.targets.size())));
  return out;
}

std::filesystem::path find_idx_file(const std::filesystem::path& dir, const std::string& base) {
  const std::filesystem::path gz = dir / (base + ".gz"), raw = dir / base;
  std::error_code ec;
  if (std::filesystem::is_regular_file(gz, ec)) return gz;
  if (std::filesystem::is_regular_file(raw, ec)) return raw;
  throw DataError((dir / base).string() + ": data file: expected " + gz.filename().string() + " or " +
                  raw.filename().string() + " in " + dir.string() + ", found neither");
}

TrainTestSets load_fashion_mnist(const std::filesystem::path& dir) {
  TrainTestSets sets;
  sets.train = load_idx_dataset(find_idx_file(dir, "train-images-idx3-ubyte"),
                                find_idx_file(dir, "train-labels-idx1-ubyte"));
  sets.test = load_idx_dataset(find_idx_file(dir, "t10k-images-idx3-ubyte"),
                               find_idx_file(dir, "t10k-labels-idx1-ubyte"));
  return sets;
}

}  // namespace typenet

// The untemplated half of include/typenet/io/model_file.hpp: checked, atomic file writes and reads.
#include "typenet/io/model_file.hpp"

#include <fcntl.h>
#include <unistd.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <fstream>
#include <system_error>

namespace typenet::detail {

std::uint32_t crc32_of(std::span<const std::uint8_t> bytes) {
  uLong crc = crc32(0L, Z_NULL, 0);
  // zlib takes uInt lengths: feed large buffers in pieces.
  for (std::size_t done = 0; done < bytes.size();) {
    const std::size_t piece = std::min<std::size_t>(bytes.size() - done, 1u << 30);
    crc = crc32(crc, bytes.data() + done, uInt(piece));
    done += piece;
  }
  return std::uint32_t(crc);
}

namespace {
[[noreturn]] void fail_write(const std::filesystem::path& path, const std::string& what, int error) {
  throw ModelFileError(path.string() + ": " + what + ": " + std::generic_category().message(error));
}
}  // namespace

void write_file_atomically(const std::filesystem::path& path, std::span<const std::uint8_t> bytes) {
  std::filesystem::path tmp = path;
  tmp += ".tmp";
  std::FILE* file = std::fopen(tmp.c_str(), "wb");
  if (file == nullptr) fail_write(tmp, "cannot create", errno);
  // On any failure: close, remove the partial temporary file, report. `path` itself is never touched.
  auto abandon = [&](const char* what, int error) {
    std::fclose(file);
    std::remove(tmp.c_str());
    fail_write(tmp, what, error);
  };
  if (std::fwrite(bytes.data(), 1, bytes.size(), file) != bytes.size()) abandon("write failed", errno);
  if (std::fflush(file) != 0) abandon("flush failed", errno);
  if (::fsync(::fileno(file)) != 0) abandon("fsync failed", errno);
  if (std::fclose(file) != 0) {
    const int error = errno;
    std::remove(tmp.c_str());
    fail_write(tmp, "close failed", error);
  }
  std::error_code ec;
  std::filesystem::rename(tmp, path, ec);
  if (ec) {
    std::remove(tmp.c_str());
    throw ModelFileError(path.string() + ": cannot rename " + tmp.filename().string() +
                         " into place: " + ec.message());
  }
}

std::vector<std::uint8_t> read_model_bytes(const std::filesystem::path& path) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw ModelFileError(path.string() + ": cannot open: " + std::generic_category().message(errno));
  // A directory opens like a file, then fails its first read with an exception of the standard library's.
  std::error_code ec;
  if (std::filesystem::is_directory(path, ec))
    throw ModelFileError(path.string() + ": cannot read: it is a directory");
  std::vector<std::uint8_t> bytes;
  char chunk[1 << 16];
  while (in.read(chunk, sizeof chunk) || in.gcount() > 0)
    bytes.insert(bytes.end(), chunk, chunk + in.gcount());
  if (in.bad()) throw ModelFileError(path.string() + ": read error");
  return bytes;
}

}  // namespace typenet::detail

// The safetensors reader and writer behind typenet/io/safetensors.hpp. The JSON header is parsed with
// nlohmann-json, which stays inside the library.
#include "typenet/io/safetensors.hpp"

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstring>
#include <limits>
#include <nlohmann/json.hpp>
#include <set>
#include <string_view>
#include <unordered_map>

namespace typenet::detail {
namespace {

// Ordered, so messages list a file's tensors in its own order.
using json = nlohmann::ordered_json;

// The safetensors reference implementation refuses larger headers too.
constexpr std::uint64_t max_header_bytes = 100'000'000;

struct Dtype {
  std::string_view name;
  std::size_t bytes;
};
// Every dtype safetensors defines: each tensor's byte count is checked, whatever it holds.
constexpr Dtype dtypes[] = {{"BOOL", 1}, {"U8", 1},  {"I8", 1},  {"F8_E5M2", 1}, {"F8_E4M3", 1},
                            {"I16", 2},  {"U16", 2}, {"F16", 2}, {"BF16", 2},    {"I32", 4},
                            {"U32", 4},  {"F32", 4}, {"F64", 8}, {"I64", 8},     {"U64", 8}};

struct FileTensor {
  std::string name;
  std::string dtype;
  std::size_t element_bytes;
  std::vector<std::uint64_t> shape;
  std::uint64_t begin, end;  // within the data
};

std::string bracket_shape(const std::vector<std::uint64_t>& shape) {
  std::string text = "[";
  for (std::size_t i = 0; i < shape.size(); ++i) text += (i ? ", " : "") + std::to_string(shape[i]);
  return text + "]";
}

std::vector<std::uint64_t> dims_of(const ExchangeLayout& layout) {
  return {layout.dims, layout.dims + layout.rank};
}

std::string range_text(std::uint64_t begin, std::uint64_t end) {
  std::string text = "[";  // appended, not "[" + ...: g++ 12 warns falsely (-Wrestrict) on that
  text += std::to_string(begin);
  text += ", ";
  text += std::to_string(end);
  text += ")";
  return text;
}

std::string describe(const ExchangeTensor& t) {
  return t.name + " (layer " + std::to_string(t.layer) + ", " + t.layer_name + ")";
}

float from_f16(std::uint16_t h) {
  const std::uint32_t sign = std::uint32_t(h & 0x8000u) << 16;
  const std::uint32_t exponent = (h >> 10) & 0x1fu;
  const std::uint32_t mantissa = h & 0x3ffu;
  if (exponent == 0) {  // zero or subnormal: mantissa x 2^-24, exact in float
    const float magnitude = std::ldexp(float(mantissa), -24);
    return sign ? -magnitude : magnitude;
  }
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (mantissa << 13));
  return std::bit_cast<float>(sign | ((exponent + 112) << 23) | (mantissa << 13));
}

// Element i of a tensor stored as `dtype` at p, as T (only the dtypes a network of T accepts).
template <class T>
T element(const std::string& dtype, const std::uint8_t* p, std::size_t i) {
  if (dtype == "F64") return T(std::bit_cast<double>(get_le<std::uint64_t>(p + 8 * i)));
  if (dtype == "F32") return T(std::bit_cast<float>(get_le<std::uint32_t>(p + 4 * i)));
  if (dtype == "BF16") return T(std::bit_cast<float>(std::uint32_t(get_le<std::uint16_t>(p + 2 * i)) << 16));
  return T(from_f16(get_le<std::uint16_t>(p + 2 * i)));
}

template <class T>
bool network_reads(const std::string& dtype) {
  return dtype == "F32" || dtype == "F16" || dtype == "BF16" || (std::is_same_v<T, double> && dtype == "F64");
}

class Reader {
 public:
  Reader(std::span<const std::uint8_t> bytes, const std::string& file) : bytes_(bytes), file_(file) {}

  [[noreturn]] void fail(const std::string& what) const { throw SafetensorsError(file_ + ": " + what); }

  // Reads and checks the header and the offsets; the tensors, in the header's order.
  std::vector<FileTensor> tensors() {
    if (bytes_.size() < 8)
      fail("truncated: a safetensors file starts with an 8-byte header length, the file has " +
           std::to_string(bytes_.size()) + " bytes");
    const auto header_bytes = get_le<std::uint64_t>(bytes_.data());
    if (header_bytes > bytes_.size() - 8)
      fail("header length " + std::to_string(header_bytes) + " runs past the end of the file (" +
           std::to_string(bytes_.size() - 8) + " bytes follow the length)");
    if (header_bytes > max_header_bytes)
      fail("header length " + std::to_string(header_bytes) + " is over the limit of " +
           std::to_string(max_header_bytes) + " bytes");
    data_ = bytes_.subspan(8 + header_bytes);

    const auto* text = reinterpret_cast<const char*>(bytes_.data() + 8);
    std::set<std::string> keys;
    std::string duplicate;
    const json::parser_callback_t note_duplicates = [&](int depth, json::parse_event_t event, json& parsed) {
      if (depth == 1 && event == json::parse_event_t::key && !keys.insert(parsed.get<std::string>()).second)
        duplicate = parsed.get<std::string>();
      return true;
    };
    json header;
    try {
      header = json::parse(text, text + header_bytes, note_duplicates);
    } catch (const json::exception& e) {  // a parse_error, or out_of_range for a number like 1e400
      std::string what = e.what();        // "[json.exception.parse_error.101] parse error at line 1, ..."
      if (const auto bracket = what.find("] "); what.rfind("[json.", 0) == 0 && bracket != std::string::npos)
        what.erase(0, bracket + 2);
      fail("header is not valid JSON: " + what);
    }
    if (!duplicate.empty()) fail("header names \"" + duplicate + "\" twice");
    if (!header.is_object()) fail("header is not a JSON object of tensors");

    std::vector<FileTensor> tensors;
    for (const auto& [name, entry] : header.items()) {
      if (name == "__metadata__") {
        if (!entry.is_object()) fail("__metadata__ is not an object of strings");
        for (const auto& [key, value] : entry.items())
          if (!value.is_string()) fail("__metadata__ \"" + key + "\" is not a string");
        continue;
      }
      tensors.push_back(tensor(name, entry));
    }
    check_offsets(tensors);
    return tensors;
  }

  std::span<const std::uint8_t> data() const { return data_; }

 private:
  FileTensor tensor(const std::string& name, const json& entry) const {
    const std::string where = "tensor " + name + ": ";
    if (!entry.is_object()) fail(where + "its entry is not an object");
    const auto field = [&](const char* key) -> const json& {
      const auto it = entry.find(key);
      if (it == entry.end()) fail(where + "no \"" + key + "\"");
      return *it;
    };
    FileTensor t{name, {}, 0, {}, 0, 0};
    const json& dtype = field("dtype");
    if (!dtype.is_string()) fail(where + "dtype is not a string");
    t.dtype = dtype.get<std::string>();
    const auto known =
        std::find_if(std::begin(dtypes), std::end(dtypes), [&](const Dtype& d) { return d.name == t.dtype; });
    if (known == std::end(dtypes)) fail(where + "unknown dtype \"" + t.dtype + "\"");
    t.element_bytes = known->bytes;

    const json& shape = field("shape");
    if (!shape.is_array()) fail(where + "shape is not an array");
    std::uint64_t elements = 1;
    for (const json& d : shape) {
      if (!d.is_number_unsigned())
        fail(where + "shape " + shape.dump() + " holds a value that is not a size");
      const auto dim = d.get<std::uint64_t>();
      if (dim != 0 && elements > std::numeric_limits<std::uint64_t>::max() / dim)
        fail(where + "shape " + shape.dump() + " has too many elements");
      elements *= dim;
      t.shape.push_back(dim);
    }
    const json& offsets = field("data_offsets");
    if (!offsets.is_array() || offsets.size() != 2 || !offsets[0].is_number_unsigned() ||
        !offsets[1].is_number_unsigned())
      fail(where + "data_offsets " + offsets.dump() + " is not [begin, end]");
    t.begin = offsets[0].get<std::uint64_t>();
    t.end = offsets[1].get<std::uint64_t>();
    if (t.begin > t.end) fail(where + "data_offsets " + offsets.dump() + " ends before it begins");
    if (elements > std::numeric_limits<std::uint64_t>::max() / t.element_bytes ||
        t.end - t.begin != elements * t.element_bytes)
      fail(where + "data_offsets " + range_text(t.begin, t.end) + " hold " + std::to_string(t.end - t.begin) +
           " bytes, its shape " + bracket_shape(t.shape) + " of " + t.dtype + " needs " +
           std::to_string(elements) + " x " + std::to_string(t.element_bytes));
    if (t.end > data_.size())
      fail(where + "data_offsets " + range_text(t.begin, t.end) + " run past the end of the data (" +
           std::to_string(data_.size()) + " bytes)");
    return t;
  }

  // The tensors must cover the data exactly, each byte once.
  void check_offsets(const std::vector<FileTensor>& tensors) const {
    std::vector<const FileTensor*> by_begin;
    for (const auto& t : tensors)
      if (t.end > t.begin) by_begin.push_back(&t);
    std::sort(by_begin.begin(), by_begin.end(),
              [](const FileTensor* a, const FileTensor* b) { return a->begin < b->begin; });
    std::uint64_t covered = 0;
    const FileTensor* previous = nullptr;
    for (const FileTensor* t : by_begin) {
      if (t->begin < covered)
        fail("tensors " + previous->name + " " + range_text(previous->begin, previous->end) + " and " +
             t->name + " " + range_text(t->begin, t->end) + " overlap");
      if (t->begin > covered)
        fail("bytes " + range_text(covered, t->begin) + " of the data belong to no tensor");
      covered = t->end;
      previous = t;
    }
    if (covered != data_.size())
      fail("trailing bytes: the tensors cover " + std::to_string(covered) +
           " bytes of data, the file holds " + std::to_string(data_.size()));
  }

  std::span<const std::uint8_t> bytes_;
  std::span<const std::uint8_t> data_;
  const std::string& file_;
};

std::string names_text(const std::vector<FileTensor>& tensors) {
  std::string text;
  for (std::size_t i = 0; i < tensors.size() && i < 12; ++i) text += (i ? ", " : "") + tensors[i].name;
  if (tensors.size() > 12) text += ", ... (" + std::to_string(tensors.size()) + " in all)";
  return tensors.empty() ? "none" : text;
}

template <class T>
const char* accepted_dtypes() {
  return std::is_same_v<T, double> ? "F64, F32, F16 or BF16" : "F32, F16 or BF16";
}

}  // namespace

template <class T>
void decode_safetensors_into(std::span<const std::uint8_t> bytes, const std::string& file,
                             const std::vector<ExchangeTensor>& expected,
                             const std::vector<std::span<T>>& into, const std::vector<std::string>& tolerated,
                             bool allow_unexpected) {
  Reader reader(bytes, file);
  const std::vector<FileTensor> found = reader.tensors();
  std::unordered_map<std::string, std::size_t> by_name;
  for (std::size_t i = 0; i < found.size(); ++i) by_name.emplace(found[i].name, i);

  // Every check first: the network is written only when all of them pass.
  std::vector<const FileTensor*> source;
  std::vector<bool> used(found.size(), false);
  for (const ExchangeTensor& e : expected) {
    const auto it = by_name.find(e.name);
    if (it == by_name.end())
      reader.fail("missing tensor " + describe(e) + ", shape " + bracket_shape(dims_of(e.layout)) +
                  "; the file has " + names_text(found));
    const FileTensor& f = found[it->second];
    if (!network_reads<T>(f.dtype))
      reader.fail("tensor " + describe(e) + ": dtype " + f.dtype +
                  (f.dtype == "F64" ? " would be rounded to this float network: save it as F32 or use a "
                                      "Network<double, ...>"
                                    : std::string("; the network reads ") + accepted_dtypes<T>()));
    if (f.shape != dims_of(e.layout))
      reader.fail("tensor " + describe(e) + ": file has shape " + bracket_shape(f.shape) + ", network has " +
                  bracket_shape(dims_of(e.layout)));
    source.push_back(&f);
    used[it->second] = true;
  }
  for (const std::string& t : tolerated)
    if (const auto it = by_name.find(t); it != by_name.end()) used[it->second] = true;
  if (!allow_unexpected)
    for (std::size_t i = 0; i < found.size(); ++i)
      if (!used[i])
        reader.fail("unexpected tensor " + found[i].name + " " + bracket_shape(found[i].shape) +
                    ": the network has no tensor of that name (SafetensorsOptions::allow_unexpected ignores "
                    "such tensors)");

  std::vector<std::vector<T>> staged(expected.size());
  for (std::size_t k = 0; k < expected.size(); ++k) {
    const ExchangeTensor& e = expected[k];
    const FileTensor& f = *source[k];
    const std::uint8_t* p = reader.data().data() + f.begin;
    std::vector<T>& values = staged[k];
    values.resize(e.rows * e.cols);
    for (std::size_t i = 0; i < values.size(); ++i) {
      const T v = element<T>(f.dtype, p, i);
      if (!std::isfinite(v))
        reader.fail("tensor " + describe(e) + ": element " + std::to_string(i) + " is " +
                    (std::isnan(v) ? "NaN" : "infinite"));
      // A transposed tensor's element (r, c) of [dims0, dims1] is typenet's (c, r).
      const std::size_t at = e.layout.transposed ? (i % e.rows) * e.cols + i / e.rows : i;
      values[at] = v;
    }
  }
  for (std::size_t k = 0; k < expected.size(); ++k)
    std::copy(staged[k].begin(), staged[k].end(), into[k].begin());
}

template <class T>
std::vector<std::uint8_t> encode_safetensors_from(const std::vector<ExchangeTensor>& tensors,
                                                  const std::vector<std::span<const T>>& values,
                                                  const std::string& network) {
  constexpr const char* dtype = sizeof(T) == 4 ? "F32" : "F64";
  nlohmann::ordered_json header;
  header["__metadata__"] = {{"format", "pt"}, {"typenet.network", network}};
  std::uint64_t at = 0;
  for (const ExchangeTensor& t : tensors) {
    const std::uint64_t size = t.rows * t.cols * sizeof(T);
    header[t.name] = {{"dtype", dtype}, {"shape", dims_of(t.layout)}, {"data_offsets", {at, at + size}}};
    at += size;
  }
  std::string text = header.dump();
  text.append((8 - text.size() % 8) % 8, ' ');  // the data starts 8-byte aligned, as safetensors writes it

  std::vector<std::uint8_t> out;
  out.reserve(8 + text.size() + at);
  for (std::size_t i = 0; i < 8; ++i) out.push_back(std::uint8_t(std::uint64_t(text.size()) >> (8 * i)));
  out.insert(out.end(), text.begin(), text.end());
  for (std::size_t k = 0; k < tensors.size(); ++k) {
    const ExchangeTensor& t = tensors[k];
    for (std::size_t i = 0; i < t.rows * t.cols; ++i) {
      const std::size_t from = t.layout.transposed ? (i % t.rows) * t.cols + i / t.rows : i;
      const auto bits = std::bit_cast<bits_of<T>>(values[k][from]);
      for (std::size_t b = 0; b < sizeof(T); ++b) out.push_back(std::uint8_t(bits >> (8 * b)));
    }
  }
  return out;
}

template void decode_safetensors_into<float>(std::span<const std::uint8_t>, const std::string&,
                                             const std::vector<ExchangeTensor>&,
                                             const std::vector<std::span<float>>&,
                                             const std::vector<std::string>&, bool);
template void decode_safetensors_into<double>(std::span<const std::uint8_t>, const std::string&,
                                              const std::vector<ExchangeTensor>&,
                                              const std::vector<std::span<double>>&,
                                              const std::vector<std::string>&, bool);
template std::vector<std::uint8_t> encode_safetensors_from<float>(const std::vector<ExchangeTensor>&,
                                                                  const std::vector<std::span<const float>>&,
                                                                  const std::string&);
template std::vector<std::uint8_t> encode_safetensors_from<double>(
    const std::vector<ExchangeTensor>&, const std::vector<std::span<const double>>&, const std::string&);

}  // namespace typenet::detail

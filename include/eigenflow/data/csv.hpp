// CSV files of points: comma-separated, one point per row, an optional
// header line (a first line with any non-numeric field). Reading checks
// everything and names the file, line and column of the first problem, and
// streams (at most twice the data's size in memory); writing is atomic and
// prints numbers so they read back bit-identically.
#pragma once

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <functional>
#include <sstream>
#include <string>
#include <vector>

#include "eigenflow/core/error.hpp"
#include "eigenflow/core/types.hpp"
#include "eigenflow/io/atomic_file.hpp"

namespace eigenflow {

struct CsvTable {
  std::vector<std::string> header;  ///< empty when the file has none
  Matrix<double> values;
};

namespace detail {

inline std::string trim(const std::string& text) {
  const auto first = text.find_first_not_of(" \t\r");
  if (first == std::string::npos) return "";
  const auto last = text.find_last_not_of(" \t\r");
  return text.substr(first, last - first + 1);
}

inline std::vector<std::string> split_fields(const std::string& line) {
  std::vector<std::string> fields;
  std::string field;
  std::istringstream stream(line);
  while (std::getline(stream, field, ',')) fields.push_back(trim(field));
  if (!line.empty() && line.back() == ',') fields.emplace_back();
  return fields;
}

/// Parses a whole field as a number; false if anything is left over.
inline bool parse_number(const std::string& field, double& value) {
  if (field.empty()) return false;
  errno = 0;
  char* end = nullptr;
  value = std::strtod(field.c_str(), &end);
  return end == field.c_str() + field.size();
}

inline std::string shorten(const std::string& text) {
  std::string out;
  for (char c : text.substr(0, 40)) out += (c >= 32 && c < 127) ? c : '?';
  return text.size() > 40 ? out + "..." : out;
}

}  // namespace detail

/// Called every `every` data rows while a CSV file is read (rows read so far).
struct CsvProgress {
  std::function<void(std::size_t rows)> report;
  std::size_t every = 100000;
};

/// Reads CSV text from a stream, line by line; `name` (a file name) prefixes error messages.
/// columns: expected number of columns (-1: any). Values are kept in fixed-size chunks
/// until the end, so memory peaks at twice the data's own size (chunks + the matrix),
/// never at the three times a growing vector and its copy would take.
inline CsvTable read_csv(std::istream& in, const std::string& name, Index columns = -1, const CsvProgress& progress = {}) {
  CsvTable table;
  constexpr std::size_t chunk_size = std::size_t(1) << 16;
  std::vector<std::vector<double>> chunks;
  auto push = [&](double value) {
    if (chunks.empty() || chunks.back().size() == chunk_size) {
      chunks.emplace_back();
      chunks.back().reserve(chunk_size);
    }
    chunks.back().push_back(value);
  };
  std::size_t width = 0, rows = 0, line_number = 0;
  std::string line;
  auto fail = [&](const std::string& message) -> void {
    throw FormatError(name + ":" + std::to_string(line_number) + ": " + message);
  };
  while (std::getline(in, line)) {
    ++line_number;
    if (line.find('\0') != std::string::npos) fail("binary data (a NUL byte) in a CSV file");
    if (detail::trim(line).empty()) continue;
    const auto fields = detail::split_fields(line);
    std::vector<double> parsed(fields.size());
    bool numeric = true;
    for (std::size_t j = 0; j < fields.size() && numeric; ++j) numeric = detail::parse_number(fields[j], parsed[j]);
    if (!numeric && rows == 0 && table.header.empty() && width == 0) {
      table.header = fields;  // the first line names the columns
      width = fields.size();
      continue;
    }
    if (width == 0) width = fields.size();
    if (fields.size() != width)
      fail("expected " + std::to_string(width) + " fields, found " + std::to_string(fields.size()));
    for (std::size_t j = 0; j < fields.size(); ++j) {
      double value = 0;
      if (!detail::parse_number(fields[j], value))
        fail("column " + std::to_string(j + 1) + ": '" + detail::shorten(fields[j]) + "' is not a number");
      if (!std::isfinite(value)) fail("column " + std::to_string(j + 1) + ": non-finite value '" + detail::shorten(fields[j]) + "'");
      push(value);
    }
    ++rows;
    if (progress.report && progress.every > 0 && rows % progress.every == 0) progress.report(rows);
  }
  if (in.bad()) throw IoError("reading '" + name + "' failed");
  if (rows == 0) throw FormatError(name + ": no data rows" + (table.header.empty() ? " (empty file)" : " (header only)"));
  if (columns >= 0 && width != static_cast<std::size_t>(columns))
    throw FormatError(name + ": expected points with " + std::to_string(columns) + " columns, found " + std::to_string(width));
  table.values.resize(static_cast<Index>(rows), static_cast<Index>(width));
  std::size_t k = 0;
  for (auto& chunk : chunks) {
    for (const double value : chunk) {
      table.values(static_cast<Index>(k / width), static_cast<Index>(k % width)) = value;
      ++k;
    }
    std::vector<double>().swap(chunk);  // release as we go
  }
  return table;
}

/// Reads a CSV file of points; columns: expected number of columns (-1: any).
inline CsvTable read_csv(const std::string& path, Index columns = -1, const CsvProgress& progress = {}) {
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "'");
  return read_csv(in, path, columns, progress);
}

/// One of `parts` near-equal pieces of a CSV file, for data-parallel reading (each
/// process reads only its piece): part k holds the data rows whose line starts in
/// bytes [k·size/parts, (k+1)·size/parts) of the file, so the parts in order are the
/// file's rows in order, each row in exactly one part. The header (a non-numeric first
/// line of the file) belongs to every part; a non-numeric first line of a later part is
/// an error like any malformed row. Errors name the part and the byte where its line 1
/// starts; an empty part (a file of fewer rows than parts) is a FormatError.
inline CsvTable read_csv_part(const std::string& path, int part, int parts, Index columns = -1) {
  if (parts < 1 || part < 0 || part >= parts)
    throw ValueError("read_csv_part: part " + std::to_string(part) + " of " + std::to_string(parts) + " does not exist");
  std::ifstream in(path, std::ios::binary);
  if (!in) throw IoError("cannot open '" + path + "'");
  in.seekg(0, std::ios::end);
  const auto size = static_cast<long long>(in.tellg());
  const long long begin = size * part / parts, end = size * (part + 1) / parts;
  std::string header;
  in.seekg(0);
  std::getline(in, header);
  // Where part's first line starts: at `begin` when a line ends just before it.
  long long first = 0;
  if (begin > 0) {
    in.clear();
    in.seekg(begin - 1);
    std::string rest;
    std::getline(in, rest);  // the end of the line that straddles `begin`
    first = begin - 1 + static_cast<long long>(rest.size()) + 1;
  }
  std::string text;
  in.clear();
  in.seekg(first);
  for (long long at = first; at < end && in;) {  // every line that starts before `end`
    std::string line;
    if (!std::getline(in, line)) break;
    at += static_cast<long long>(line.size()) + 1;
    text += line;
    text += '\n';
  }
  if (in.bad()) throw IoError("reading '" + path + "' failed");
  const std::string name = parts == 1 ? path : path + " (part " + std::to_string(part + 1) + " of " + std::to_string(parts) +
                                                   ", lines counted from its byte " + std::to_string(first) + ")";
  if (text.find_first_not_of(" \t\r\n") == std::string::npos)
    throw FormatError(name + ": no data rows in this part (a file of fewer rows than parts?)");
  std::istringstream stream(text);
  CsvTable table = read_csv(stream, name, columns);
  if (part > 0) {  // the header is the file's first line, never a later part's
    if (!table.header.empty())
      throw FormatError(name + ":1: '" + detail::shorten(table.header.front()) + "' is not a number");
    const std::vector<std::string> fields = detail::split_fields(header);
    double value = 0;
    for (const auto& field : fields)
      if (!detail::parse_number(field, value)) {
        table.header = fields;
        break;
      }
  }
  return table;
}

/// The default header of points: x0, x1, …
inline std::vector<std::string> point_header(Index columns) {
  std::vector<std::string> header;
  for (Index j = 0; j < columns; ++j) header.push_back("x" + std::to_string(j));
  return header;
}

/// Writes a header line and the rows, numbers in shortest round-trip form (%.17g).
template <class Derived>
void write_csv(const std::string& path, const Eigen::MatrixBase<Derived>& values, const std::vector<std::string>& header) {
  if (!header.empty() && static_cast<Index>(header.size()) != values.cols())
    throw ShapeError("write_csv: " + std::to_string(header.size()) + " header names for " + std::to_string(values.cols()) + " columns");
  write_file_atomically(path, [&](std::ostream& out) {
    for (std::size_t j = 0; j < header.size(); ++j) out << (j ? "," : "") << header[j];
    if (!header.empty()) out << '\n';
    char buffer[32];
    for (Index i = 0; i < values.rows(); ++i) {
      for (Index j = 0; j < values.cols(); ++j) {
        std::snprintf(buffer, sizeof buffer, "%.17g", static_cast<double>(values(i, j)));
        out << (j ? "," : "") << buffer;
      }
      out << '\n';
    }
  });
}

}  // namespace eigenflow

// Pictures through gnuplot (Debian's gnuplot-nox): the command line writes
// the numbers to a scratch directory and a script that draws them. The
// library itself never depends on gnuplot.
#pragma once

#include <eigenflow/eigenflow.hpp>

#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <string>
#include <vector>

#include <sys/stat.h>
#include <unistd.h>

namespace eigenflow::cli {

/// A directory under $TMPDIR (or /tmp) removed with everything in it when this goes out of scope.
class ScratchDirectory {
 public:
  ScratchDirectory() {
    const char* base = std::getenv("TMPDIR");
    std::string pattern = std::string(base && *base ? base : "/tmp") + "/eigenflow-XXXXXX";
    std::vector<char> buffer(pattern.begin(), pattern.end());
    buffer.push_back('\0');
    if (::mkdtemp(buffer.data()) == nullptr) throw IoError("cannot create a scratch directory in " + pattern);
    path_ = buffer.data();
  }
  ~ScratchDirectory() {
    const std::string command = "rm -rf '" + path_ + "'";
    if (std::system(command.c_str()) != 0) { /* best effort */ }
  }
  ScratchDirectory(const ScratchDirectory&) = delete;
  ScratchDirectory& operator=(const ScratchDirectory&) = delete;
  std::string file(const std::string& name) const { return path_ + "/" + name; }

 private:
  std::string path_;
};

/// Writes points as whitespace-separated columns for gnuplot.
template <class Derived>
void write_points(const std::string& path, const Eigen::MatrixBase<Derived>& points) {
  std::ofstream out(path);
  for (Index i = 0; i < points.rows(); ++i) out << points(i, 0) << ' ' << points(i, 1) << '\n';
  if (!out) throw IoError("cannot write " + path);
}

/// Runs gnuplot on a script that writes to `rendered`; then moves it to `destination` atomically.
inline void run_gnuplot(const ScratchDirectory& scratch, const std::string& script, const std::string& rendered,
                        const std::string& destination) {
  if (std::system("command -v gnuplot >/dev/null 2>&1") != 0)
    throw IoError("gnuplot is not installed (apt-get install gnuplot-nox; the README's demo command installs it)");
  const std::string script_path = scratch.file("plot.gp");
  {
    std::ofstream out(script_path);
    out << script;
    if (!out) throw IoError("cannot write " + script_path);
  }
  const std::string log = scratch.file("gnuplot.log");
  const std::string command = "gnuplot '" + script_path + "' >'" + log + "' 2>&1";
  if (std::system(command.c_str()) != 0) {
    std::ifstream in(log);
    std::string first_line;
    std::getline(in, first_line);
    throw IoError("gnuplot failed: " + first_line);
  }
  // Copy into the destination's directory first, so the final rename is atomic.
  write_file_atomically(destination, [&](std::ostream& out) {
    std::ifstream in(rendered, std::ios::binary);
    if (!in) throw IoError("gnuplot wrote no picture");
    out << in.rdbuf();
  });
}

/// Lower and upper ends of the central 99.5% of one column, widened by 10%.
template <class Derived>
std::pair<double, double> robust_range(const Eigen::MatrixBase<Derived>& column) {
  std::vector<double> values(static_cast<std::size_t>(column.size()));
  for (Index i = 0; i < column.size(); ++i) values[static_cast<std::size_t>(i)] = static_cast<double>(column(i));
  std::sort(values.begin(), values.end());
  const double low = values[static_cast<std::size_t>(0.0025 * static_cast<double>(values.size() - 1))];
  const double high = values[static_cast<std::size_t>(0.9975 * static_cast<double>(values.size() - 1))];
  const double pad = 0.1 * std::max(high - low, 1e-6);
  return {low - pad, high + pad};
}

}  // namespace eigenflow::cli

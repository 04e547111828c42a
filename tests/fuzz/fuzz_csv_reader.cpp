// libFuzzer target: any bytes as a CSV file. Reading must either succeed or
// throw eigenflow::Error naming the line; a table read is finite and rectangular.
#include <eigenflow/data/csv.hpp>

#include <cstdint>
#include <cstdlib>
#include <sstream>
#include <string>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  std::istringstream in(std::string(reinterpret_cast<const char*>(data), size));
  try {
    const eigenflow::CsvTable table = eigenflow::read_csv(in, "fuzz.csv");
    if (!table.values.allFinite() || table.values.rows() == 0) std::abort();
    if (!table.header.empty() && static_cast<eigenflow::Index>(table.header.size()) != table.values.cols()) std::abort();
  } catch (const eigenflow::Error&) {
  }
  return 0;
}

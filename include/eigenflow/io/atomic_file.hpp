// Writes a file so that readers see either the old content or the complete
// new one, never a half-written file: write to a temporary file in the same
// directory, flush, close, then rename over the target (atomic on POSIX).
#pragma once

#include <cstdio>
#include <fstream>
#include <functional>
#include <string>

#include <unistd.h>

#include "eigenflow/core/error.hpp"

namespace eigenflow {

inline void write_file_atomically(const std::string& path, const std::function<void(std::ostream&)>& write) {
  const std::string temporary = path + ".tmp-" + std::to_string(::getpid());
  {
    std::ofstream out(temporary, std::ios::binary | std::ios::trunc);
    if (!out) throw IoError("cannot write '" + path + "' (is the directory there and writable?)");
    try {
      write(out);
    } catch (...) {
      out.close();
      std::remove(temporary.c_str());
      throw;
    }
    out.flush();
    if (!out) {
      out.close();
      std::remove(temporary.c_str());
      throw IoError("writing '" + path + "' failed (disk full?)");
    }
  }
  if (std::rename(temporary.c_str(), path.c_str()) != 0) {
    std::remove(temporary.c_str());
    throw IoError("cannot replace '" + path + "'");
  }
}

}  // namespace eigenflow

// Reading a file the code under test wrote (a journal, a lock file, a report), whole and as
// bytes; "" when it does not exist.
#pragma once

#include <fstream>
#include <iterator>
#include <string>

namespace probe {

inline std::string read_file(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), std::istreambuf_iterator<char>()};
}

} // namespace probe

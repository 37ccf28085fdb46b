// The resolved config as YAML, for `probe config check`: defaults filled in, ${VAR} expanded,
// secrets masked. What an operator reads to see what probe will actually do.
#pragma once

#include <string>

#include "probe/config/config.hpp"

namespace probe::config {

// Renders `config` as YAML with every secret masked.
std::string print_config(const Config& config);

} // namespace probe::config

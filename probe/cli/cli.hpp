// probe's command line: one table of subcommands, each a small file in this folder. run() is
// the only place exceptions are caught: it prints the error and returns the contract's exit
// code (0 ok, 1 checks failed, 2 usage or config error, ...).
#pragma once

#include "probe/util/env_expand.hpp"

namespace probe::cli {

// Runs the command line `argv` and returns the exit code. The commands read the environment
// through `env` (the process's by default).
int run(int argc, char** argv, util::EnvLookup env = util::process_env());

} // namespace probe::cli

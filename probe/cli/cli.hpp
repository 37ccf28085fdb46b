// probe's command line: one table of subcommands, each a small file in this folder. run() is
// the only place exceptions are caught: it prints the error and returns the contract's exit
// code (0 ok, 1 checks failed, 2 usage or config error, ...).
#pragma once

namespace probe::cli {

int run(int argc, char** argv);

} // namespace probe::cli

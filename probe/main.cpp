// probe's entry point: everything lives in probe_core so tests can drive the same code.
#include "probe/cli/cli.hpp"

int main(int argc, char** argv) {
  return probe::cli::run(argc, argv);
}

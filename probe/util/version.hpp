// probe's version and the git revision it was built from: the one source for --version,
// probe_build_info, /status and every User-Agent probe sends. The revision lives in a generated
// source file (util/version.cpp.in) so that a new commit rebuilds one file, not every file that
// would see a compile definition.
#pragma once

#include <string>

namespace probe::util {

const char* version();  // "0.1.0"
const char* revision(); // "3aca1cb0d2e1", or "unknown" outside a git checkout

// "probe 0.1.0 (revision 3aca1cb0d2e1)".
std::string version_string();
// "probe/0.1.0": the User-Agent of the HTTP checks and the notifications.
std::string user_agent();

} // namespace probe::util

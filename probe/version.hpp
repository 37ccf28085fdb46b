// probe's version and the git revision it was built from, for --version, probe_build_info and
// the User-Agent. The revision lives in a generated source file so that a new commit rebuilds
// one file, not every file that sees a compile definition.
#pragma once

namespace probe {

const char* version();
const char* revision();

} // namespace probe

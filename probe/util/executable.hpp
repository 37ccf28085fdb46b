// Finding a program before it is needed, so a deploy learns that its rollback hook is missing
// before it deploys anything, not when it must roll back. Resolution follows posix_spawnp:
// a name with a '/' is a path, a bare name is looked up on PATH.
#pragma once

#include <optional>
#include <string>

namespace probe::util {

// Resolves `name`: a path containing '/' is taken as is when absolute, else relative to
// `base_dir` (the working directory when `base_dir` is empty); a bare name is searched in the
// ':'-separated directories of `path_env`. Returns the path of a regular, executable file, or
// nullopt with `error` saying what is wrong ("/x/hook.sh: does not exist", "...: is not
// executable", "hook: not found on PATH").
std::optional<std::string> find_executable(const std::string& name, const std::string& base_dir,
                                           const std::string& path_env, std::string* error);

} // namespace probe::util

// From config text to one YAML node tree, bounded and with yaml-cpp's words made safe to show.
// yaml-cpp builds aliases as shared nodes, but everything that walks the tree afterwards (the
// config reader, the printer) sees each alias as a full copy: a 220 KB file that repeats a
// 100 KB anchored string 30,000 times is a 3 GB document. So the text is first read as a
// stream of events (yaml-cpp's EventHandler), which knows each anchor's expanded size before a
// single node exists, and refused past a bound. The same pass refuses a second document and an
// alias to a node that contains it (a cycle no reader could finish). yaml-cpp 0.7 does not
// apply YAML merge keys itself; apply_merges() does, the way Compose users expect.
#pragma once

#include <cstddef>
#include <string>

#include <yaml-cpp/yaml.h>

namespace probe::config {

struct DocumentLimits {
  std::size_t max_expanded_bytes = std::size_t{4} * 1024 * 1024; // scalar bytes, one per node
  std::size_t max_aliases = 10'000;
};

// Parses `text` as exactly one YAML document within `limits` and applies its merge keys.
// Throws probe::Error "NAME:LINE:COL: problem"; a problem never quotes the text, so a file
// that is not a config (a password file) is never echoed. Empty text is a Null node.
YAML::Node parse_document(const std::string& text, const std::string& name,
                          const DocumentLimits& limits = {});

// "NAME:LINE:COL" (or "NAME" for a null mark), 1-based as editors count.
std::string location(const std::string& name, const YAML::Mark& mark);

// What `node` is, in words: "a mapping", "a list", "a scalar", "empty" or "missing".
std::string node_kind(const YAML::Node& node);

// yaml-cpp's message for `e` when it is one of its fixed texts, without any content it
// appends (an escape character, a version, a key); otherwise "not valid YAML".
std::string yaml_problem(const YAML::Exception& e);

} // namespace probe::config

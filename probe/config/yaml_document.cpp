// Bounded YAML parsing and merge keys; see yaml_document.hpp.
#include "probe/config/yaml_document.hpp"

#include <array>
#include <optional>
#include <set>
#include <sstream>
#include <unordered_map>
#include <vector>

#include <yaml-cpp/depthguard.h>
#include <yaml-cpp/eventhandler.h>

#include "probe/util/error.hpp"

namespace probe::config {
namespace {

[[noreturn]] void fail_at(const std::string& name, const YAML::Mark& mark,
                          const std::string& problem) {
  throw Error(location(name, mark) + ": " + problem);
}

std::string size_text(std::size_t bytes) {
  constexpr std::size_t k_mib = std::size_t{1024} * 1024;
  return bytes % k_mib == 0 ? std::to_string(bytes / k_mib) + " MiB"
                            : std::to_string(bytes) + " bytes";
}

// Walks the parser's events once, before any node is built, adding up what each node would
// weigh with its aliases expanded. A node's weight is its scalar bytes plus one, so a list of
// empty values weighs something too. Refuses past the limits, at the alias that crossed them.
class ShapeCheck final : public YAML::EventHandler {
public:
  ShapeCheck(const std::string& name, const DocumentLimits& limits)
      : m_name(name), m_limits(limits) {}

  void OnDocumentStart(const YAML::Mark& mark) override {
    if (++m_documents > 1) {
      fail_at(m_name, mark,
              "a second YAML document (after \"---\"): a probe config is one document");
    }
  }
  void OnDocumentEnd() override {}

  void OnNull(const YAML::Mark& mark, YAML::anchor_t anchor) override { leaf(mark, anchor, 1); }
  void OnScalar(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                const std::string& value) override {
    leaf(mark, anchor, value.size() + 1);
  }
  void OnAlias(const YAML::Mark& mark, YAML::anchor_t anchor) override {
    const auto it = m_weights.find(anchor);
    if (it == m_weights.end()) {
      // yaml-cpp refuses an unknown anchor itself: this one is defined but not yet closed.
      fail_at(m_name, mark, "an alias inside the node it refers to (a cycle)");
    }
    if (++m_aliases > m_limits.max_aliases) {
      fail_at(m_name, mark,
              "more than " + std::to_string(m_limits.max_aliases) + " YAML aliases (*name)");
    }
    add(mark, it->second);
  }

  void OnSequenceStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                       YAML::EmitterStyle::value /*style*/) override {
    open(mark, anchor);
  }
  void OnSequenceEnd() override { close(); }
  void OnMapStart(const YAML::Mark& mark, const std::string& /*tag*/, YAML::anchor_t anchor,
                  YAML::EmitterStyle::value /*style*/) override {
    open(mark, anchor);
  }
  void OnMapEnd() override { close(); }

private:
  struct Open {
    std::size_t weight;
    YAML::anchor_t anchor;
  };

  void add(const YAML::Mark& mark, std::size_t weight) {
    // Every weight is added once to the total, so the total is the whole document's weight;
    // checked at each step, it never grows far past the limit (nor overflows).
    m_total += weight;
    if (m_total > m_limits.max_expanded_bytes) {
      fail_at(m_name, mark,
              "YAML aliases expand the config past " + size_text(m_limits.max_expanded_bytes));
    }
    if (!m_open.empty()) {
      m_open.back().weight += weight;
    }
  }
  void leaf(const YAML::Mark& mark, YAML::anchor_t anchor, std::size_t weight) {
    add(mark, weight);
    if (anchor != YAML::NullAnchor) {
      m_weights[anchor] = weight;
    }
  }
  void open(const YAML::Mark& mark, YAML::anchor_t anchor) {
    add(mark, 1);
    m_open.push_back({1, anchor});
  }
  void close() {
    const Open done = m_open.back();
    m_open.pop_back();
    if (done.anchor != YAML::NullAnchor) {
      m_weights[done.anchor] = done.weight;
    }
    if (!m_open.empty()) {
      m_open.back().weight += done.weight - 1; // its own 1 is in the parent's already
    }
  }

  const std::string& m_name;
  const DocumentLimits& m_limits;
  std::vector<Open> m_open;
  std::unordered_map<YAML::anchor_t, std::size_t> m_weights; // closed anchors only
  std::size_t m_total = 0;
  std::size_t m_aliases = 0;
  int m_documents = 0;
};

bool is_merge_key(const YAML::Node& key) {
  // Only a plain `<<` merges; a quoted "<<" is an ordinary key (YAML 1.1's merge type).
  return key.IsScalar() && key.Tag() == "?" && key.Scalar() == "<<";
}

// The mappings a `<<` merges, in order: its value, or the items of its list.
std::vector<YAML::Node> merge_sources(const YAML::Node& value, const std::string& name) {
  if (value.IsMap()) {
    return {value};
  }
  if (!value.IsSequence()) {
    fail_at(name, value.Mark(),
            "<<: a merge key takes a mapping or a list of mappings (<<: *defaults), not " +
                node_kind(value));
  }
  std::vector<YAML::Node> sources;
  for (const YAML::Node& source : value) {
    if (!source.IsMap()) {
      fail_at(name, source.Mark(),
              "<<: a merge key takes mappings (<<: *defaults), not " + node_kind(source));
    }
    sources.push_back(source);
  }
  return sources;
}

void apply_merges(const YAML::Node& node, const std::string& name);

// Merges the `<<` of mapping `node`, if it has one, into it.
void merge_into(YAML::Node node, const std::string& name) {
  std::optional<YAML::Node> merge_key;
  YAML::Node merge_value;
  std::set<std::string> keys; // the keys written in the mapping: they win
  for (const auto& entry : node) {
    if (!is_merge_key(entry.first)) {
      if (entry.first.IsScalar()) {
        keys.insert(entry.first.Scalar());
      }
    } else if (merge_key) {
      fail_at(name, entry.first.Mark(),
              "<<: duplicate merge key (merge several mappings with one: <<: [*a, *b])");
    } else {
      merge_key = entry.first;
      merge_value = entry.second;
    }
  }
  if (!merge_key) {
    return;
  }
  const std::vector<YAML::Node> sources = merge_sources(merge_value, name);
  node.remove(*merge_key);
  for (const YAML::Node& source : sources) {
    apply_merges(source, name);
    for (const auto& entry : source) {
      if (!entry.first.IsScalar() || keys.insert(entry.first.Scalar()).second) {
        node.force_insert(entry.first, entry.second); // the same nodes: marks point at them
      }
    }
  }
}

// Applies `<<` in `node` and below, in place: a mapping gets each key of the merged mappings
// that it does not have, the first merged mapping winning over later ones, and loses its `<<`.
// Nodes shared through aliases are merged once and seen merged everywhere; the walk costs at
// most the document's expanded weight, which ShapeCheck bounded.
void apply_merges(const YAML::Node& node, const std::string& name) {
  if (node.IsSequence()) {
    for (const YAML::Node& child : node) {
      apply_merges(child, name);
    }
  } else if (node.IsMap()) {
    merge_into(node, name);
    for (const auto& entry : node) {
      apply_merges(entry.second, name);
    }
  }
}

} // namespace

std::string location(const std::string& name, const YAML::Mark& mark) {
  if (mark.is_null()) {
    return name;
  }
  return name + ":" + std::to_string(mark.line + 1) + ":" + std::to_string(mark.column + 1);
}

std::string yaml_problem(const YAML::Exception& e) {
  if (dynamic_cast<const YAML::DeepRecursion*>(&e) != nullptr) {
    return "nested too deeply";
  }
  namespace msg = YAML::ErrorMsg;
  // The parser's fixed texts. Those that end in ": " have content appended (a character, a
  // version), which is cut off; anything else may quote the file and is not shown.
  static const std::array<const char*, 44> k_known{
      msg::YAML_DIRECTIVE_ARGS, msg::YAML_VERSION,
      msg::YAML_MAJOR_VERSION,  msg::REPEATED_YAML_DIRECTIVE,
      msg::TAG_DIRECTIVE_ARGS,  msg::REPEATED_TAG_DIRECTIVE,
      msg::CHAR_IN_TAG_HANDLE,  msg::TAG_WITH_NO_SUFFIX,
      msg::END_OF_VERBATIM_TAG, msg::END_OF_MAP,
      msg::END_OF_MAP_FLOW,     msg::END_OF_SEQ,
      msg::END_OF_SEQ_FLOW,     msg::MULTIPLE_TAGS,
      msg::MULTIPLE_ANCHORS,    msg::MULTIPLE_ALIASES,
      msg::ALIAS_CONTENT,       msg::INVALID_HEX,
      msg::INVALID_UNICODE,     msg::INVALID_ESCAPE,
      msg::UNKNOWN_TOKEN,       msg::DOC_IN_SCALAR,
      msg::EOF_IN_SCALAR,       msg::CHAR_IN_SCALAR,
      msg::TAB_IN_INDENTATION,  msg::FLOW_END,
      msg::BLOCK_ENTRY,         msg::MAP_KEY,
      msg::MAP_VALUE,           msg::ALIAS_NOT_FOUND,
      msg::ANCHOR_NOT_FOUND,    msg::CHAR_IN_ALIAS,
      msg::CHAR_IN_ANCHOR,      msg::ZERO_INDENT_IN_BLOCK,
      msg::CHAR_IN_BLOCK,       msg::AMBIGUOUS_ANCHOR,
      msg::UNKNOWN_ANCHOR,      msg::UNMATCHED_GROUP_TAG,
      msg::UNEXPECTED_END_SEQ,  msg::UNEXPECTED_END_MAP,
      msg::SINGLE_QUOTED_CHAR,  msg::INVALID_ANCHOR,
      msg::INVALID_ALIAS,       msg::INVALID_TAG,
  };
  for (const std::string known : k_known) {
    if (e.msg.rfind(known, 0) == 0) {
      const bool has_content = known.size() >= 2 && known.compare(known.size() - 2, 2, ": ") == 0;
      return has_content ? known.substr(0, known.size() - 2) : known;
    }
  }
  return "not valid YAML";
}

YAML::Node parse_document(const std::string& text, const std::string& name,
                          const DocumentLimits& limits) {
  try {
    std::istringstream in(text);
    YAML::Parser parser(in);
    ShapeCheck check(name, limits);
    while (parser.HandleNextDocument(check)) {
    }
  } catch (const YAML::Exception& e) {
    throw Error(location(name, e.mark) + ": invalid YAML: " + yaml_problem(e));
  }
  // Parsed a second time into nodes, now that it is known to be small; 1 MiB at most.
  YAML::Node root;
  try {
    root = YAML::Load(text);
  } catch (const YAML::Exception& e) {
    throw Error(location(name, e.mark) + ": invalid YAML: " + yaml_problem(e));
  }
  try {
    apply_merges(root, name);
  } catch (const YAML::Exception& e) {
    throw Error(location(name, e.mark) + ": " + yaml_problem(e)); // not expected: only maps
  }
  return root;
}

std::string node_kind(const YAML::Node& node) {
  switch (node.Type()) {
  case YAML::NodeType::Map:
    return "a mapping";
  case YAML::NodeType::Sequence:
    return "a list";
  case YAML::NodeType::Scalar:
    return "a scalar";
  case YAML::NodeType::Null:
    return "empty";
  case YAML::NodeType::Undefined:
    return "missing";
  }
  return "unknown";
}

} // namespace probe::config

// The /deploys answers' JSON form, both ways; see deploys_wire.hpp.
#include "probe/deploy/deploys_wire.hpp"

#include "probe/util/json_read.hpp"
#include "probe/util/json_text.hpp"

namespace probe::deploy {
namespace {} // namespace

std::string deploys_body(const DeploysPage& page) {
  // The members in nlohmann's (sorted) order, so the text is what dump() would print.
  std::string body = "{\"events\":[";
  for (std::size_t i = 0; i < page.events.size(); ++i) {
    body += i == 0 ? "" : ",";
    body += util::json_text(to_json(page.events[i]));
  }
  body += "],\"pending\":" + std::to_string(page.pending) +
          ",\"truncated\":" + (page.truncated ? "true" : "false") + "}\n";
  return body;
}

nlohmann::json to_json(const RecordedWire& recorded) {
  return {{"event_id", recorded.event_id}, {"recorded", recorded.recorded}};
}

std::optional<DeploysPage> deploys_page_from_json(const nlohmann::json& json, std::string* error,
                                                  std::vector<std::string>* skipped) {
  util::JsonFields fields(json, "");
  DeploysPage page;
  const nlohmann::json* events = fields.array("events", true);
  std::optional<std::uint64_t> pending;
  std::optional<bool> truncated;
  fields.optional("pending", &pending);
  fields.optional("truncated", &truncated);
  if (!fields.ok()) {
    *error = fields.error();
    return std::nullopt;
  }
  page.pending = pending.value_or(0);
  page.truncated = truncated.value_or(false);
  for (std::size_t i = 0; i < events->size(); ++i) {
    std::string why;
    // Read as stored events: every field required, nothing filled in.
    if (std::optional<DeployEvent> event = from_json((*events)[i], false, &why)) {
      page.events.push_back(std::move(*event));
    } else if (skipped != nullptr) {
      // from_json names a non-object "body"; here it is the element.
      const std::string path = util::element_path("events", i);
      skipped->push_back(why.rfind("body: ", 0) == 0 ? path + why.substr(4) : path + "." + why);
    }
  }
  return page;
}

std::optional<RecordedWire> recorded_from_json(const nlohmann::json& json, std::string* error) {
  util::JsonFields fields(json, "");
  RecordedWire recorded;
  fields.required("event_id", &recorded.event_id);
  fields.required("recorded", &recorded.recorded);
  if (fields.ok() && !recorded.recorded) {
    fields.fail("recorded", "must be true");
  }
  if (fields.ok() && !valid_event_id(recorded.event_id)) {
    fields.fail("event_id", "not a UUID");
  }
  if (!fields.ok()) {
    *error = fields.error();
    return std::nullopt;
  }
  return recorded;
}

} // namespace probe::deploy

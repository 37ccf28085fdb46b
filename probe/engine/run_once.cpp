// One concurrent round of checks; see run_once.hpp.
#include "probe/engine/run_once.hpp"

#include <algorithm>
#include <functional>

#include "probe/checks/check_io.hpp"
#include "probe/util/error.hpp"
#include "probe/util/strings.hpp"

namespace probe::engine {

std::string not_checkable_here(const config::Target& target) {
  const auto* heartbeat = std::get_if<config::HeartbeatTarget>(&target.spec);
  if (heartbeat != nullptr && heartbeat->source == config::HeartbeatSource::push) {
    return "push heartbeats are received by probe serve; read this target there (GET /status, "
           "probe wait --url)";
  }
  return {};
}

std::vector<TargetCheck> make_checks(const std::vector<const config::Target*>& targets,
                                     const checks::CheckContext& context) {
  std::vector<TargetCheck> out;
  out.reserve(targets.size());
  for (const config::Target* target : targets) {
    // Filled in place: GCC 12 (-O2, -Warray-bounds) misreads the move of a braced temporary.
    TargetCheck& entry = out.emplace_back();
    entry.target = target;
    entry.skipped = not_checkable_here(*target);
    if (entry.skipped.empty()) {
      entry.check = checks::make_check(*target, context);
    }
  }
  return out;
}

std::vector<TargetResult> run_once(std::vector<TargetCheck>& checks, std::size_t max_parallel) {
  checks::CheckIo io;
  return run_once(checks, io, max_parallel);
}

std::vector<TargetResult> run_once(std::vector<TargetCheck>& checks, checks::CheckIo& io,
                                   std::size_t max_parallel) {
  std::vector<TargetResult> results(checks.size());
  io.set_connection_cache(checks.size() + 4);
  std::size_t next = 0;
  std::size_t in_flight = 0;
  // Starts checks until `max_parallel` are in flight; runs again as each one lands.
  std::function<void()> fill = [&] {
    while (next < checks.size() && in_flight < std::max<std::size_t>(1, max_parallel)) {
      const std::size_t i = next++;
      const config::Target& target = *checks[i].target;
      if (!checks[i].check) {
        results[i] = TargetResult{
            &target, checks::make_result(checks::CheckStatus::error, checks[i].skipped, "skipped"),
            checks[i].skipped};
        continue;
      }
      ++in_flight;
      auto landed = [&, i](checks::CheckResult result) {
        results[i] = TargetResult{checks[i].target, std::move(result), {}};
        --in_flight;
        io.loop().post(fill);
      };
      try {
        checks[i].check->start(io, target.timeout, landed);
      } catch (const std::exception& e) {
        // A check must not throw; if a library does anyway, it is probe's error, not the
        // target's failure.
        landed(checks::make_result(checks::CheckStatus::error, e.what(), "error"));
      }
    }
  };
  fill();
  io.loop().run_until([&] { return next == checks.size() && in_flight == 0; });
  return results;
}

std::vector<const config::Target*> select_targets(const config::Config& config,
                                                  const std::vector<std::string>& only) {
  std::vector<const config::Target*> selected;
  for (const config::Target& target : config.targets) {
    if (only.empty() || std::find(only.begin(), only.end(), target.name) != only.end()) {
      selected.push_back(&target);
    }
  }
  for (const std::string& name : only) {
    const bool known = std::any_of(config.targets.begin(), config.targets.end(),
                                   [&](const config::Target& t) { return t.name == name; });
    if (!known) {
      std::vector<std::string> names;
      for (const config::Target& target : config.targets) {
        names.push_back(target.name);
      }
      throw Error("--only: no target named \"" + name + "\" in " + config.path +
                  " (targets: " + util::join(names, ", ") + ")");
    }
  }
  return selected;
}

} // namespace probe::engine

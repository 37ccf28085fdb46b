// One concurrent round of checks; see run_once.hpp.
#include "probe/engine/run_once.hpp"

#include <algorithm>
#include <atomic>
#include <thread>

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
  std::vector<TargetResult> results(checks.size());
  std::atomic<std::size_t> next{0};
  auto worker = [&] {
    for (std::size_t i = next++; i < checks.size(); i = next++) {
      const config::Target& target = *checks[i].target;
      if (!checks[i].check) {
        results[i] = TargetResult{
            &target, checks::make_result(checks::CheckStatus::error, checks[i].skipped, "skipped"),
            checks[i].skipped};
        continue;
      }
      checks::CheckResult result;
      try {
        result = checks[i].check->run(target.timeout);
      } catch (const std::exception& e) {
        // A check must not throw; if a library does anyway, it is probe's error, not the
        // target's failure.
        result = checks::make_result(checks::CheckStatus::error, e.what(), "error");
      }
      results[i] = TargetResult{&target, std::move(result), {}};
    }
  };
  const std::size_t threads = std::min(checks.size(), std::max<std::size_t>(1, max_parallel));
  std::vector<std::thread> pool;
  pool.reserve(threads);
  for (std::size_t t = 1; t < threads; ++t) {
    pool.emplace_back(worker);
  }
  worker(); // the calling thread works too
  for (std::thread& thread : pool) {
    thread.join();
  }
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

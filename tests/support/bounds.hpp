// How the tests bound time. They run on a loaded machine (tests/run.sh on two cores: a
// sanitizer, builds and fuzzers beside them, other suites at the same time), so a test never
// asserts how fast probe is: tests/bench/run.sh measures that and prints figures. A bound in a
// test only tells "waited for a timeout, or hung" from "did not", with ten times or more of
// margin on each side:
// - waiting for something to happen (a server starts, a state changes, a process exits) polls
//   until k_event_deadline, generous because it costs nothing when the event comes at once;
// - "did not wait for `timeout`": elapsed < timeout, with `timeout` chosen to be ten times or
//   more what the work takes on a loaded machine;
// - "ended at its own deadline `limit` and did not hang": elapsed < hang_bound(limit), with
//   whatever would hang (a silent server, a 30 s sleep) hanging far longer than that.
// Ordering and concurrency are asserted with events (a barrier, a count of requests in flight),
// not with wall time.
#pragma once

#include <chrono>

namespace probe::test_support {

inline constexpr std::chrono::milliseconds k_event_deadline{60'000};

// The bound for something that must end at its own deadline `limit`: ten times `limit`.
constexpr std::chrono::milliseconds hang_bound(std::chrono::milliseconds limit) {
  return limit * 10;
}

} // namespace probe::test_support

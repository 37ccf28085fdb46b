// The /metrics render cache: unchanged data is served again however old; frequent changes
// within max_age are served from the cache, and after it re-rendered in the background while
// scrapes take the previous text without waiting; rare ones are rendered at once; one render at
// a time, the others take the previous text; a failed render is retried. Waits are bounded
// generously (a loaded machine may be slow); "does not wait" is shown against a render that
// blocks until the test releases it, never by timing a fast answer. A text's age is told by a
// manual clock the tests move: no test sleeps for an age to pass.
#include <atomic>
#include <future>
#include <stdexcept>
#include <thread>

#include <gtest/gtest.h>

#include "exporters/render_cache.hpp"
#include "tests/fakes/manual_clock.hpp"

namespace probe::exporters {
namespace {

using namespace std::chrono_literals;

struct Source {
  std::atomic<int> renders{0};
  std::atomic<std::uint64_t> version{1}; // every change
  std::atomic<std::uint64_t> rare{1};    // the changes a scrape must show at once
  RenderCache::Render render() {
    return [this] { return "text " + std::to_string(++renders); };
  }
  RenderCache::Version versions() {
    return [this] { return RenderCache::Versions{version.load(), rare.load()}; };
  }
};

TEST(RenderCache, UnchangedDataIsServedAgainHoweverOld) {
  Source source;
  fakes::ManualClock clock;
  RenderCache cache(source.render(), source.versions(), 10ms, clock);
  EXPECT_EQ(*cache.get(), "text 1");
  clock.advance(1h);
  EXPECT_EQ(*cache.get(), "text 1");
  EXPECT_EQ(source.renders, 1);
}

constexpr auto k_give_up = 30s; // no wait here takes longer, however loaded the machine

// Spins (yielding, bounded) until `done` holds. What the tests wait for is a thread hand-over
// away — a render starting, or its text published under the cache's lock right after the render
// returns — and the cache has no event for it, so this yields rather than sleeps.
template <typename Done> bool spin_until(Done done) {
  const auto give_up = std::chrono::steady_clock::now() + k_give_up;
  while (!done()) {
    if (std::chrono::steady_clock::now() >= give_up) {
      return false;
    }
    std::this_thread::yield();
  }
  return true;
}

// Waits (bounded) until the source has rendered `count` times.
void wait_for_renders(const std::atomic<int>& renders, int count) {
  spin_until([&] { return renders.load() >= count; });
}

// What the cache serves once it serves `wanted`, or after 30 s of asking.
std::string wait_for_text(RenderCache& cache, const std::string& wanted) {
  std::string text = *cache.get();
  spin_until([&] { return (text = *cache.get()) == wanted; });
  return text;
}

TEST(RenderCache, ChangedDataIsRenderedAgainInTheBackgroundAfterMaxAge) {
  Source source;
  fakes::ManualClock clock;
  RenderCache cache(source.render(), source.versions(), 1s, clock);
  EXPECT_EQ(*cache.get(), "text 1");
  source.version = 2;
  clock.advance(999ms);
  EXPECT_EQ(*cache.get(), "text 1"); // younger than max_age: nothing rendered
  EXPECT_EQ(source.renders, 1);
  clock.advance(1ms);
  EXPECT_EQ(*cache.get(), "text 1"); // stale: served at once, and a render starts
  EXPECT_EQ(wait_for_text(cache, "text 2"), "text 2");
  EXPECT_EQ(*cache.get(), "text 2");
  EXPECT_EQ(source.renders, 2);
}

// A source whose second render blocks until release(); `rare` says whether its changes are
// rare ones (rendered before the answer) or check results (rendered in the background).
struct SecondRenderBlocks {
  explicit SecondRenderBlocks(bool rare_changes) : rare(rare_changes) {}
  std::promise<void> released;
  std::shared_future<void> on_release = released.get_future().share();
  std::atomic<int> renders{0};
  std::atomic<std::uint64_t> version{1};
  const bool rare;
  RenderCache::Render render() {
    return [this] {
      if (++renders == 2) {
        on_release.wait();
      }
      return "text " + std::to_string(renders.load());
    };
  }
  RenderCache::Version versions() {
    return [this] { return RenderCache::Versions{version.load(), rare ? version.load() : 0}; };
  }
  void release() { // idempotent
    if (!was_released.exchange(true)) {
      released.set_value();
    }
  }
  std::atomic<bool> was_released{false};
};

// The text a scrape gets, when it gets one while the render that blocks until release() is
// still held; a scrape that waited for that render would never answer, so after 30 s the
// render is released (for the test to end) and "waited" returned.
std::string without_waiting(RenderCache& cache, SecondRenderBlocks& source) {
  auto scrape = std::async(std::launch::async, [&] { return *cache.get(); });
  if (scrape.wait_for(k_give_up) != std::future_status::ready) {
    source.release();
    return "waited";
  }
  return scrape.get();
}

TEST(RenderCache, AStaleScrapeNeverWaitsForASlowRender) {
  SecondRenderBlocks source(false);
  RenderCache cache(source.render(), source.versions(), 0ms);
  EXPECT_EQ(*cache.get(), "text 1");
  source.version = 2;
  EXPECT_EQ(without_waiting(cache, source), "text 1");
  wait_for_renders(source.renders, 2);
  EXPECT_EQ(without_waiting(cache, source), "text 1"); // still rendering: no second render
  EXPECT_EQ(source.renders, 2);
  source.release();
  EXPECT_EQ(wait_for_text(cache, "text 2"), "text 2");
  EXPECT_EQ(source.renders, 2);
}

TEST(RenderCache, RareChangesAreRenderedAtOnce) {
  Source source;
  fakes::ManualClock clock; // never moved: the text stays young
  RenderCache cache(source.render(), source.versions(), 10s, clock);
  EXPECT_EQ(*cache.get(), "text 1");
  source.version = 2;
  source.rare = 2; // e.g. a failed reload: the next scrape must say so
  EXPECT_EQ(*cache.get(), "text 2");
}

TEST(RenderCache, WhileOneRendersOthersTakeThePreviousText) {
  SecondRenderBlocks source(true); // rare changes: the scrape that sees one renders it itself
  fakes::ManualClock clock;        // never moved: only the rare change makes the text wrong
  RenderCache cache(source.render(), source.versions(), 10s, clock);
  EXPECT_EQ(*cache.get(), "text 1");
  source.version = 2;
  auto slow = std::async(std::launch::async, [&] { return *cache.get(); });
  wait_for_renders(source.renders, 2);
  EXPECT_EQ(without_waiting(cache, source), "text 1"); // no second render, no wait
  EXPECT_EQ(source.renders, 2);
  source.release();
  EXPECT_EQ(slow.get(), "text 2");
  EXPECT_EQ(*cache.get(), "text 2");
}

TEST(RenderCache, AFailedRenderIsTriedAgain) {
  std::atomic<int> calls{0};
  RenderCache cache(
      [&]() -> std::string {
        if (++calls == 1) {
          throw std::runtime_error("render failed");
        }
        return "ok";
      },
      [] {
        return RenderCache::Versions{1, 1};
      },
      1s);
  EXPECT_THROW(cache.get(), std::runtime_error);
  EXPECT_EQ(*cache.get(), "ok");
}

TEST(RenderCache, AFailedBackgroundRenderKeepsThePreviousTextAndIsTriedAgain) {
  std::atomic<int> calls{0};
  std::atomic<std::uint64_t> version{1};
  RenderCache cache(
      [&]() -> std::string {
        if (++calls == 2) {
          throw std::runtime_error("render failed");
        }
        return "text " + std::to_string(version.load());
      },
      [&] {
        return RenderCache::Versions{version.load(), 0};
      },
      0ms);
  EXPECT_EQ(*cache.get(), "text 1");
  version = 2;
  EXPECT_EQ(*cache.get(), "text 1"); // stale: the background render (call 2) fails
  spin_until([&] { return calls.load() >= 2; });
  EXPECT_EQ(wait_for_text(cache, "text 2"), "text 2"); // a later stale scrape asks again
  EXPECT_GE(calls, 3);
}

} // namespace
} // namespace probe::exporters

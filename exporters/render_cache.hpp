// The last /metrics exposition, kept for a moment. With many targets a render is costly (1000
// targets: ~25,000 series, 1.7 MB of text, tens of ms and several MB of temporaries), and
// concurrent scrapes each rendering their own copy would multiply both. So one render at a time
// (single flight), and a scrape rarely waits for one:
// - a text is served again while it is exact (nothing changed);
// - when only "frequent" changes happened (check results), the text is served until it is
//   `max_age` old; after that a scrape still gets it at once, and a render starts on the cache's
//   own thread for the scrapes that follow (stale while revalidating). A scrape may so see a check
//   result up to max_age plus one render late, and no scrape pays for a render under load;
// - any other change (a reload, a deploy event) is rendered before the scrape is answered, as is
//   the very first text. A scrape that arrives while another renders takes the previous text.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>
#include <thread>

#include "probe/util/clock.hpp"

namespace probe::exporters {

class RenderCache {
public:
  using Render = std::function<std::string()>;
  // Counts changes: `all` at every change, `rare` only at the ones a scrape must show at once.
  struct Versions {
    std::uint64_t all = 0;
    std::uint64_t rare = 0;
  };
  using Version = std::function<Versions()>;

  // `clock` tells a text's age (a manual clock in the tests, so they need not sleep).
  RenderCache(Render render, Version version, std::chrono::milliseconds max_age,
              const util::Clock& clock = util::system_clock());
  ~RenderCache(); // waits for a background render to finish
  RenderCache(const RenderCache&) = delete;
  RenderCache& operator=(const RenderCache&) = delete;

  // The text to serve now: the cached one when still good (or only stale by check results, which
  // starts a background render), else a new render (or, while another renders, the previous text).
  std::shared_ptr<const std::string> get();

private:
  enum class Freshness { exact, young, stale, wrong };
  Freshness freshness(std::chrono::steady_clock::time_point now, Versions versions) const;
  std::shared_ptr<const std::string> render_here(std::unique_lock<std::mutex>& lock);
  void start_background_render(); // with m_mutex held
  void background_loop();

  const Render m_render;
  const Version m_version;
  const std::chrono::milliseconds m_max_age;
  const util::Clock& m_clock;

  std::mutex m_mutex;                 // guards everything below
  std::condition_variable m_rendered; // a render finished
  std::condition_variable m_wanted;   // the background thread has work, or must stop
  std::shared_ptr<const std::string> m_text;
  std::chrono::steady_clock::time_point m_rendered_at;
  Versions m_rendered_versions;
  bool m_rendering = false;
  bool m_background_wanted = false;
  bool m_stopping = false;
  std::thread m_background; // started at the first stale scrape: no thread without a scrape
};

} // namespace probe::exporters

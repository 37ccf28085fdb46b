// The last /metrics exposition, kept for a moment. With many targets a render is costly (1000
// targets: ~25,000 series, 1.7 MB of text, tens of ms and several MB of temporaries), and
// concurrent scrapes each rendering their own copy would multiply both. So one render at a time
// (single flight): a scrape that arrives while another renders takes the previous text instead
// of waiting. A text is served again while it is exact (nothing changed), or while it is younger
// than `max_age` and only "frequent" changes happened (check results: a scrape may see them up
// to max_age late). Any other change (a reload, a deploy event) is in the next scrape.
#pragma once

#include <chrono>
#include <condition_variable>
#include <cstdint>
#include <functional>
#include <memory>
#include <mutex>
#include <string>

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

  RenderCache(Render render, Version version, std::chrono::milliseconds max_age);

  // The text to serve now: the cached one when still good, else a new render (or, while
  // another caller renders, the previous text).
  std::shared_ptr<const std::string> get();

private:
  bool fresh(std::chrono::steady_clock::time_point now, Versions versions) const;

  const Render m_render;
  const Version m_version;
  const std::chrono::milliseconds m_max_age;

  std::mutex m_mutex; // guards everything below
  std::condition_variable m_rendered;
  std::shared_ptr<const std::string> m_text;
  std::chrono::steady_clock::time_point m_rendered_at;
  Versions m_rendered_versions;
  bool m_rendering = false;
};

} // namespace probe::exporters

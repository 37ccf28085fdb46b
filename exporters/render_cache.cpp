// The render cache; see render_cache.hpp.
#include "exporters/render_cache.hpp"

#include <exception>

#include <spdlog/spdlog.h>

namespace probe::exporters {

RenderCache::RenderCache(Render render, Version version, std::chrono::milliseconds max_age,
                         const util::Clock& clock)
    : m_render(std::move(render)), m_version(std::move(version)), m_max_age(max_age),
      m_clock(clock) {}

RenderCache::~RenderCache() {
  {
    std::lock_guard<std::mutex> lock(m_mutex);
    m_stopping = true;
  }
  m_wanted.notify_all();
  if (m_background.joinable()) {
    m_background.join();
  }
}

RenderCache::Freshness RenderCache::freshness(std::chrono::steady_clock::time_point now,
                                              Versions versions) const {
  if (m_text == nullptr || versions.rare != m_rendered_versions.rare) {
    return Freshness::wrong;
  }
  if (versions.all == m_rendered_versions.all) {
    return Freshness::exact;
  }
  return now - m_rendered_at < m_max_age ? Freshness::young : Freshness::stale;
}

std::shared_ptr<const std::string> RenderCache::get() {
  std::unique_lock<std::mutex> lock(m_mutex);
  const Freshness freshness = this->freshness(m_clock.steady_now(), m_version());
  if (freshness == Freshness::exact || freshness == Freshness::young) {
    return m_text;
  }
  if (freshness == Freshness::stale) {
    if (!m_rendering) {
      start_background_render();
    }
    return m_text;
  }
  if (m_rendering) {
    if (m_text != nullptr) {
      return m_text; // someone is rendering: the previous text rather than a wait
    }
    m_rendered.wait(lock, [this] { return !m_rendering; }); // the very first render
    if (m_text != nullptr) {
      return m_text;
    }
  }
  return render_here(lock);
}

// Renders with m_mutex released, then publishes the text; called with the lock held and
// m_rendering false.
std::shared_ptr<const std::string> RenderCache::render_here(std::unique_lock<std::mutex>& lock) {
  m_rendering = true;
  // The version is read before rendering: a change during the render makes the next call
  // render again rather than serve data older than its version says.
  const Versions versions = m_version();
  const auto started = m_clock.steady_now(); // the text shows the data as of now
  lock.unlock();
  std::shared_ptr<const std::string> text;
  try {
    text = std::make_shared<const std::string>(m_render());
  } catch (...) {
    lock.lock();
    m_rendering = false;
    m_rendered.notify_all();
    throw;
  }
  lock.lock();
  m_text = text;
  m_rendered_at = started;
  m_rendered_versions = versions;
  m_rendering = false;
  m_rendered.notify_all();
  return text;
}

void RenderCache::start_background_render() {
  m_background_wanted = true;
  if (!m_background.joinable()) {
    m_background = std::thread([this] { background_loop(); });
  }
  m_wanted.notify_one();
}

void RenderCache::background_loop() {
  std::unique_lock<std::mutex> lock(m_mutex);
  while (true) {
    m_wanted.wait(lock, [this] { return m_stopping || m_background_wanted; });
    if (m_stopping) {
      return;
    }
    m_background_wanted = false;
    if (m_rendering) {
      continue; // a scrape is rendering right now: its text will do
    }
    try {
      render_here(lock);
    } catch (const std::exception& e) {
      // Scrapes keep the previous text and the next stale one asks again; say why it is old.
      spdlog::warn("/metrics: background render failed, serving the previous text: {}", e.what());
    } catch (...) {
      spdlog::warn("/metrics: background render failed, serving the previous text");
    }
  }
}

} // namespace probe::exporters

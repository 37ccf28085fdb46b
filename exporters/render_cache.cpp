// The render cache; see render_cache.hpp.
#include "exporters/render_cache.hpp"

namespace probe::exporters {

RenderCache::RenderCache(Render render, Version version, std::chrono::milliseconds max_age)
    : m_render(std::move(render)), m_version(std::move(version)), m_max_age(max_age) {}

bool RenderCache::fresh(std::chrono::steady_clock::time_point now, Versions versions) const {
  if (m_text == nullptr) {
    return false;
  }
  if (versions.all == m_rendered_versions.all) {
    return true; // nothing changed
  }
  return versions.rare == m_rendered_versions.rare && now - m_rendered_at < m_max_age;
}

std::shared_ptr<const std::string> RenderCache::get() {
  std::unique_lock<std::mutex> lock(m_mutex);
  // The version is read before rendering: a change during the render makes the next call
  // render again rather than serve data older than its version says.
  const Versions versions = m_version();
  if (fresh(std::chrono::steady_clock::now(), versions)) {
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
  m_rendering = true;
  const auto started = std::chrono::steady_clock::now(); // the text shows the data as of now
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

} // namespace probe::exporters

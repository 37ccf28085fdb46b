// Pushes delivered by target name; see push_registry.hpp.
#include "probe/checks/push_registry.hpp"

#include <utility>

namespace probe::checks {

PushRegistry::Registration::Registration(PushRegistry* registry, std::string name, std::uint64_t id)
    : m_registry(registry), m_name(std::move(name)), m_id(id) {}

PushRegistry::Registration::~Registration() {
  release();
}

PushRegistry::Registration::Registration(Registration&& other) noexcept
    : m_registry(std::exchange(other.m_registry, nullptr)), m_name(std::move(other.m_name)),
      m_id(other.m_id) {}

PushRegistry::Registration& PushRegistry::Registration::operator=(Registration&& other) noexcept {
  if (this != &other) {
    release();
    m_registry = std::exchange(other.m_registry, nullptr);
    m_name = std::move(other.m_name);
    m_id = other.m_id;
  }
  return *this;
}

void PushRegistry::Registration::release() {
  if (m_registry != nullptr) {
    m_registry->remove(m_name, m_id);
    m_registry = nullptr;
  }
}

PushRegistry::Registration PushRegistry::add(const std::string& name, Receiver receiver) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  const std::uint64_t id = m_next_id++;
  m_receivers[name] = Slot{id, std::move(receiver)};
  return Registration(this, name, id);
}

bool PushRegistry::record(const std::string& name) const {
  // Under the lock: a check that is going away waits in remove() until its receiver returned.
  const std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_receivers.find(name);
  if (found == m_receivers.end()) {
    return false;
  }
  found->second.receiver();
  return true;
}

void PushRegistry::remove(const std::string& name, std::uint64_t id) {
  const std::lock_guard<std::mutex> lock(m_mutex);
  const auto found = m_receivers.find(name);
  if (found != m_receivers.end() && found->second.id == id) {
    m_receivers.erase(found);
  }
}

} // namespace probe::checks

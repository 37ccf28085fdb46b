// Where pushed signs of life are delivered. A check fed by pushes (a heartbeat with
// `source: push`) registers a receiver under its target's name when it is made; whoever takes
// the push (POST /heartbeat/<target>, through the scheduler) delivers it by name, knowing
// nothing of the kind of check behind it. A registration ends with its handle, and only removes
// itself: on a reload the new check registers before the old one is dropped, and the old
// check's going must not unplug the new one.
#pragma once

#include <cstdint>
#include <functional>
#include <map>
#include <mutex>
#include <string>

namespace probe::checks {

class PushRegistry {
public:
  using Receiver = std::function<void()>;

  // Keeps a receiver registered while it lives; movable, not copyable.
  class Registration {
  public:
    Registration() = default;
    ~Registration();
    Registration(Registration&& other) noexcept;
    Registration& operator=(Registration&& other) noexcept;
    Registration(const Registration&) = delete;
    Registration& operator=(const Registration&) = delete;

  private:
    friend class PushRegistry;
    Registration(PushRegistry* registry, std::string name, std::uint64_t id);
    void release();

    PushRegistry* m_registry = nullptr;
    std::string m_name;
    std::uint64_t m_id = 0;
  };

  PushRegistry() = default;
  PushRegistry(const PushRegistry&) = delete;
  PushRegistry& operator=(const PushRegistry&) = delete;

  // Makes `receiver` (quick, taking no lock: it runs under the registry's) the one pushes to `name`
  // go to (replacing an earlier one) until the returned handle is destroyed. The registry must
  // outlive the handle.
  [[nodiscard]] Registration add(const std::string& name, Receiver receiver);
  // Delivers a push to `name`'s receiver; false when none is registered.
  bool record(const std::string& name) const;

private:
  struct Slot {
    std::uint64_t id;
    Receiver receiver;
  };
  void remove(const std::string& name, std::uint64_t id);

  mutable std::mutex m_mutex;
  std::map<std::string, Slot> m_receivers;
  std::uint64_t m_next_id = 1;
};

} // namespace probe::checks

// The epoll reactor; see event_loop.hpp.
#include "probe/util/event_loop.hpp"

#include <cerrno>
#include <cstring>
#include <string>

#include <sys/epoll.h>
#include <sys/eventfd.h>

#include "probe/util/error.hpp"

namespace probe::util {
namespace {

// Events read per epoll_wait: more wait for the next turn, nothing is lost.
constexpr int k_max_events = 256;

Error epoll_error(const char* what, int fd) {
  return Error(std::string("event loop: ") + what + " fd " + std::to_string(fd) + ": " +
               std::strerror(errno));
}

} // namespace

EventLoop::EventLoop()
    : m_epoll(epoll_create1(EPOLL_CLOEXEC)), m_wake(eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC)),
      m_events(sizeof(epoll_event) * k_max_events) {
  if (!m_epoll.valid() || !m_wake.valid()) {
    throw Error(std::string("event loop: ") + std::strerror(errno));
  }
  epoll_event event{};
  event.events = EPOLLIN;
  event.data.fd = m_wake.get();
  if (epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, m_wake.get(), &event) != 0) {
    throw epoll_error("watch", m_wake.get());
  }
}

EventLoop::~EventLoop() = default;

void EventLoop::watch(int fd, std::uint32_t events, IoCallback callback) {
  epoll_event event{};
  event.events = events;
  event.data.fd = fd;
  const bool known = m_watched.count(fd) != 0;
  int changed = epoll_ctl(m_epoll.get(), known ? EPOLL_CTL_MOD : EPOLL_CTL_ADD, fd, &event);
  if (changed != 0 && known && errno == ENOENT) {
    // The fd was closed without unwatch() (libpq closes its socket inside its own calls) and
    // its number now belongs to a new file, which epoll has never seen.
    changed = epoll_ctl(m_epoll.get(), EPOLL_CTL_ADD, fd, &event);
  }
  if (changed != 0) {
    throw epoll_error("watch", fd);
  }
  m_watched[fd] = std::move(callback);
}

void EventLoop::unwatch(int fd) {
  if (m_watched.erase(fd) != 0) {
    // Fails only for an fd already closed, which epoll has forgotten by itself.
    epoll_ctl(m_epoll.get(), EPOLL_CTL_DEL, fd, nullptr);
  }
}

EventLoop::TimerId EventLoop::at(TimePoint when, Callback callback) {
  const TimerId id = m_next_timer++;
  m_timers.emplace(std::make_pair(when, id), std::move(callback));
  m_timer_due.emplace(id, when);
  return id;
}

void EventLoop::cancel(TimerId id) {
  const auto due = m_timer_due.find(id);
  if (due == m_timer_due.end()) {
    return;
  }
  m_timers.erase(std::make_pair(due->second, id));
  m_timer_due.erase(due);
}

void EventLoop::post(Callback callback) {
  // The wake-up is written under the lock: the loop drains under it too, so once a poster's
  // callback can run, the poster is done with the loop — a thread that posts a check's result
  // and ends may race the loop's owner destroying it right after that callback.
  const std::lock_guard<std::mutex> lock(m_posted_mutex);
  m_posted.push_back(std::move(callback));
  if (m_posted.size() > 1) {
    return; // the loop has been woken for the first one and has not drained them yet
  }
  const std::uint64_t one = 1;
  // EAGAIN means the counter is already non-zero: the loop wakes anyway.
  [[maybe_unused]] const ssize_t written = ::write(m_wake.get(), &one, sizeof(one));
}

void EventLoop::stop() {
  m_stop.store(true);
  post([] {});
}

void EventLoop::run() {
  run_until([] { return false; });
}

void EventLoop::run_until(const std::function<bool()>& done) {
  m_thread.store(std::this_thread::get_id());
  // The stop is taken when acted on, not cleared on entry: clearing it here lost a stop() made
  // before this thread arrived, and the scheduler's stop then waited for this run forever.
  while (!m_stop.exchange(false) && !done()) {
    turn();
  }
  m_thread.store(std::thread::id());
}

int EventLoop::next_timeout_ms() const {
  {
    // Work posted meanwhile runs now, not after the next timer.
    const std::lock_guard<std::mutex> lock(m_posted_mutex);
    if (!m_posted.empty()) {
      return 0;
    }
  }
  if (m_timers.empty()) {
    return -1;
  }
  const auto left = m_timers.begin()->first.first - std::chrono::steady_clock::now();
  if (left <= std::chrono::steady_clock::duration::zero()) {
    return 0;
  }
  // Rounded up: waking a little late is harmless, waking early only costs another turn.
  const auto ms = std::chrono::ceil<std::chrono::milliseconds>(left).count();
  return static_cast<int>(std::min<std::chrono::milliseconds::rep>(ms, 60'000));
}

void EventLoop::turn() {
  auto* events = reinterpret_cast<epoll_event*>(m_events.data());
  const int ready = epoll_wait(m_epoll.get(), events, k_max_events, next_timeout_ms());
  if (ready < 0 && errno != EINTR) {
    throw Error(std::string("event loop: epoll_wait: ") + std::strerror(errno));
  }
  for (int i = 0; i < ready; ++i) {
    const int fd = events[i].data.fd;
    if (fd == m_wake.get()) {
      std::uint64_t count = 0;
      [[maybe_unused]] const ssize_t read_bytes = ::read(fd, &count, sizeof(count));
      continue;
    }
    // Looked up now, not before the turn: an earlier callback may have unwatched the fd (and a
    // new socket may have taken its number — callbacks tolerate a readiness that is stale).
    const auto found = m_watched.find(fd);
    if (found != m_watched.end()) {
      const IoCallback callback = found->second; // the callback may unwatch itself
      callback(events[i].events);
    }
  }
  fire_timers();
  drain_posted();
}

void EventLoop::fire_timers() {
  const TimePoint now = std::chrono::steady_clock::now();
  // Only timers due now: one set by a callback for `now` fires on the next turn, so a callback
  // that keeps re-arming cannot starve the sockets.
  std::size_t budget = m_timers.size();
  while (budget-- > 0 && !m_timers.empty() && m_timers.begin()->first.first <= now) {
    auto first = m_timers.begin();
    Callback callback = std::move(first->second);
    m_timer_due.erase(first->first.second);
    m_timers.erase(first);
    callback();
  }
}

void EventLoop::drain_posted() {
  std::vector<Callback> posted;
  {
    const std::lock_guard<std::mutex> lock(m_posted_mutex);
    posted.swap(m_posted);
  }
  for (Callback& callback : posted) {
    callback();
  }
}

} // namespace probe::util

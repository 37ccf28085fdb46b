// libcurl's multi interface on the epoll loop; see check_io.hpp. libcurl says which sockets to
// watch (CURLMOPT_SOCKETFUNCTION) and when to call it back (CURLMOPT_TIMERFUNCTION); the loop
// reports readiness with curl_multi_socket_action, and finished transfers are collected after
// every call.
#include "probe/checks/check_io.hpp"

#include <mutex>
#include <stdexcept>

#include <curl/curl.h>
#include <sys/epoll.h>

#include "probe/util/error.hpp"

namespace probe::checks {
namespace {

// curl_global_init is not thread-safe on every build: once per process, before any handle.
void init_curl_once() {
  static std::once_flag once;
  std::call_once(once, [] {
    if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK) {
      throw Error("libcurl: global initialisation failed");
    }
  });
}

} // namespace

CheckIo::CheckIo() {
  init_curl_once();
  m_multi = curl_multi_init();
  if (m_multi == nullptr) {
    throw Error("libcurl: cannot create a multi handle");
  }
  curl_multi_setopt(m_multi, CURLMOPT_SOCKETFUNCTION, &CheckIo::on_socket);
  curl_multi_setopt(m_multi, CURLMOPT_SOCKETDATA, this);
  curl_multi_setopt(m_multi, CURLMOPT_TIMERFUNCTION, &CheckIo::on_timer);
  curl_multi_setopt(m_multi, CURLMOPT_TIMERDATA, this);
}

CheckIo::~CheckIo() {
  for (const auto& [easy, done] : m_transfers) {
    curl_multi_remove_handle(m_multi, easy);
  }
  curl_multi_cleanup(m_multi);
  for (CURL* easy : m_idle_easies) {
    curl_easy_cleanup(easy);
  }
  // Last: no handle uses them any more (a shard in use refuses to go).
  for (void* shard : m_shards) {
    if (shard != nullptr) {
      curl_share_cleanup(shard);
    }
  }
}

void* CheckIo::connection_shard(const void* owner) {
  if (m_shards.empty()) {
    m_shards.resize(k_connection_shards, nullptr);
  }
  void*& shard = m_shards[std::hash<const void*>{}(owner) % k_connection_shards];
  if (shard == nullptr) {
    shard = curl_share_init();
    if (shard == nullptr) {
      throw Error("libcurl: cannot create a connection cache");
    }
    // Only connections: name lookups stay in the loop's one DNS cache. No lock callbacks: a
    // shard belongs to this loop's thread like everything else here.
    curl_share_setopt(shard, CURLSHOPT_SHARE, CURL_LOCK_DATA_CONNECT);
  }
  return shard;
}

CURL* CheckIo::acquire_easy() {
  if (m_idle_easies.empty()) {
    CURL* easy = curl_easy_init();
    if (easy == nullptr) {
      throw Error("libcurl: cannot create a transfer handle");
    }
    return easy;
  }
  CURL* easy = m_idle_easies.back();
  m_idle_easies.pop_back();
  return easy;
}

void CheckIo::release_easy(CURL* easy) {
  // Enough for the checks of a quick round; past it, a burst's handles are freed.
  constexpr std::size_t k_idle_kept = 256;
  if (m_idle_easies.size() >= k_idle_kept) {
    curl_easy_cleanup(easy); // lets go of its shard too
    return;
  }
  curl_easy_setopt(easy, CURLOPT_SHARE, nullptr); // lets go of its shard
  curl_easy_reset(easy);
  m_idle_easies.push_back(easy);
}

void CheckIo::set_connection_cache(std::size_t connections) {
  curl_multi_setopt(m_multi, CURLMOPT_MAXCONNECTS, static_cast<long>(connections));
}

void CheckIo::start_transfer(CURL* easy, TransferDone done) {
  m_transfers[easy] = std::move(done);
  const CURLMcode added = curl_multi_add_handle(m_multi, easy);
  if (added != CURLM_OK) {
    m_transfers.erase(easy);
    throw Error(std::string("libcurl: cannot start a transfer: ") + curl_multi_strerror(added));
  }
  // libcurl asks for a timer of 0 ms from inside add_handle: the transfer starts on the loop.
}

void CheckIo::cancel_transfer(CURL* easy) {
  if (m_transfers.erase(easy) != 0) {
    curl_multi_remove_handle(m_multi, easy);
  }
}

int CheckIo::on_socket(CURL*, int fd, int what, void* self, void*) {
  auto* io = static_cast<CheckIo*>(self);
  if (what == CURL_POLL_REMOVE) {
    io->m_loop.unwatch(fd);
    return 0;
  }
  std::uint32_t events = 0;
  if (what == CURL_POLL_IN || what == CURL_POLL_INOUT) {
    events |= EPOLLIN;
  }
  if (what == CURL_POLL_OUT || what == CURL_POLL_INOUT) {
    events |= EPOLLOUT;
  }
  io->m_loop.watch(fd, events, [io, fd](std::uint32_t fired) { io->socket_ready(fd, fired); });
  return 0;
}

int CheckIo::on_timer(CURLM*, long timeout_ms, void* self) {
  auto* io = static_cast<CheckIo*>(self);
  if (io->m_timer_armed) {
    io->m_loop.cancel(io->m_timer);
    io->m_timer_armed = false;
  }
  if (timeout_ms >= 0) {
    // Not called from here: libcurl forbids re-entering socket_action from this callback.
    io->m_timer = io->m_loop.at(
        std::chrono::steady_clock::now() + std::chrono::milliseconds(timeout_ms), [io] {
          io->m_timer_armed = false;
          io->timer_due();
        });
    io->m_timer_armed = true;
  }
  return 0;
}

void CheckIo::socket_ready(int fd, std::uint32_t events) {
  int flags = 0;
  if ((events & EPOLLIN) != 0) {
    flags |= CURL_CSELECT_IN;
  }
  if ((events & EPOLLOUT) != 0) {
    flags |= CURL_CSELECT_OUT;
  }
  if ((events & (EPOLLERR | EPOLLHUP)) != 0) {
    // Not CURL_CSELECT_ERR: libcurl would say only "select/poll returned error". Told the
    // socket is readable and writable, it reads or writes and reports what the socket says
    // ("Connection reset by peer"), which is what the check's detail should name.
    flags |= CURL_CSELECT_IN | CURL_CSELECT_OUT;
  }
  int running = 0;
  curl_multi_socket_action(m_multi, fd, flags, &running);
  collect_finished();
}

void CheckIo::timer_due() {
  int running = 0;
  curl_multi_socket_action(m_multi, CURL_SOCKET_TIMEOUT, 0, &running);
  collect_finished();
}

void CheckIo::collect_finished() {
  int queued = 0;
  while (CURLMsg* message = curl_multi_info_read(m_multi, &queued)) {
    if (message->msg != CURLMSG_DONE) {
      continue;
    }
    CURL* easy = message->easy_handle;
    const CURLcode code = message->data.result;
    curl_multi_remove_handle(m_multi, easy);
    const auto found = m_transfers.find(easy);
    if (found == m_transfers.end()) {
      continue;
    }
    TransferDone done = std::move(found->second);
    m_transfers.erase(found);
    done(static_cast<CurlResult>(code)); // may start the next transfer on this handle
  }
}

} // namespace probe::checks

// What checks in flight run on: one epoll loop (util::EventLoop) and libcurl's multi interface
// driven by it. libcurl was chosen for HTTP(S) and TCP connects because its multi interface is
// the field standard for many transfers on one thread, it bounds name resolution by the
// transfer's timeout (its threaded resolver), and it reports each phase's timing and the TLS
// session — what blackbox_exporter exports and cpp-httplib's blocking client cannot give.
// PostgreSQL checks watch libpq's socket on the same loop.
//
// One CheckIo serves any number of checks; all of it belongs to the loop's thread.
#pragma once

#include <functional>
#include <memory>
#include <unordered_map>
#include <vector>

#include "probe/util/event_loop.hpp"

typedef void CURL;      // NOLINT: libcurl's own declarations
typedef void CURLM;     // NOLINT
typedef int CurlResult; // CURLcode as an int, so this header does not need curl.h

namespace probe::checks {

class CheckIo {
public:
  // Gets the transfer's CURLcode when libcurl is done with it.
  using TransferDone = std::function<void(CurlResult code)>;

  CheckIo();
  ~CheckIo();
  CheckIo(const CheckIo&) = delete;
  CheckIo& operator=(const CheckIo&) = delete;

  util::EventLoop& loop() { return m_loop; }

  // Starts `easy` (configured by the caller, who keeps owning it) on the loop; `done` is called
  // once, on the loop's thread, after libcurl has let go of it. Never calls `done` inline.
  void start_transfer(CURL* easy, TransferDone done);
  // Abandons a transfer that has not finished (its `done` is not called).
  void cancel_transfer(CURL* easy);
  std::size_t transfers() const { return m_transfers.size(); }

  // A handle for one transfer, reset to libcurl's defaults: handles are pooled, not freed,
  // between transfers, so a thousand targets checked now and then cost the handles in flight
  // at once, not one each.
  CURL* acquire_easy();
  // Back to the pool once its transfer is over (the result has been read from it).
  void release_easy(CURL* easy);
  // How many idle connections libcurl keeps between checks: one per target keeps every
  // target's connection alive (its default, 4 per transfer in flight, would close them).
  void set_connection_cache(std::size_t connections);
  // The connection cache `owner`'s transfers keep their connections in: one of up to
  // k_connection_shards, picked by owner. libcurl 7.88 walks the whole cache of a transfer each
  // time one ends (curl_multi_remove_handle, to close connect-only connections): with one
  // cache of 10,000 kept-alive connections that walk was most of probe's CPU. Shards keep the
  // walk short and cost a few KiB each (made on first use).
  void* connection_shard(const void* owner);
  static constexpr std::size_t k_connection_shards = 256;

private:
  static int on_socket(CURL* easy, int fd, int what, void* self, void* socket_data);
  static int on_timer(CURLM* multi, long timeout_ms, void* self);
  void socket_ready(int fd, std::uint32_t events);
  void timer_due();
  void collect_finished();

  util::EventLoop m_loop;
  CURLM* m_multi = nullptr;
  util::EventLoop::TimerId m_timer = 0;
  bool m_timer_armed = false;
  std::unordered_map<CURL*, TransferDone> m_transfers;
  std::vector<CURL*> m_idle_easies;
  std::vector<void*> m_shards; // CURLSH*, null until first used
};

} // namespace probe::checks

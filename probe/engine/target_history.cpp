// A target's recent past in bounded memory; see target_history.hpp.
#include "probe/engine/target_history.hpp"

#include <algorithm>
#include <limits>

namespace probe::engine {
namespace {

// Where minute `minute` lives in the day-long ring (minutes before 1970 too).
std::int64_t ring_slot(std::int64_t minute) {
  const std::int64_t slot = minute % TargetHistory::k_minutes;
  return slot < 0 ? slot + TargetHistory::k_minutes : slot;
}

template <typename Counter> bool add_one(Counter& counter) {
  if (counter == std::numeric_limits<Counter>::max()) {
    return false;
  }
  ++counter;
  return true;
}

std::uint32_t saturating_add(std::uint32_t a, std::uint32_t b) {
  return b > std::numeric_limits<std::uint32_t>::max() - a
             ? std::numeric_limits<std::uint32_t>::max()
             : a + b;
}

std::uint32_t latency_us(std::chrono::nanoseconds latency) {
  const auto micros = std::chrono::duration_cast<std::chrono::microseconds>(latency).count();
  return static_cast<std::uint32_t>(
      std::clamp<std::int64_t>(micros, 0, std::numeric_limits<std::uint32_t>::max()));
}

} // namespace

std::int64_t minute_of(std::chrono::system_clock::time_point at) {
  return std::chrono::floor<std::chrono::minutes>(at.time_since_epoch()).count();
}

MinuteBucket* TargetHistory::bucket(std::int64_t minute, bool allocate) {
  const std::int64_t slot = ring_slot(minute);
  std::unique_ptr<Block>& block = m_blocks[static_cast<std::size_t>(slot / k_block_minutes)];
  if (!block) {
    if (!allocate) {
      return nullptr;
    }
    block = std::make_unique<Block>();
  }
  return &(*block)[static_cast<std::size_t>(slot % k_block_minutes)];
}

const MinuteBucket* TargetHistory::bucket(std::int64_t minute) const {
  const std::int64_t slot = ring_slot(minute);
  const std::unique_ptr<Block>& block = m_blocks[static_cast<std::size_t>(slot / k_block_minutes)];
  return block ? &(*block)[static_cast<std::size_t>(slot % k_block_minutes)] : nullptr;
}

void TargetHistory::clear() {
  for (std::unique_ptr<Block>& block : m_blocks) {
    if (block) {
      block->fill(MinuteBucket{});
    }
  }
  m_total = {};
}

void TargetHistory::advance_to(std::int64_t minute) {
  // At most a day of slots to empty: a longer gap empties each once.
  const std::int64_t steps = std::min(minute - m_newest_minute, k_minutes);
  for (std::int64_t m = minute - steps + 1; m <= minute; ++m) {
    if (MinuteBucket* old = bucket(m, false)) {
      m_total.successes -= old->successes;
      m_total.failures -= old->failures;
      *old = MinuteBucket{};
    }
  }
  m_newest_minute = minute;
}

void TargetHistory::record(const checks::CheckResult& result,
                           std::chrono::system_clock::time_point at) {
  const std::int64_t minute = minute_of(at);
  if (m_newest_minute < 0) {
    m_newest_minute = minute;
  } else if (minute > m_newest_minute) {
    advance_to(minute);
  } else if (minute <= m_newest_minute - k_minutes) {
    clear(); // the clock stepped back more than a day: nothing kept lines up with it
    m_newest_minute = minute;
  }
  MinuteBucket& into = *bucket(minute, true);
  if (result.ok()) {
    m_total.successes += add_one(into.successes) ? 1 : 0;
  } else {
    m_total.failures += add_one(into.failures) ? 1 : 0;
  }
  const std::uint32_t micros = latency_us(result.latency);
  into.latency_sum_us = saturating_add(into.latency_sum_us, micros);
  into.latency_max_us = std::max(into.latency_max_us, micros);

  m_recent[m_recent_next] = RecentCheck{at, micros, result.status};
  m_recent_next = (m_recent_next + 1) % k_recent_checks;
  m_recent_count = std::min(m_recent_count + 1, k_recent_checks);
}

Tally TargetHistory::tally(std::chrono::system_clock::time_point now, std::int64_t minutes) const {
  Tally out;
  if (m_newest_minute < 0) {
    return out;
  }
  minutes = std::clamp<std::int64_t>(minutes, 1, k_minutes);
  const std::int64_t now_minute = minute_of(now);
  const std::int64_t oldest_kept = m_newest_minute - k_minutes + 1;
  const std::int64_t first = std::max(now_minute - minutes + 1, oldest_kept);
  const std::int64_t last = std::min(now_minute, m_newest_minute);
  const auto add_range = [this](std::int64_t from, std::int64_t to, Tally& sum) {
    for (std::int64_t m = from; m <= to; ++m) {
      if (const MinuteBucket* b = bucket(m)) {
        sum.successes += b->successes;
        sum.failures += b->failures;
      }
    }
  };
  if (now_minute >= m_newest_minute && minutes > k_minutes / 2) {
    // Most of the ring: its running total less the minutes that fell out of the window.
    Tally fallen;
    add_range(oldest_kept, first - 1, fallen);
    out.successes = m_total.successes - fallen.successes;
    out.failures = m_total.failures - fallen.failures;
    return out;
  }
  add_range(first, last, out);
  return out;
}

HistorySummary TargetHistory::summary(std::chrono::system_clock::time_point now) const {
  HistorySummary out;
  out.recent.reserve(m_recent_count);
  const std::size_t oldest = (m_recent_next + k_recent_checks - m_recent_count) % k_recent_checks;
  for (std::size_t i = 0; i < m_recent_count; ++i) {
    out.recent.push_back(m_recent[(oldest + i) % k_recent_checks]);
  }
  const std::int64_t now_minute = minute_of(now);
  out.last_hour.resize(static_cast<std::size_t>(k_block_minutes));
  for (std::int64_t i = 0; i < k_block_minutes; ++i) {
    const std::int64_t minute = now_minute - k_block_minutes + 1 + i;
    const bool kept =
        m_newest_minute >= 0 && minute <= m_newest_minute && minute > m_newest_minute - k_minutes;
    if (const MinuteBucket* b = kept ? bucket(minute) : nullptr) {
      out.last_hour[static_cast<std::size_t>(i)] = *b;
      out.hour.successes += b->successes;
      out.hour.failures += b->failures;
    }
  }
  out.day = tally(now, k_minutes);
  return out;
}

std::size_t TargetHistory::memory_bytes() const {
  const auto blocks = static_cast<std::size_t>(std::count_if(
      m_blocks.begin(), m_blocks.end(), [](const auto& block) { return block != nullptr; }));
  return sizeof(TargetHistory) + blocks * sizeof(Block);
}

} // namespace probe::engine

// event_id is the idempotency key of deploy events (ON CONFLICT DO NOTHING), so two events that
// draw the same id are silently one (issue 12, item 21: ids came from mt19937_64 seeded with one
// 32-bit random_device draw per thread). Pinned: the UUID's text form, its version 4 and RFC 4122
// variant bits, that the other 122 bits vary, and that 100,000 ids drawn from several threads are
// all distinct.
#include <array>
#include <set>
#include <string>
#include <thread>
#include <vector>

#include <gtest/gtest.h>

#include "probe/deploy/event.hpp"
#include "probe/util/random.hpp"

namespace probe::util {
namespace {

TEST(RandomUuid, IsVersion4WithTheRfc4122Variant) {
  for (int i = 0; i < 1000; ++i) {
    const std::string id = random_uuid();
    ASSERT_EQ(id.size(), 36U) << id;
    for (std::size_t pos = 0; pos < id.size(); ++pos) {
      const bool dash = pos == 8 || pos == 13 || pos == 18 || pos == 23;
      if (dash) {
        EXPECT_EQ(id[pos], '-') << id;
      } else {
        EXPECT_NE(std::string("0123456789abcdef").find(id[pos]), std::string::npos) << id;
      }
    }
    EXPECT_EQ(id[14], '4') << id;                                         // version 4
    EXPECT_NE(std::string("89ab").find(id[19]), std::string::npos) << id; // variant 10xx
    EXPECT_TRUE(deploy::valid_event_id(id)) << id;
  }
}

TEST(RandomUuid, EveryRandomBitVaries) {
  // Over 1000 ids each of the 122 random bits is seen both 0 and 1 (chance of a miss ~2^-993).
  std::array<int, 32> ones{};
  constexpr int k_ids = 1000;
  for (int i = 0; i < k_ids; ++i) {
    std::string hex = random_uuid();
    std::erase(hex, '-');
    for (std::size_t d = 0; d < hex.size(); ++d) {
      const int value = hex[d] <= '9' ? hex[d] - '0' : hex[d] - 'a' + 10;
      ones[d] += value; // sum of nibbles: neither 0 nor 15 * k_ids when the nibble varies
    }
  }
  for (std::size_t d = 0; d < ones.size(); ++d) {
    if (d == 12) {
      EXPECT_EQ(ones[d], 4 * k_ids); // the version nibble
      continue;
    }
    EXPECT_GT(ones[d], 0) << "nibble " << d;
    EXPECT_LT(ones[d], 15 * k_ids) << "nibble " << d;
  }
}

TEST(RandomUuid, OneHundredThousandIdsFromFourThreadsAreDistinct) {
  constexpr int k_threads = 4;
  constexpr int k_per_thread = 25'000;
  std::vector<std::vector<std::string>> drawn(k_threads);
  std::vector<std::thread> threads;
  for (int t = 0; t < k_threads; ++t) {
    threads.emplace_back([&drawn, t] {
      drawn[t].reserve(k_per_thread);
      for (int i = 0; i < k_per_thread; ++i) {
        drawn[t].push_back(deploy::new_event_id());
      }
    });
  }
  for (std::thread& thread : threads) {
    thread.join();
  }
  std::set<std::string> all;
  for (const std::vector<std::string>& ids : drawn) {
    all.insert(ids.begin(), ids.end());
  }
  EXPECT_EQ(all.size(), static_cast<std::size_t>(k_threads * k_per_thread));
}

TEST(RandomBytes, FillsLargeRequests) {
  std::vector<unsigned char> bytes(4096, 0);
  random_bytes(bytes.data(), bytes.size());
  std::set<unsigned char> seen(bytes.begin(), bytes.end());
  EXPECT_GT(seen.size(), 200U); // 4096 random bytes take nearly all 256 values
}

} // namespace
} // namespace probe::util

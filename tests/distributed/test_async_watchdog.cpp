// The watchdog behind the NCCL backend's timeout and asynchronous error handling, with fake work
// items in place of CUDA events (the NCCL path itself needs a GPU: launch/gpu_check.sh).
#include <gmock/gmock.h>
#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <mutex>
#include <stdexcept>
#include <thread>

#include "distributed/async_watchdog.h"

namespace llamarec {
namespace {

using namespace std::chrono_literals;
using ::testing::HasSubstr;

// Records failures instead of ending the process.
struct Failures {
  std::mutex mutex;
  std::vector<std::string> messages;
  std::atomic<std::thread::id> thread{};

  AsyncWatchdog::Hooks hooks(std::function<std::string()> async_error = {}) {
    AsyncWatchdog::Hooks h;
    h.async_error = std::move(async_error);
    h.on_failure = [this](const std::string& m) {
      std::lock_guard<std::mutex> lock(mutex);
      messages.push_back(m);
      thread = std::this_thread::get_id();
    };
    return h;
  }
  size_t count() {
    std::lock_guard<std::mutex> lock(mutex);
    return messages.size();
  }
};

// Waits up to `limit` for `condition`.
template <class F>
bool eventually(F condition, std::chrono::milliseconds limit = 5000ms) {
  const auto end = std::chrono::steady_clock::now() + limit;
  while (std::chrono::steady_clock::now() < end) {
    if (condition()) return true;
    std::this_thread::sleep_for(2ms);
  }
  return condition();
}

TEST(AsyncWatchdog, ItemsThatCompleteInTimeAreRetiredWithoutFailure) {
  Failures failures;
  std::atomic<bool> first{false}, second{false};
  {
    AsyncWatchdog dog(2000ms, 5ms, failures.hooks());
    dog.watch("all_gather #1", [&] { return first.load(); });
    dog.watch("all_gather #2", [&] { return second.load(); });
    std::this_thread::sleep_for(30ms);
    EXPECT_EQ(dog.pending(), 2u);
    first = true;
    EXPECT_TRUE(eventually([&] { return dog.pending() == 1; }));
    second = true;
    EXPECT_TRUE(eventually([&] { return dog.pending() == 0; }));
    EXPECT_FALSE(dog.failed());
  }
  EXPECT_EQ(failures.count(), 0u);
}

TEST(AsyncWatchdog, AnItemPastItsDeadlineFailsOnceNamingIt) {
  Failures failures;
  AsyncWatchdog dog(50ms, 5ms, failures.hooks());
  const auto start = std::chrono::steady_clock::now();
  dog.watch("all_reduce #7", [] { return false; });
  dog.watch("broadcast #8", [] { return false; });
  ASSERT_TRUE(eventually([&] { return failures.count() > 0; }));
  const auto waited = std::chrono::steady_clock::now() - start;
  EXPECT_GE(waited, 50ms);
  EXPECT_LT(waited, 3000ms);
  std::this_thread::sleep_for(100ms);  // the second item is past its deadline too: still one call
  ASSERT_EQ(failures.count(), 1u);
  EXPECT_THAT(failures.messages[0], HasSubstr("all_reduce #7 did not complete within 0.05 s"));
  EXPECT_TRUE(dog.failed());
  EXPECT_EQ(dog.pending(), 0u);
  EXPECT_NE(failures.thread.load(), std::this_thread::get_id());  // reported from its own thread
}

TEST(AsyncWatchdog, OnlyTheOldestUnfinishedItemIsTimed) {
  // Work completes in stream order: a later item that is done does not retire an earlier one.
  Failures failures;
  std::atomic<bool> first{false};
  AsyncWatchdog dog(5000ms, 5ms, failures.hooks());
  dog.watch("first", [&] { return first.load(); });
  dog.watch("second", [] { return true; });
  std::this_thread::sleep_for(40ms);
  EXPECT_EQ(dog.pending(), 2u);
  first = true;
  EXPECT_TRUE(eventually([&] { return dog.pending() == 0; }));
  EXPECT_EQ(failures.count(), 0u);
}

TEST(AsyncWatchdog, AnAsynchronousErrorFailsEvenWithNothingPending) {
  Failures failures;
  std::atomic<bool> broken{false};
  AsyncWatchdog dog(60000ms, 5ms, failures.hooks([&] {
    return broken ? std::string("NCCL asynchronous error: remote process exited or there was a network error")
                  : std::string();
  }));
  std::this_thread::sleep_for(30ms);
  EXPECT_EQ(failures.count(), 0u);
  broken = true;
  ASSERT_TRUE(eventually([&] { return failures.count() == 1; }));
  EXPECT_THAT(failures.messages[0], HasSubstr("remote process exited"));
}

TEST(AsyncWatchdog, AnItemThatThrowsIsAFailureWithItsMessage) {
  Failures failures;
  AsyncWatchdog dog(60000ms, 5ms, failures.hooks());
  dog.watch("reduce_scatter #3", []() -> bool { throw std::runtime_error("CUDA error: an illegal memory access"); });
  ASSERT_TRUE(eventually([&] { return failures.count() == 1; }));
  EXPECT_THAT(failures.messages[0], HasSubstr("reduce_scatter #3: CUDA error: an illegal memory access"));
}

TEST(AsyncWatchdog, StopsPromptlyWithWorkPending) {
  Failures failures;
  const auto start = std::chrono::steady_clock::now();
  {
    AsyncWatchdog dog(60000ms, 1000ms, failures.hooks());
    dog.watch("never", [] { return false; });
  }
  EXPECT_LT(std::chrono::steady_clock::now() - start, 500ms);
  EXPECT_EQ(failures.count(), 0u);
}

}  // namespace
}  // namespace llamarec

#include "distributed/async_watchdog.h"

#include <fmt/format.h>

namespace llamarec {

AsyncWatchdog::AsyncWatchdog(std::chrono::milliseconds timeout, std::chrono::milliseconds poll, Hooks hooks)
    : timeout_(timeout), poll_(poll), hooks_(std::move(hooks)) {
  thread_ = std::thread([this] { loop(); });
}

AsyncWatchdog::~AsyncWatchdog() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

void AsyncWatchdog::watch(std::string what, std::function<bool()> done) {
  std::lock_guard<std::mutex> lock(mutex_);
  items_.push_back({std::move(what), std::move(done), std::chrono::steady_clock::now() + timeout_});
}

size_t AsyncWatchdog::pending() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return items_.size();
}

bool AsyncWatchdog::failed() const {
  std::lock_guard<std::mutex> lock(mutex_);
  return failed_;
}

void AsyncWatchdog::fail_once(const std::string& message) {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    if (failed_) return;
    failed_ = true;
    items_.clear();
  }
  if (hooks_.on_failure) hooks_.on_failure(message);
}

void AsyncWatchdog::loop() {
  try {
    if (hooks_.on_start) hooks_.on_start();
  } catch (const std::exception& e) {
    fail_once(fmt::format("watchdog start: {}", e.what()));
  }
  std::unique_lock<std::mutex> lock(mutex_);
  while (!stopping_) {
    wake_.wait_for(lock, poll_, [this] { return stopping_; });
    if (stopping_ || failed_) continue;
    // Items complete in stream order, so the oldest unfinished one is the only one to time.
    while (!items_.empty()) {
      Item& item = items_.front();
      std::string problem;
      bool done = false;
      lock.unlock();
      try {
        done = item.done();
      } catch (const std::exception& e) {
        problem = fmt::format("{}: {}", item.what, e.what());
      }
      if (!done && problem.empty() && std::chrono::steady_clock::now() > item.deadline)
        problem = fmt::format("{} did not complete within {} s (a peer died, hangs or runs another collective)",
                              item.what, timeout_.count() / 1000.0);
      lock.lock();
      if (!problem.empty()) {
        lock.unlock();
        fail_once(problem);
        lock.lock();
        break;
      }
      if (!done) break;
      items_.pop_front();
    }
    if (failed_ || stopping_ || !hooks_.async_error) continue;
    lock.unlock();
    std::string error;
    try {
      error = hooks_.async_error();
    } catch (const std::exception& e) {
      error = e.what();
    }
    if (!error.empty()) fail_once(error);
    lock.lock();
  }
}

}  // namespace llamarec

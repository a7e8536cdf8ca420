// A watchdog for work that completes asynchronously to the host, such as NCCL kernels on a CUDA
// stream: a peer that died or hangs leaves them spinning forever, and the host only notices when
// it next synchronises, i.e. never. The watchdog's own thread polls each watched item (in the
// order they were enqueued) and the backend's asynchronous error; an item not done `timeout` after
// it was watched, or an error, calls on_failure once, from the watchdog thread. The NCCL backend
// aborts its communicator there and ends the process, as PyTorch's ProcessGroupNCCL watchdog does:
// the main thread may be blocked in a CUDA call and cannot be woken to throw.
#pragma once
#include <chrono>
#include <condition_variable>
#include <deque>
#include <functional>
#include <mutex>
#include <string>
#include <thread>

namespace llamarec {

class AsyncWatchdog {
 public:
  struct Hooks {
    std::function<void()> on_start;                      // first thing on the watchdog thread (e.g. cudaSetDevice)
    std::function<std::string()> async_error;            // the backend's error, "" when none
    std::function<void(const std::string&)> on_failure;  // called at most once
  };

  // `poll`: how often items and the asynchronous error are checked.
  AsyncWatchdog(std::chrono::milliseconds timeout, std::chrono::milliseconds poll, Hooks hooks);
  // Stops the thread; items still pending are dropped unchecked.
  ~AsyncWatchdog();
  AsyncWatchdog(const AsyncWatchdog&) = delete;
  AsyncWatchdog& operator=(const AsyncWatchdog&) = delete;

  // `done` is called on the watchdog thread until it returns true (then it is destroyed there); it
  // may throw, which counts as a failure with that message. `what` names the item in the failure.
  void watch(std::string what, std::function<bool()> done);

  size_t pending() const;
  bool failed() const;

 private:
  struct Item {
    std::string what;
    std::function<bool()> done;
    std::chrono::steady_clock::time_point deadline;
  };
  void loop();
  void fail_once(const std::string& message);

  const std::chrono::milliseconds timeout_;
  const std::chrono::milliseconds poll_;
  Hooks hooks_;
  mutable std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Item> items_;
  bool stopping_ = false;
  bool failed_ = false;
  std::thread thread_;
};

}  // namespace llamarec

#include "distributed/mpi_progress_thread.h"

#include <algorithm>
#include <chrono>

#include "distributed/mpi_context.h"

namespace llamarec {

MpiProgressThread::MpiProgressThread(MPI_Comm comm) : comm_(comm), thread_([this] { run(); }) {}

MpiProgressThread::~MpiProgressThread() {
  {
    std::lock_guard<std::mutex> lock(mutex_);
    stopping_ = true;
  }
  wake_.notify_all();
  thread_.join();
}

std::future<void> MpiProgressThread::submit(Start start) {
  Job job{std::move(start), std::promise<void>()};
  auto future = job.done.get_future();
  {
    std::lock_guard<std::mutex> lock(mutex_);
    queue_.push_back(std::move(job));
  }
  wake_.notify_all();
  return future;
}

void MpiProgressThread::run() {
  for (;;) {
    Job job;
    {
      std::unique_lock<std::mutex> lock(mutex_);
      wake_.wait(lock, [this] { return stopping_ || !queue_.empty(); });
      if (queue_.empty()) return;  // stopping, and nothing left that the other ranks wait for
      job = std::move(queue_.front());
      queue_.pop_front();
    }
    try {
      MPI_Request request = job.start(comm_);
      // Short sleeps first (a small message completes within a few polls), then up to 200 us: a
      // layer's gather takes milliseconds, so the added latency stays a few percent of it.
      auto pause = std::chrono::microseconds(5);
      for (;;) {
        int done = 0;
        mpiCheck(MPI_Test(&request, &done, MPI_STATUS_IGNORE));
        if (done) break;
        std::this_thread::sleep_for(pause);
        pause = std::min(pause * 2, std::chrono::microseconds(200));
      }
      job.done.set_value();
    } catch (...) {
      job.done.set_exception(std::current_exception());
    }
  }
}

}  // namespace llamarec

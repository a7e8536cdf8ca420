// Drives nonblocking MPI collectives to completion on a thread of their own. Open MPI moves the data
// of a nonblocking collective only inside MPI calls, and a compute thread busy in a GEMM makes none,
// so a collective started before a computation would otherwise not progress until its MPI_Wait.
// This thread posts each submitted collective in submission order, one at a time, on a
// communicator that only it uses, and polls it with MPI_Test, sleeping between polls (a blocking
// MPI_Wait would spin a whole core for the time the transfer takes). Needs MPI_THREAD_MULTIPLE.
#pragma once
#include <mpi.h>

#include <condition_variable>
#include <deque>
#include <functional>
#include <future>
#include <mutex>
#include <thread>

namespace llamarec {

class MpiProgressThread {
 public:
  // `comm` is used by this thread only, from now until destruction; the caller frees it afterwards.
  explicit MpiProgressThread(MPI_Comm comm);
  // Completes the queued collectives first (the other ranks expect them).
  ~MpiProgressThread();
  MpiProgressThread(const MpiProgressThread&) = delete;
  MpiProgressThread& operator=(const MpiProgressThread&) = delete;

  // `start` posts one nonblocking operation on the given communicator and returns its request (its
  // MPI errors thrown through mpiCheck). The future is ready when the request has completed, or
  // holds the error.
  using Start = std::function<MPI_Request(MPI_Comm)>;
  std::future<void> submit(Start start);

 private:
  struct Job {
    Start start;
    std::promise<void> done;
  };
  void run();

  MPI_Comm comm_;
  std::mutex mutex_;
  std::condition_variable wake_;
  std::deque<Job> queue_;
  bool stopping_ = false;
  std::thread thread_;
};

}  // namespace llamarec

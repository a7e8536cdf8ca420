#include "core/stop_signal.h"

#include <signal.h>

#include <csignal>

namespace llamarec {
namespace {

volatile std::sig_atomic_t received = 0;
int depth = 0;  // live StopSignalScopes (the main thread's)
struct sigaction previous_usr1 {
}, previous_term{};

extern "C" void on_stop_signal(int signal) {
  if (received == signal) {
    // The second one: the operator insists. Default action, now.
    std::signal(signal, SIG_DFL);
    std::raise(signal);
    return;
  }
  received = signal;
}

}  // namespace

StopSignalScope::StopSignalScope() {
  if (depth++ > 0) return;
  struct sigaction action {};
  action.sa_handler = on_stop_signal;
  sigemptyset(&action.sa_mask);
  action.sa_flags = SA_RESTART;  // a signal must not fail a read or a collective in progress
  sigaction(SIGUSR1, &action, &previous_usr1);
  sigaction(SIGTERM, &action, &previous_term);
}

StopSignalScope::~StopSignalScope() {
  if (--depth > 0) return;
  sigaction(SIGUSR1, &previous_usr1, nullptr);
  sigaction(SIGTERM, &previous_term, nullptr);
}

int stop_signal() { return received; }

std::string signal_name(int signal) {
  switch (signal) {
    case SIGUSR1:
      return "SIGUSR1";
    case SIGTERM:
      return "SIGTERM";
    default:
      return "signal " + std::to_string(signal);
  }
}

}  // namespace llamarec

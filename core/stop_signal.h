// Graceful stop for preemptible jobs. While a StopSignalScope is alive (the training loop, `llamarec
// run`), SIGUSR1 (Slurm's warning before the time limit, `--signal=B:USR1@N`, forwarded by
// launch/slurm.sbatch; mpirun forwards it to every rank) and SIGTERM (preemption, scancel, the time
// limit itself) only set a flag. The training loop all-reduces that flag with each step's gradients,
// so every rank stops after the same step, writes the state of that exact step and leaves with
// kRequeueExitCode; `llamarec run` also stops between stages. A second signal of the same kind ends
// the process at once (the default action), and outside a scope both keep their default action.
#pragma once
#include <string>

#include "core/error.h"

namespace llamarec {

// EX_TEMPFAIL: "try again later". The job's state is saved; the same command resumes it.
inline constexpr int kRequeueExitCode = 75;

// Installs the handlers for its lifetime; nested scopes keep them until the outermost ends.
class StopSignalScope {
 public:
  StopSignalScope();
  ~StopSignalScope();
  StopSignalScope(const StopSignalScope&) = delete;
  StopSignalScope& operator=(const StopSignalScope&) = delete;
};

// The signal that asked this process to stop (SIGUSR1 or SIGTERM), 0 while none has.
int stop_signal();
// "SIGUSR1", "SIGTERM"
std::string signal_name(int signal);

// Thrown on every rank once the state is saved after a stop signal; the CLI exits with
// kRequeueExitCode without aborting the world.
class StopRequested : public Error {
 public:
  using Error::Error;
};

}  // namespace llamarec

#!/usr/bin/env bash
# The llamarec command line as a user meets it: every subcommand's --help, an unknown flag, a missing
# config file, a bad config key, the default thread count. Run by CTest with the binary as $1; these
# checks fail before MPI starts or run one process, so they need no launcher.
set -uo pipefail
bin="$1"
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT
failures=0

# expect NAME STATUS(zero|nonzero) REGEX COMMAND...: the exit status and a line of the output.
expect() {
  local name="$1" status="$2" regex="$3"
  shift 3
  local out rc
  out="$("$@" 2>&1)"
  rc=$?
  if { [ "$status" = zero ] && [ "$rc" -ne 0 ]; } || { [ "$status" = nonzero ] && [ "$rc" -eq 0 ]; }; then
    echo "FAIL $name: exit status $rc (expected $status)"; echo "$out" | head -20; failures=$((failures + 1)); return
  fi
  if ! grep -q -E -- "$regex" <<<"$out"; then
    echo "FAIL $name: output does not match /$regex/"; echo "$out" | head -20; failures=$((failures + 1)); return
  fi
  echo "ok   $name"
}

expect "top-level help lists every stage" zero "train-retriever" "$bin" --help
for stage in preprocess train-retriever retrieve evaluate-retriever train-ranker evaluate-ranker; do
  expect "$stage is listed" zero "^ +$stage " "$bin" --help
  expect "$stage --help" zero "-c,--config" "$bin" "$stage" --help
done
for command in run evaluate info generate config score; do
  expect "$command --help" zero "Usage:" "$bin" "$command" --help
done
expect "no subcommand" nonzero "subcommand" "$bin"
expect "unknown subcommand" nonzero "train-retreiver" "$bin" train-retreiver
expect "unknown flag" nonzero "--no-such-flag" "$bin" train-retriever --no-such-flag
expect "missing config file" nonzero "no/such.toml" "$bin" train-retriever -c "$tmp/no/such.toml"
expect "run: missing config file" nonzero "no/such.toml" "$bin" run -c "$tmp/no/such.toml"
printf '[retriever]\nbatch_sise = 4\n' > "$tmp/typo.toml"
expect "unknown config key names file and key" nonzero "typo.toml: unknown key retriever.batch_sise" \
  "$bin" config -c "$tmp/typo.toml"
printf '[ranker]\ndtype = "fp8"\n' > "$tmp/enum.toml"
expect "bad enum value names the choices" nonzero "ranker.dtype must be one of auto, float32 or bfloat16" \
  "$bin" config -c "$tmp/enum.toml"
expect "bad --set names the override" nonzero "--set retriever.batch_size=many" \
  "$bin" config --set retriever.batch_size=many
expect "an out-of-range --set names the override" nonzero "^llamarec: error: --set retriever.lr=-1: retriever.lr is invalid: expected > 0" \
  "$bin" config --set retriever.lr=-1
expect "a bad lora --set names the override" nonzero "--set lora.r=0: lora.r must be positive" "$bin" config --set lora.r=0
expect "a bad --inject-fault names the spec" nonzero "--inject-fault boom: expected KIND@POINT" \
  "$bin" train-retriever --inject-fault boom
printf '[retriever]\nmax_iterations = 7\n' > "$tmp/old.toml"
expect "a renamed key still works, with a warning" zero "max_iterations is deprecated" "$bin" config -c "$tmp/old.toml"
expect "the renamed key lands on its new name" zero "^max_steps = 7$" "$bin" config -c "$tmp/old.toml"
expect "config prints the effective value" zero "^max_len = 50$" "$bin" config --set retriever.max_len=50

# run.threads = 0 sizes from the CPUs this process may use (taskset, mpirun --bind-to, Slurm), not the
# host's: bound to one CPU, one thread.
cpus="$(env -u OMP_NUM_THREADS -u OMP_THREAD_LIMIT nproc)"  # nproc honours both
if command -v taskset >/dev/null && [ "$cpus" -ge 2 ]; then
  cpu="$(taskset -c -p $$ | sed 's/.*: *//; s/[-,].*//')"
  tiny=(--set "run.dir=$tmp/threads" --set "data.dataset=$tmp/threads/dataset.h5" --set data.synthetic_users=20
        --set data.synthetic_items=10)
  expect "one bound CPU, one thread" zero "1 rank\(s\), 1 thread\(s\) per rank \(rank 0 on CPUs $cpu\)" \
    taskset -c "$cpu" "$bin" preprocess "${tiny[@]}"
  expect "every usable CPU unbound" zero "1 rank\(s\), $cpus thread\(s\) per rank" "$bin" preprocess "${tiny[@]}"
fi

# A CPU quota (docker --cpus, Kubernetes limits) is not an affinity, and caps the threads too: a cgroup
# v1 child with a one-CPU quota, where this machine lets the test make one (root, a writable cpu
# controller; else skipped).
quota_dir=/sys/fs/cgroup/cpu/llamarec-test-$$
if [ "$cpus" -ge 2 ] && [ -f /sys/fs/cgroup/cpu/cpu.cfs_quota_us ] && mkdir "$quota_dir" 2>/dev/null; then
  if echo 100000 >"$quota_dir/cpu.cfs_quota_us"; then
    # shellcheck disable=SC2016
    expect "a one-CPU quota, one thread" zero "1 rank\(s\), 1 thread\(s\) per rank .*a CPU quota of 1" \
      bash -c 'echo $$ >"$1/cgroup.procs" && exec "${@:2}"' _ "$quota_dir" "$bin" preprocess "${tiny[@]}"
  fi
  rmdir "$quota_dir" || true
else
  echo "skip a one-CPU quota: no writable cgroup v1 cpu controller here"
fi

if [ "$failures" -ne 0 ]; then
  echo "$failures CLI check(s) failed"
  exit 1
fi
echo "all CLI checks passed"

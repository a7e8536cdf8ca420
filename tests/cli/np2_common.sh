# Shared by the 2-rank command-line tests (sourced): a scratch directory, the launcher, a tiny
# synthetic dataset and retriever config that train in seconds, and a ranker config on a small
# built-in Llama (no ../shared needed). Expects $bin (the llamarec binary) and $root (the source tree).
tmp="$(mktemp -d)"
trap 'pkill -9 -f -- "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
np2_command=(env LLAMAREC_BIN="$bin" bash "$root/launch/mpirun.sh" 2)  # for `timeout`, which runs no functions
np2() { "${np2_command[@]}" "$@"; }
problem() { echo "FAIL $*"; failures=$((failures + 1)); }

sed "s|@TMP@|$tmp|g" "$root/tests/cli/tiny.toml" >"$tmp/tiny.toml"

# The newest saved step under a state directory (0 when none).
newest_step() {
  local d
  d="$(ls "$1" 2>/dev/null | grep -E '^step-[0-9]+$' | sort | tail -1)"
  d="${d#step-}"
  echo "$((10#${d:-0}))"
}

# A rank process of the run in $1 (not mpirun), at random.
a_rank_of() { pgrep -f -- "^$bin .*run.dir=$1( |$)" | shuf -n 1; }

# same_files NAME DIR_A DIR_B FILE...: byte-identical files in both run directories.
same_files() {
  local name="$1" a="$2" b="$3"
  shift 3
  for f in "$@"; do
    if ! cmp -s "$a/$f" "$b/$f"; then problem "$name: $f differs from the uninterrupted run's"; return; fi
  done
  echo "ok   $name: ${*} identical to the uninterrupted run's"
}

# The dataset, a trained retriever and its candidates, shared by every run of a script.
prepare_inputs() {
  np2 preprocess -c "$tmp/tiny.toml" --set run.dir="$tmp/inputs" >"$tmp/prepare.log" 2>&1 &&
    np2 train-retriever -c "$tmp/tiny.toml" --set run.dir="$tmp/inputs" >>"$tmp/prepare.log" 2>&1 &&
    np2 retrieve -c "$tmp/tiny.toml" --set run.dir="$tmp/inputs" >>"$tmp/prepare.log" 2>&1 ||
    { echo "FAIL preparing the inputs:"; tail -20 "$tmp/prepare.log"; exit 1; }
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}

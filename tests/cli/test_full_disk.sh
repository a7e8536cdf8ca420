#!/usr/bin/env bash
# A full disk and a read-only run directory, on small tmpfs mounts: every writing stage must fail
# with a message that names the file and the system's reason, leave no temporary file behind, and
# keep what an earlier run wrote byte for byte. Needs to mount tmpfs (root with CAP_SYS_ADMIN, as in
# CI's containers); says so and passes elsewhere. Args: the llamarec binary, the source tree.
set -uo pipefail
bin="$1"
root="$2"
source "$root/tests/cli/np2_common.sh"
mounts=()
mount_tmpfs() {  # DIR SIZE [OPTIONS]
  mkdir -p "$1" && mount -t tmpfs -o "size=$2${3:+,$3}" tmpfs "$1" 2>/dev/null && mounts+=("$1")
}
trap 'for m in "${mounts[@]}"; do umount "$m" 2>/dev/null; done; pkill -9 -f -- "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
if ! mount_tmpfs "$tmp/probe" 16k; then
  echo "skip: cannot mount tmpfs here (needs root with CAP_SYS_ADMIN)"
  exit 0
fi

# fails NAME REGEX DIR COMMAND...: non-zero exit, a line matching REGEX, no *.tmp / *.new under DIR.
fails() {
  local name="$1" regex="$2" dir="$3"
  shift 3
  local out
  if out="$(timeout 120 "$@" 2>&1)"; then problem "$name: exited 0"; return; fi
  local line
  line="$(grep -m1 -E -- "$regex" <<<"$out")"
  if [ -z "$line" ]; then problem "$name: no line matches /$regex/"; echo "$out" | grep -iE 'error' | tail -3; return; fi
  if grep -q -E "Segmentation fault|terminate called|HDF5-DIAG|Exception raised from" <<<"$out"; then
    problem "$name: crashed or leaked a library's message"; echo "$out" | grep -E "Segmentation|terminate|DIAG|Exception" | head -3
    return
  fi
  local leftovers
  leftovers="$(find "$dir" -name '*.tmp' -o -name '*.new' 2>/dev/null)"
  if [ -n "$leftovers" ]; then problem "$name: left $leftovers"; return; fi
  echo "ok   $name | ${line#llamarec: }"
}

prepare_inputs
cfg="$tmp/tiny.toml"
in="$tmp/inputs"
nospace="No space left on device"

mount_tmpfs "$tmp/full1" 40k
fails "preprocess on a full disk" "dataset.h5.*$nospace" "$tmp/full1" \
  "$bin" preprocess -c "$cfg" --set run.dir="$tmp/full1/run" --set data.dataset=dataset.h5
[ -e "$tmp/full1/run/dataset.h5" ] && problem "preprocess on a full disk: left dataset.h5"

mount_tmpfs "$tmp/full2" 64k
fails "train-retriever on a full disk" "$nospace" "$tmp/full2" \
  "${np2_command[@]}" train-retriever -c "$cfg" --set run.dir="$tmp/full2/run" --set data.dataset="$tmp/dataset.h5" \
  --set retriever.max_steps=50
[ -e "$tmp/full2/run/retriever.safetensors" ] && problem "train-retriever on a full disk: left a checkpoint"

# An earlier run's candidates survive a retrieval that runs out of space while replacing them.
size_kb=$((($(stat -c %s "$tmp/candidates.h5") + 1023) / 1024))
mount_tmpfs "$tmp/full3" "$((size_kb + 8))k"
cp "$tmp/candidates.h5" "$tmp/full3/candidates.h5"
fails "retrieve over earlier candidates on a full disk" "candidates.h5.*$nospace" "$tmp/full3" \
  "${np2_command[@]}" retrieve -c "$cfg" --set run.dir="$in" --set retrieval.candidates="$tmp/full3/candidates.h5"
cmp -s "$tmp/candidates.h5" "$tmp/full3/candidates.h5" || problem "retrieve on a full disk: the earlier candidates changed"

mount_tmpfs "$tmp/ro" 64k ro
fails "preprocess into a read-only run directory" "$tmp/ro.*Read-only file system" "$tmp/ro" \
  "$bin" preprocess -c "$cfg" --set run.dir="$tmp/ro" --set data.dataset=dataset.h5
fails "train-retriever into a read-only run directory" "$tmp/ro.*Read-only file system" "$tmp/ro" \
  "${np2_command[@]}" train-retriever -c "$cfg" --set run.dir="$tmp/ro" --set data.dataset="$tmp/dataset.h5"
finish

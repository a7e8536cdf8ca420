#!/usr/bin/env bash
# A failing rank ends the whole 2-rank job within seconds, with that rank's message, in every stage
# that runs on several ranks: one rank throws (or is killed, or its loss turns non-finite) at a
# chosen point through --inject-fault. A hang shows as the time limit. Args: the llamarec binary,
# the source tree.
set -uo pipefail
bin="$1"
root="$2"
source "$root/tests/cli/np2_common.sh"
limit=60   # a job that is still there after this is hung
quick=20   # what "within seconds" means here, startup and the steps before the fault included

# fails NAME REGEX STAGE ARGS...: the job exits non-zero within $quick s and its output matches.
fails() {
  local name="$1" regex="$2" stage="$3"
  shift 3
  SECONDS=0
  local out rc
  out="$(timeout "$limit" "${np2_command[@]}" "$stage" -c "$tmp/tiny.toml" "$@" 2>&1)"
  rc=$?
  local took=$SECONDS
  if [ "$rc" -eq 124 ]; then problem "$name: still running after ${limit}s (hung)"; return; fi
  if [ "$rc" -eq 0 ]; then problem "$name: exited 0"; return; fi
  if ! grep -q -E -- "$regex" <<<"$out"; then
    problem "$name: output does not match /$regex/"
    echo "$out" | tail -15
    return
  fi
  if [ "$took" -gt "$quick" ]; then problem "$name: took ${took}s (more than ${quick}s)"; return; fi
  echo "ok   $name: exit $rc after ${took}s: $(grep -m1 -o -E -- "$regex" <<<"$out")"
}

prepare_inputs
fails "train-retriever, rank 1 throws" "error \(rank 1\): injected fault at step 30 on rank 1" \
  train-retriever --set run.dir="$tmp/a" --inject-fault "throw@step=30,rank=1"
fails "train-retriever, rank 1 killed" "signal 9|killed|Killed" \
  train-retriever --set run.dir="$tmp/b" --inject-fault "kill@step=30,rank=1"
fails "train-retriever, rank 1 throws in validation" "error \(rank 1\): injected fault at batch 0 on rank 1" \
  train-retriever --set run.dir="$tmp/c" --inject-fault "throw@batch=0,rank=1"
fails "train-retriever, rank 1's loss is NaN from step 10: both ranks stop together" \
  "error \(rank [01]\): retriever training: 3 steps in a row \(steps 10-12\)" \
  train-retriever --set run.dir="$tmp/d" --set retriever.max_bad_steps=3 --inject-fault "nan@step=10-1000,rank=1"
fails "retrieve, rank 1 throws" "error \(rank 1\): injected fault at batch 0 on rank 1" \
  retrieve --set run.dir="$tmp/inputs" --set retrieval.candidates="$tmp/e.h5" --inject-fault "throw@batch=0,rank=1"
fails "evaluate-retriever, rank 0 throws" "error \(rank 0\): injected fault at batch 0 on rank 0" \
  evaluate-retriever --set run.dir="$tmp/inputs" --set eval.metrics="$tmp/f.json" --inject-fault "throw@batch=0,rank=0"
fails "train-ranker, rank 1 throws" "error \(rank 1\): injected fault at step 3 on rank 1" \
  train-ranker --set run.dir="$tmp/g" --inject-fault "throw@step=3,rank=1"
fails "train-ranker, rank 0 killed" "signal 9|killed|Killed" \
  train-ranker --set run.dir="$tmp/h" --inject-fault "kill@step=3,rank=0"
np2 train-ranker -c "$tmp/tiny.toml" --set run.dir="$tmp/inputs" --set ranker.max_steps=2 >"$tmp/ranker.log" 2>&1 ||
  { problem "training the ranker for evaluate-ranker"; tail -20 "$tmp/ranker.log"; }
fails "evaluate-ranker, rank 1 throws" "error \(rank 1\): injected fault at batch 1 on rank 1" \
  evaluate-ranker --set run.dir="$tmp/inputs" --set eval.metrics="$tmp/i.json" --inject-fault "throw@batch=1,rank=1"
finish

#!/usr/bin/env bash
# Kill-anywhere resume, as an operator meets it: a 2-rank training is killed with SIGKILL at random
# moments, and once in the middle of a checkpoint write, restarted after each kill, and must end
# with byte-identical files to an uninterrupted run with the same seed: the best model and the
# last training state (parameters, optimizer moments, every rank's generator). The retriever, and the
# ranker on the built-in tiny Llama; then the ranker with fsdp.prefetch on, which must give the same
# bytes as well. Args: the llamarec binary, the source tree.
set -uo pipefail
bin="$1"
root="$2"
source "$root/tests/cli/np2_common.sh"
kills="${KILLS:-4}"

# kill_and_resume NAME STAGE STATE INTERVAL FILES...: the uninterrupted run, then one killed $kills
# times at random moments (and once inside a checkpoint write) and restarted each time; the same
# end. INTERVAL: the config's checkpoint_interval.
kill_and_resume() {
  local name="$1" stage="$2" state="$3" interval="$4"
  shift 4
  local ref="$tmp/$name-ref" run="$tmp/$name-killed"
  SECONDS=0
  np2 "$stage" -c "$tmp/tiny.toml" --set run.dir="$ref" >"$tmp/$name-ref.log" 2>&1 ||
    { problem "$name: the uninterrupted run failed"; tail -20 "$tmp/$name-ref.log"; return; }
  local duration=$SECONDS steps=()
  for k in $(seq 1 "$kills"); do
    local before target
    before="$(newest_step "$run/$state")"
    target=$((before + interval * (1 + RANDOM % 2)))
    np2 "$stage" -c "$tmp/tiny.toml" --set run.dir="$run" >"$tmp/$name-kill$k.log" 2>&1 &
    local launcher=$!
    # Once it has saved a few more states, at a random moment between two of them.
    while kill -0 "$launcher" 2>/dev/null && [ "$(newest_step "$run/$state")" -lt "$target" ]; do sleep 0.02; done
    sleep "0.$((RANDOM % 3))$((RANDOM % 10))"
    local victim
    victim="$(a_rank_of "$run")"
    if [ -n "$victim" ]; then kill -9 "$victim"; fi
    wait "$launcher" && { problem "$name: run $k ended before its kill"; continue; }
    steps+=("$(newest_step "$run/$state")")
  done
  # A kill inside the checkpoint write of the last saved step: its files are written, not committed.
  local inside
  inside="$(newest_step "$run/$state")"
  inside=$((inside + interval - inside % interval))
  np2 "$stage" -c "$tmp/tiny.toml" --set run.dir="$run" --inject-fault "kill@checkpoint=$inside,rank=0" \
    >"$tmp/$name-kill-in-write.log" 2>&1 && problem "$name: the run with a kill inside a checkpoint write succeeded"
  np2 "$stage" -c "$tmp/tiny.toml" --set run.dir="$run" >"$tmp/$name-final.log" 2>&1 ||
    { problem "$name: the resumed run failed"; tail -20 "$tmp/$name-final.log"; return; }
  local resumed_at
  resumed_at="$(grep -o 'resuming [a-z]* training at step [0-9]*' "$tmp/$name-final.log" | grep -o '[0-9]*$')"
  echo "note $name: uninterrupted run ${duration}s; $kills SIGKILLs, after which the newest states were steps ${steps[*]:-none}; a kill inside the write of step $inside; the final run resumed at step ${resumed_at:-none}"
  [ -n "$resumed_at" ] || problem "$name: the final run did not resume"
  local last_ref last_run
  last_ref="$state/$(ls "$ref/$state" | sort | tail -1)"
  last_run="$state/$(ls "$run/$state" | sort | tail -1)"
  [ "$last_ref" = "$last_run" ] || problem "$name: last states differ: $last_ref vs $last_run"
  same_files "$name" "$ref" "$run" "$@" "$last_ref/parameters.safetensors" "$last_ref/optimizer.safetensors" \
    "$last_ref/generators.safetensors"
}

prepare_inputs
kill_and_resume retriever train-retriever retriever.safetensors.state 25 retriever.safetensors
kill_and_resume ranker train-ranker ranker_adapter.state 3 ranker_adapter/adapter_model.safetensors

# fsdp.prefetch changes when each layer's all-gather starts, nothing else: the same bytes as the
# uninterrupted ranker run.
if np2 train-ranker -c "$tmp/tiny.toml" --set run.dir="$tmp/ranker-prefetch" --set fsdp.prefetch=true \
  >"$tmp/ranker-prefetch.log" 2>&1; then
  last="ranker_adapter.state/$(ls "$tmp/ranker-ref/ranker_adapter.state" | sort | tail -1)"
  same_files "ranker with fsdp.prefetch = true" "$tmp/ranker-ref" "$tmp/ranker-prefetch" \
    ranker_adapter/adapter_model.safetensors "$last/parameters.safetensors" "$last/optimizer.safetensors"
else
  problem "ranker with fsdp.prefetch = true failed"
  tail -20 "$tmp/ranker-prefetch.log"
fi
finish

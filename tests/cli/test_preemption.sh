#!/usr/bin/env bash
# Preemption, as Slurm delivers it: a 2-rank training gets SIGUSR1 through mpirun (sbatch's warning
# signal, forwarded) or SIGTERM on one rank only (preemption, scancel) at a random step. Every rank
# must stop after the same step, save the state of exactly that step, and exit 75 (requeue); the same
# command then resumes there and ends with byte-identical files to an uninterrupted run. `llamarec
# run` stops the same way and goes on with the remaining stages when started again. Args: the
# llamarec binary, the source tree.
set -uo pipefail
bin="$1"
root="$2"
source "$root/tests/cli/np2_common.sh"

# preempt NAME STAGE STATE HOW FILES...: HOW is usr1-mpirun or term-rank.
preempt() {
  local name="$1" stage="$2" state="$3" how="$4"
  shift 4
  local ref="$tmp/$name-ref" run="$tmp/$name-$how"
  if [ ! -d "$ref" ]; then
    np2 "$stage" -c "$tmp/tiny.toml" --set run.dir="$ref" >"$tmp/$name-ref.log" 2>&1 ||
      { problem "$name: the uninterrupted run failed"; tail -20 "$tmp/$name-ref.log"; return; }
  fi
  # Started without a function in between, so that $! is mpirun itself (env and bash exec it).
  "${np2_command[@]}" "$stage" -c "$tmp/tiny.toml" --set run.dir="$run" >"$tmp/$name-$how.log" 2>&1 &
  local launcher=$!
  # After its first saved state, at a random moment.
  while kill -0 "$launcher" 2>/dev/null && [ "$(newest_step "$run/$state")" -eq 0 ]; do sleep 0.02; done
  sleep "0.$((RANDOM % 4))$((RANDOM % 10))"
  case "$how" in
    usr1-mpirun) kill -USR1 "$launcher" ;;
    term-rank) kill -TERM "$(a_rank_of "$run")" ;;
  esac
  wait "$launcher"
  local rc=$?
  [ "$rc" -eq 75 ] || { problem "$name ($how): exit $rc, not 75"; tail -20 "$tmp/$name-$how.log"; return; }
  local stopped
  stopped="$(grep -o 'stopped after step [0-9]*' "$tmp/$name-$how.log" | head -1 | grep -o '[0-9]*$')"
  [ -n "$stopped" ] || { problem "$name ($how): no 'stopped after step' line"; return; }
  [ "$(grep -c 'stopping after step '"$stopped"' on request (2 of 2 ranks\|stopping after step '"$stopped"' on request (1 of 2 ranks' "$tmp/$name-$how.log")" -ge 2 ] ||
    problem "$name ($how): not every rank stopped after step $stopped"
  [ "$(newest_step "$run/$state")" -eq "$stopped" ] ||
    problem "$name ($how): newest state is step $(newest_step "$run/$state"), not the stopped step $stopped"
  np2 "$stage" -c "$tmp/tiny.toml" --set run.dir="$run" >"$tmp/$name-$how-resumed.log" 2>&1 ||
    { problem "$name ($how): the resumed run failed"; tail -20 "$tmp/$name-$how-resumed.log"; return; }
  grep -q "resuming [a-z]* training at step $stopped " "$tmp/$name-$how-resumed.log" ||
    problem "$name ($how): did not resume at step $stopped"
  echo "note $name ($how): stopped after step $stopped (exit 75), resumed there"
  local last
  last="$state/$(ls "$ref/$state" | sort | tail -1)"
  same_files "$name ($how)" "$ref" "$run" "$@" "$last/parameters.safetensors" "$last/optimizer.safetensors" \
    "$last/generators.safetensors"
}

prepare_inputs
for how in usr1-mpirun term-rank; do
  preempt retriever train-retriever retriever.safetensors.state "$how" retriever.safetensors
  preempt ranker train-ranker ranker_adapter.state "$how" ranker_adapter/adapter_model.safetensors
done

# `llamarec run`: stopped inside train-retriever, then started again: it resumes the training and
# runs the stages after it.
stages=preprocess,train-retriever,retrieve,evaluate-retriever
"${np2_command[@]}" run -c "$tmp/tiny.toml" --set run.dir="$tmp/pipeline" --set data.dataset=dataset.h5 \
  --stages "$stages" >"$tmp/pipeline.log" 2>&1 &
launcher=$!
while kill -0 "$launcher" 2>/dev/null && [ "$(newest_step "$tmp/pipeline/retriever.safetensors.state")" -eq 0 ]; do
  sleep 0.02
done
kill -USR1 "$launcher"
wait "$launcher"
rc=$?
if [ "$rc" -ne 75 ]; then
  problem "run: exit $rc after SIGUSR1, not 75"; tail -20 "$tmp/pipeline.log"
elif [ -e "$tmp/pipeline/.done/train-retriever" ]; then
  problem "run: train-retriever marked done although it was stopped"
else
  np2 run -c "$tmp/tiny.toml" --set run.dir="$tmp/pipeline" --set data.dataset=dataset.h5 --stages "$stages" \
    >"$tmp/pipeline-resumed.log" 2>&1 || { problem "run: the resumed run failed"; tail -20 "$tmp/pipeline-resumed.log"; }
  if grep -q "preprocess: done before, skipped" "$tmp/pipeline-resumed.log" &&
    grep -q "resuming retriever training at step" "$tmp/pipeline-resumed.log" &&
    [ -e "$tmp/pipeline/.done/evaluate-retriever" ]; then
    echo "ok   run: stopped in train-retriever (exit 75); started again, it skipped preprocess, resumed the training and ran the rest"
  else
    problem "run: the second run did not skip, resume and finish"; tail -20 "$tmp/pipeline-resumed.log"
  fi
fi
finish

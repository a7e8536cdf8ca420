#!/usr/bin/env bash
# The benchmark programs run end to end on the tiny synthetic job, on 1 and 2 ranks, and write rows
# whose figures agree with each other (figures, not speeds: no timing is asserted). Args: the
# llamarec binary, the source tree, the folder of the bench_* programs.
set -uo pipefail
# shellcheck disable=SC2034 # read by np2_common.sh
bin="$1"
root="$2"
benches="$3"
source "$root/tests/cli/np2_common.sh"
prepare_inputs
run_dir=(run.dir="$tmp/inputs")

# bench NAME LOG COMMAND...: exit status 0, else the log's tail.
bench() {
  local name="$1" log="$2"
  shift 2
  if timeout 300 "$@" >"$log" 2>&1; then echo "ok   $name"; else problem "$name: exit status $?"; tail -5 "$log"; fi
}

bench "bench_ranker_scoring, 1 rank" "$tmp/scoring1.log" "$benches/bench_ranker_scoring" "$tmp/tiny.toml" \
  "$tmp/scoring.json" "${run_dir[@]}" ranker.val_users=12 ranker.eval_batch_size=4
bench "bench_ranker_scoring, 2 ranks" "$tmp/scoring2.log" env LLAMAREC_BIN="$benches/bench_ranker_scoring" \
  bash "$root/launch/mpirun.sh" 2 \
  "$tmp/tiny.toml" "$tmp/scoring.json" "${run_dir[@]}" ranker.val_users=12 ranker.eval_batch_size=4
# Its scratch run directory goes under TMPDIR: not the one a benchmark running beside the tests uses.
bench "bench_retriever_train" "$tmp/retriever.log" env TMPDIR="$tmp" "$benches/bench_retriever_train" "$tmp/dataset.h5" \
  "$tmp/retriever.json" retriever.max_steps=10 retriever.max_len=30 retriever.hidden=32 retriever.num_blocks=1
if ! python3 - "$tmp/scoring.json" "$tmp/retriever.json" <<'PY'; then problem "the rows' figures (above)"; fi
import json, sys
rows = {r["ranks"]: r for r in json.load(open(sys.argv[1]))["runs"]}
assert sorted(rows) == [1, 2], f"rows for ranks {sorted(rows)}, expected 1 and 2"
for ranks, r in rows.items():
    # 12 users, 4 a batch on each rank: 3 forwards on 1 rank; 6 users a rank, so 2, on 2.
    assert r["users"] == 12 and r["batch"] == 4, r
    assert r["seconds"] > 0 and abs(r["users_per_second"] * r["seconds"] - 12) < 1e-6, r
    assert abs(r["seconds_per_batch"] * (3 if ranks == 1 else 2) - r["seconds"]) < 1e-9, r
    assert 20 < r["mean_prompt_tokens"] <= 256, r
    for key in ("machine", "commit", "date", "device", "dtype"):
        assert r.get(key), f"no {key}: {r}"
row = json.load(open(sys.argv[2]))["runs"][-1]
assert row["ranks"] == 1 and row["seconds_per_iteration"] > 0, row
print("ok   rows: 12 users on 1 and 2 ranks, a batch's latency; the retriever's iteration time")
PY
finish

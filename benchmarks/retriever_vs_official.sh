#!/usr/bin/env bash
# LRURec training speed side by side with the official LlamaRec code, in one run on one machine:
# ml-latest-small, batch 16, max_len 200, one thread each. The official code runs where it is
# installed (LLAMAREC_OFFICIAL=/path/to/a LlamaRec checkout, and a python that imports torch: PYTHON,
# default python3; transformers is not needed); without LLAMAREC_OFFICIAL it says so and compares
# against 0.32 s/iteration, an earlier session's figure on its machine and torch build.
# Ours runs through bench_retriever_train on 1 and 2 ranks. Writes
# benchmarks/results/retriever_vs_official.json.
#   RATINGS=path/to/ml-latest-small bash benchmarks/retriever_vs_official.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${BUILD_DIR:-$root/build}"
data="${RATINGS:-$root/../shared/data/ml-latest-small}"
iterations="${ITERATIONS:-300}"
out="${OUT_JSON:-$root/benchmarks/results/retriever_vs_official.json}"
python="${PYTHON:-python3}"
[ -f "$data/ratings.csv" ] || { echo "no $data/ratings.csv (set RATINGS to an ml-latest-small folder)"; exit 1; }
export OMP_NUM_THREADS=1 OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
tmp="$(mktemp -d)"
trap 'rm -rf "$tmp"' EXIT

official="null"
if [ -n "${LLAMAREC_OFFICIAL:-}" ]; then
  # Asked for: a missing checkout or torch is an error, not a silent fallback to the old figure.
  [ -f "$LLAMAREC_OFFICIAL/model/lru.py" ] || { echo "LLAMAREC_OFFICIAL=$LLAMAREC_OFFICIAL has no model/lru.py"; exit 1; }
  "$python" -c 'import torch' 2>/dev/null || { echo "$python cannot import torch (set PYTHON to one that can)"; exit 1; }
  echo "official: $LLAMAREC_OFFICIAL, $iterations iterations"
  official="$("$python" "$root/benchmarks/support/official_lru_iteration.py" "$LLAMAREC_OFFICIAL" "$data/ratings.csv" "$iterations" |
    tail -n 1)"
  "$python" -c 'import json, sys; json.loads(sys.argv[1])["seconds_per_iteration"]' "$official" ||
    { echo "the official run printed no result: $official"; exit 1; }
else
  echo "official LlamaRec not given (LLAMAREC_OFFICIAL unset); comparing against 0.32 s/iteration"
fi

"$build/llamarec" preprocess -c "$root/configs/ml-100k.toml" --set data.input="$data" --set run.dir="$tmp" >/dev/null 2>&1
# 1 and 2 ranks alternately, REPEATS times (this machine's timings vary by ±10 % from run to run).
for ((r = 1; r <= ${REPEATS:-3}; r++)); do
  "$build/benchmarks/bench_retriever_train" "$tmp/dataset.h5" "$tmp/ours-$r.json" retriever.max_steps="$iterations" \
    >>"$tmp/log" 2>&1
  mpirun -np 2 "$build/benchmarks/bench_retriever_train" "$tmp/dataset.h5" "$tmp/ours-$r.json" \
    retriever.max_steps="$iterations" >>"$tmp/log" 2>&1
done

"$python" - "$tmp" "$official" "$out" "$root" <<'PY'
import datetime, glob, json, os, statistics, subprocess, sys
runs = [r for f in sorted(glob.glob(sys.argv[1] + "/ours-*.json")) for r in json.load(open(f))["runs"]]
every = {n: [r["seconds_per_iteration"] for r in runs if r["ranks"] == n] for n in (1, 2)}
ours = {n: statistics.median(v) for n, v in every.items()}
official = json.loads(sys.argv[2])
ref = official["seconds_per_iteration"] if official else 0.32
cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "unknown")
commit = subprocess.run(["git", "-C", sys.argv[4], "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
result = {"machine": f"{cpu} x {os.cpu_count()}", "commit": commit or "unknown",
          "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d"),
          "official": official, "official_seconds_per_iteration": ref, "official_measured_now": bool(official),
          "ours_seconds_per_iteration_median": ours, "ours_seconds_per_iteration_every_run": every, "speedup_1_rank": ref / ours[1], "speedup_2_ranks": ref / ours[2],
          "efficiency_2_ranks": ours[1] / (2 * ours[2])}
print(f"official {ref:.4f} s/it ({'measured now' if official else 'recorded'}); ours (median of {len(every[1])}) 1 rank {ours[1]:.4f} s/it "
      f"({ref / ours[1]:.2f}x), 2 ranks {ours[2]:.4f} s/it ({ref / ours[2]:.2f}x, efficiency "
      f"{100 * ours[1] / (2 * ours[2]):.0f} %)")
with open(sys.argv[3] + ".tmp", "w") as f:
    json.dump(result, f, indent=2)
os.replace(sys.argv[3] + ".tmp", sys.argv[3])
print("wrote", sys.argv[3])
PY

#!/usr/bin/env bash
# LRURec accuracy runs on a real dataset (opt-in, long): one training per (dropout, weight decay,
# seed) on RANKS ranks (default 1; more go through launch/mpirun.sh), JOBS at a time (default 2 at
# one rank, 1 otherwise), each followed by the exact test evaluation. Prints one line per run, then
# the mean and standard error over the seeds of each (dropout, weight decay), and writes
# benchmarks/results/retriever_grid_<name>.json (every run with its validation curve, and the summary).
#   DATASET=runs/ml-100k/dataset.h5 CONFIG=configs/ml-100k.toml DROPOUTS="0.2 0.3" SEEDS="42 43 44" \
#     bash benchmarks/retriever_grid.sh
#   RANKS=2 NAME=ml-100k-np2 EXTRA="--set retriever.average_decay=0.999" ... bash benchmarks/retriever_grid.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LLAMAREC_BIN:-$root/build/llamarec}"
config="${CONFIG:-$root/configs/ml-100k.toml}"
dataset="$(realpath "${DATASET:?set DATASET to a preprocessed dataset.h5}")"
name="${NAME:-$(basename "$config" .toml)}"
out_dir="${OUT_DIR:-$root/runs/grid-$name}"
ranks="${RANKS:-1}"
jobs="${JOBS:-$([ "$ranks" -eq 1 ] && echo 2 || echo 1)}"
mkdir -p "$out_dir" "$root/benchmarks/results"
runs=()
for d in ${DROPOUTS:-0.2}; do for wd in ${WEIGHT_DECAYS:-0.01}; do for s in ${SEEDS:-42}; do
  runs+=("$d $wd $s")
done; done; done
# Run through xargs (bash -c), one process per run; returns 1 when the run failed.
# shellcheck disable=SC2317
one() {
  read -r d wd s <<<"$1"
  local dir="$out_dir/d${d}_wd${wd}_s${s}"
  local sets=(--set "run.dir=$dir" --set "data.dataset=$dataset" --set "retriever.dropout=$d"
              --set "retriever.attn_dropout=$d" --set "retriever.weight_decay=$wd" --set "run.seed=$s"
              --set run.threads=1)
  # EXTRA: more overrides, e.g. EXTRA="--set retriever.patience=5"
  # shellcheck disable=SC2206
  sets+=(${EXTRA:-})
  local start=$SECONDS launcher=("$bin")
  [ "$ranks" -eq 1 ] || launcher=(env LLAMAREC_BIN="$bin" bash "$root/launch/mpirun.sh" "$ranks")
  if ! { "${launcher[@]}" train-retriever -c "$config" "${sets[@]}" && \
         "${launcher[@]}" evaluate-retriever -c "$config" "${sets[@]}"; } > "$dir.log" 2>&1; then
    echo "dropout $d wd $wd seed $s: FAILED, see $dir.log"
    return 1
  fi
  echo "dropout $d wd $wd seed $s: $(grep 'retriever test' "$dir.log" | tail -1 | sed 's/.*retriever test *//') ($((SECONDS - start)) s)"
}
export -f one
export root bin config dataset out_dir EXTRA ranks
# A failed run is reported and left out of the summary; the others still count.
failed=0
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'one "{}"' || failed=1
python3 - "$out_dir" "$root/benchmarks/results/retriever_grid_$name.json" "${config#"$root"/}" "${EXTRA:-}" <<'PY'
import json, math, pathlib, re, statistics, sys
runs, groups = [], {}
for m in sorted(pathlib.Path(sys.argv[1]).glob("*/metrics.json")):
    d = json.loads(m.read_text()).get("retriever", {})
    if "test" not in d:
        print(f"{m.parent.name}: no test metrics (training or evaluation did not finish); left out")
        continue
    curve = json.loads((m.parent / "retriever.safetensors.curve.json").read_text())
    metric = curve["selection_metric"]
    runs.append({"run": m.parent.name, "ranks": curve["ranks"], "selection_metric": metric,
                 "best_step": curve["best_step"], "best_val": curve["best_" + metric], "test": d["test"],
                 "val": d["val"], "curve": curve["curve"]})
    groups.setdefault(re.sub(r"_s\d+$", "", m.parent.name), []).append(runs[-1])
summary = []
for group, rs in groups.items():
    row = {"runs": group, "seeds": len(rs), "ranks": sorted({r["ranks"] for r in rs})}
    for key in ("Recall@10", "NDCG@10", "MRR@10"):
        xs = [r["test"][key] for r in rs]
        se = statistics.stdev(xs) / math.sqrt(len(xs)) if len(xs) > 1 else float("nan")
        row[key] = {"mean": statistics.mean(xs), "se": se}
    summary.append(row)
    print(f"{group} ({len(rs)} seeds, ranks {row['ranks']}): test " +
          " ".join(f"{k} {row[k]['mean']:.4f} ± {row[k]['se']:.4f}" for k in ("Recall@10", "NDCG@10", "MRR@10")))
out = {"config": sys.argv[3], "extra": sys.argv[4], "summary": summary, "runs": runs}
pathlib.Path(sys.argv[2]).write_text(json.dumps(out, indent=1) + "\n")
print("wrote", sys.argv[2])
PY
exit "$failed"

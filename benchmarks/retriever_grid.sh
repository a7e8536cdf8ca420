#!/usr/bin/env bash
# LRURec accuracy runs on a real dataset (opt-in, long): one single-rank training per
# (dropout, weight decay, seed), JOBS at a time, each followed by the exact test evaluation.
# Prints one line per run and writes benchmarks/results/retriever_grid_<name>.json.
#   DATASET=runs/ml-100k/dataset.h5 CONFIG=configs/ml-100k.toml DROPOUTS="0.2 0.3" SEEDS="42 43 44" \
#     bash benchmarks/retriever_grid.sh
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
bin="${LLAMAREC_BIN:-$root/build/llamarec}"
config="${CONFIG:-$root/configs/ml-100k.toml}"
dataset="$(realpath "${DATASET:?set DATASET to a preprocessed dataset.h5}")"
name="${NAME:-$(basename "$config" .toml)}"
out_dir="${OUT_DIR:-$root/runs/grid-$name}"
jobs="${JOBS:-2}"
mkdir -p "$out_dir" "$root/benchmarks/results"
runs=()
for d in ${DROPOUTS:-0.2}; do for wd in ${WEIGHT_DECAYS:-0.01}; do for s in ${SEEDS:-42}; do
  runs+=("$d $wd $s")
done; done; done
one() {
  read -r d wd s <<<"$1"
  local dir="$out_dir/d${d}_wd${wd}_s${s}"
  local sets=(--set "run.dir=$dir" --set "data.dataset=$dataset" --set "retriever.dropout=$d"
              --set "retriever.attn_dropout=$d" --set "retriever.weight_decay=$wd" --set "run.seed=$s"
              --set run.threads=1)
  # EXTRA: more overrides, e.g. EXTRA="--set retriever.patience=5"
  # shellcheck disable=SC2206
  sets+=(${EXTRA:-})
  local start=$SECONDS
  "$bin" train-retriever -c "$config" "${sets[@]}" > "$dir.log" 2>&1
  "$bin" evaluate-retriever -c "$config" "${sets[@]}" >> "$dir.log" 2>&1
  echo "dropout $d wd $wd seed $s: $(grep 'retriever test' "$dir.log" | tail -1 | sed 's/.*retriever test *//') ($((SECONDS - start)) s)"
}
export -f one
export bin config dataset out_dir EXTRA
printf '%s\n' "${runs[@]}" | xargs -P "$jobs" -I{} bash -c 'one "{}"'
python3 - "$out_dir" "$root/benchmarks/results/retriever_grid_$name.json" <<'PY'
import json, pathlib, sys
out = []
for m in sorted(pathlib.Path(sys.argv[1]).glob("*/metrics.json")):
    d = json.loads(m.read_text())["retriever"]
    curve = json.loads((m.parent / "retriever.safetensors.curve.json").read_text())
    out.append({"run": m.parent.name, "test": d["test"], "val": d["val"], "best_step": curve["best_step"],
                "curve": curve["curve"]})
pathlib.Path(sys.argv[2]).write_text(json.dumps(out, indent=1) + "\n")
print("wrote", sys.argv[2])
PY

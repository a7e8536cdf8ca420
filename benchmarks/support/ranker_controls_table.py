#!/usr/bin/env python3
"""Summarises benchmarks/ranker_controls.sh: one row per adapter, the controls' subset NDCG@10 and
Recall@10 with standard errors, the retriever and random order on the same users, and the learning
curves (validation NDCG@10 by step). Usage: ranker_controls_table.py RUN_DIR OUT.json NAME..."""
import json
import os
import sys

CONTROLS = [("retriever_order", "retriever order"), ("shuffled", "shuffled"), ("permutations", "K permutations"),
            ("permutations_probability_mean", "K permutations, mean probability"),
            ("permutations_calibrated", "K permutations, calibrated"), ("fused", "fused with the retriever")]


def cell(block, metric):
    return {"mean": block["subset"][metric], "se": block["subset_se"][metric]}


def main():
    run_dir, out_path, names = sys.argv[1], sys.argv[2], sys.argv[3:]
    rows, curves = [], {}
    for name in names:
        with open(os.path.join(run_dir, "controls", name + ".metrics.json")) as f:
            ranker = json.load(f)["ranker"]
        row = {"adapter": name, "subset_users": ranker["subset_users"], "users": ranker["users"],
               "fusion_weight_on_val": ranker["method"]["fusion_weight_on_val"], "controls": {}}
        for key, _ in CONTROLS:
            if key in ranker["controls"]:
                row["controls"][key] = {m: cell(ranker["controls"][key], m) for m in ("NDCG@10", "Recall@10")}
        row["retriever"] = {m: ranker["retriever_subset"][m] for m in ("NDCG@10", "Recall@10")}
        row["random"] = {m: ranker["random_subset"][m] for m in ("NDCG@10", "Recall@10")}
        row["slot_profile_shuffled"] = ranker["slot_profile"]["shuffled"]
        rows.append(row)
        curve_path = os.path.join(run_dir, "controls", name + ".curve.json")
        if os.path.exists(curve_path):
            with open(curve_path) as f:
                curve = json.load(f)
            points = curve.get("curve", curve if isinstance(curve, list) else [])
            curves[name] = [{"step": p["step"], "train_loss": p.get("train_loss"), "NDCG@10": p.get("NDCG@10")}
                            for p in points]
    trained = [r for r in rows if not r["adapter"].endswith("untrained")]
    best = None
    for name in [r["adapter"] for r in trained]:
        scored = [p["NDCG@10"] for p in curves.get(name, [])[1:] if p["NDCG@10"] is not None]
        if scored and (best is None or max(scored) > best[1]):
            best = (name, max(scored))
    result = {"benchmark": "ranker_controls", "run_dir": run_dir, "rows": rows, "curves": curves,
              "chosen_on_validation": best[0] if best else None}
    tmp = out_path + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, out_path)

    first = rows[0]
    print(f"test users of the valid retrieval subset: {first['subset_users']} of {first['users']}")
    print("| adapter | " + " | ".join(label for _, label in CONTROLS) + " |")
    print("|---" * (len(CONTROLS) + 1) + "|")
    for r in rows:
        mark = " (chosen on val)" if best and r["adapter"] == best[0] else ""
        cells = []
        for key, _ in CONTROLS:
            c = r["controls"].get(key)
            cells.append("-" if c is None else "{:.4f} ± {:.4f} / {:.4f} ± {:.4f}".format(
                c["NDCG@10"]["mean"], c["NDCG@10"]["se"], c["Recall@10"]["mean"], c["Recall@10"]["se"]))
        print(f"| {r['adapter']}{mark} | " + " | ".join(cells) + " |")
    print("| LRURec (same users) | {:.4f} / {:.4f} |".format(first["retriever"]["NDCG@10"], first["retriever"]["Recall@10"]))
    print("| random order (expected) | {:.4f} / {:.4f} |".format(first["random"]["NDCG@10"], first["random"]["Recall@10"]))
    print("\nlearning curves, validation NDCG@10 (shuffled order) by step:")
    for name, points in curves.items():
        print(f"  {name}: " + ", ".join(f"{p['step']}: {p['NDCG@10']:.4f}" for p in points if p["NDCG@10"] is not None))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Scaling model for the sharded LoRA ranker step (distributed/fsdp_llama.h).

Predicts step time, MFU and memory per GPU for Llama-2-7B LoRA ranker training on 1-64 GPUs (8 per
node), without and with prefetch (the next unit's all-gather in flight while this one computes) and
with NF4 gathers, from:
  - the exact bytes per step of the sharding scheme, the ones bench_fsdp_step verifies: every decoder
    layer is gathered twice per step (forward; recompute and backward share one), the root unit
    (embedding, final norm, head) three times, each gather receiving (N-1)/N of the unit;
  - the compute of one step: forward + recompute + activation-gradient backward of the frozen base,
    3 x (2 x parameters + causal attention) FLOPs per token (the LM head runs on the 2 label
    positions only), at an assumed MFU of the bf16 GEMM peak until launch/device/check.sh has
    measured the per-layer time on a GPU (then pass --layer-ms);
  - the bandwidths below (ASSUMPTIONS), each with where it comes from.
Then it checks the same model against this machine: the 1-rank CPU step of bench_fsdp_step plus
its bytes at the all-gather bandwidth bench_communicator measured, against the 2- and 4-rank steps
measured (on 2 cores: ranks beyond the core count share them).

  python3 benchmarks/scaling_model.py [--fsdp benchmarks/results/fsdp_step.json]
      [--comm benchmarks/results/communicator.json] [--layer-ms MS] [--out benchmarks/results/scaling_model.json]
"""
import argparse
import json
import os

ASSUMPTIONS = {
    "gpu": "H100/H200 SXM",
    "bf16_dense_peak_tflops": 989.0,  # NVIDIA H100 SXM datasheet, dense bf16 (H200: the same compute)
    "mfu": 0.45,  # the target for this step; torchtune's 7B LoRA on a 4090 is ~44 %
    "nvlink_busbw_gbps": 360.0,  # NCCL all-gather bus bandwidth within an 8-GPU NVLink 4 node (nccl-tests
                                 # reports ~350-370 GB/s of the 450 GB/s per direction)
    "ib_busbw_gbps": 45.0,  # one 400 Gb/s NDR NIC per GPU (50 GB/s), ~90 % reached by NCCL rings across nodes
    "gather_latency_us": 30.0,  # per NCCL all-gather call, small-message latency at these scales
    "gpus_per_node": 8,
}

LLAMA2_7B = {"hidden": 4096, "intermediate": 11008, "layers": 32, "vocab": 32000, "heads": 32}
STEP = {"micro_batch": 16, "tokens_per_prompt": 700, "lora_r": 8, "lora_targets": 2}  # q, v


def layer_params(m):
    return 4 * m["hidden"] ** 2 + 3 * m["hidden"] * m["intermediate"]


def root_params(m):
    return 2 * m["vocab"] * m["hidden"] + m["hidden"]


def bytes_per_param(storage):
    # bf16: 2 bytes. nf4 (QLoRA, models/nf4.h): 4-bit codes, one int8 absmax per 64 values, an fp32
    # scale and an fp32 offset per 256 absmaxes (double quantization); the root unit and the norms
    # stay bf16 (QLoRA quantizes the linear layers only).
    return {"bf16": 2.0, "nf4": 0.5 + 1 / 64 + 8 / (64 * 256)}[storage]


def flops_per_token(m, seq):
    # 2 FLOPs per parameter per token per pass; causal attention QK^T and AV: 2 * 2 * seq/2 * hidden per
    # layer; three passes (forward, recompute, backward for activations only: the base is frozen).
    per_pass = m["layers"] * (2 * layer_params(m) + 2 * seq * m["hidden"])
    return 3 * per_pass


def lora_bytes(m, s):
    # fp32 LoRA A [r, d] and B [d, r] on q and v of every layer; gradient all-reduced in fp32.
    return m["layers"] * s["lora_targets"] * 2 * s["lora_r"] * m["hidden"] * 4


def busbw(n, a):
    if n <= 1:
        return float("inf")
    return a["nvlink_busbw_gbps"] if n <= a["gpus_per_node"] else a["ib_busbw_gbps"]


def gather_seconds(unit_bytes, n, a):
    if n <= 1:
        return 0.0
    return (n - 1) / n * unit_bytes / (busbw(n, a) * 1e9) + a["gather_latency_us"] * 1e-6


def predict(n, storage, prefetch, a, m=LLAMA2_7B, s=STEP, layer_ms=None):
    seq = s["tokens_per_prompt"]
    tokens = s["micro_batch"] * seq  # per GPU per step
    flops = flops_per_token(m, seq) * tokens
    rate = a["bf16_dense_peak_tflops"] * 1e12 * a["mfu"]
    compute = layer_ms * 1e-3 * m["layers"] if layer_ms else flops / rate
    # one third of a layer's compute in the forward, two thirds in recompute + backward
    per_layer = compute / m["layers"]
    phases = [per_layer / 3, 2 * per_layer / 3]
    layer_gather = gather_seconds(layer_params(m) * bytes_per_param(storage), n, a)
    root_gather = gather_seconds(root_params(m) * 2.0, n, a)
    lora = 0.0 if n <= 1 else 2 * (n - 1) / n * lora_bytes(m, s) / (busbw(n, a) * 1e9)
    if prefetch:
        # the first gather of each pass is exposed; the others hide behind the previous unit's compute
        exposed = 2 * layer_gather + 3 * root_gather
        for phase in phases:
            exposed += (m["layers"] - 1) * max(0.0, layer_gather - phase)
    else:
        exposed = 2 * m["layers"] * layer_gather + 3 * root_gather
    step = compute + exposed + lora
    base = (m["layers"] * layer_params(m) * bytes_per_param(storage) + root_params(m) * 2.0) / n
    # Gathered units in bf16 while they compute (one GPU holding a bf16 base gathers nothing; an
    # nf4 layer is always dequantized into a bf16 buffer, beside its gathered codes).
    layer_buffer = 0.0 if n <= 1 and storage == "bf16" else layer_params(m) * 2.0
    if storage == "nf4" and n > 1:
        layer_buffer += layer_params(m) * bytes_per_param("nf4")
    gathered = (2 if prefetch else 1) * layer_buffer + (0.0 if n <= 1 else root_params(m) * 2.0)
    activations = m["layers"] * tokens * m["hidden"] * 2.0  # checkpointed layer inputs, bf16
    working = tokens * (6 * m["hidden"] + 3 * m["intermediate"]) * 2.0  # one layer's recompute, bf16
    memory = base + gathered + activations + working + 3 * lora_bytes(m, s)
    return {"gpus": n, "storage": storage, "prefetch": prefetch, "step_s": step, "compute_s": compute,
            "exposed_comm_s": exposed, "tokens_per_s_per_gpu": tokens / step,
            "mfu": flops / step / (a["bf16_dense_peak_tflops"] * 1e12), "memory_gb": memory / 1e9,
            "base_gb": base / 1e9, "gathered_gb": gathered / 1e9,
            "layer_gather_ms": layer_gather * 1e3, "layer_compute_ms": per_layer * 1e3,
            "comm_hidden": layer_gather <= phases[0]}


# The random Llama of bench_fsdp_step (33.5M parameters, untied head, fp32 on CPU).
BENCH_MODEL = {"hidden": 512, "intermediate": 1376, "layers": 8, "vocab": 8000, "heads": 8}


def cpu_check(fsdp_path, comm_path, cores):
    """The same model against this machine's measured steps (float32, sharded), with and without prefetch."""
    if not (os.path.exists(fsdp_path) and os.path.exists(comm_path)):
        return None, "no %s or %s: run bench_fsdp_step (1, 2, 4 ranks) and bench_communicator first" % (fsdp_path, comm_path)
    runs = {(r["ranks"], r.get("prefetch", False)): r for r in json.load(open(fsdp_path))["runs"]
            if r.get("storage") == "float32" and r.get("compute") == "float32" and r.get("sharded", True)}
    comm = json.load(open(comm_path))
    row = next(r for r in comm["rows"] if r["case"].startswith("all_gather") and r["dtype"] == "float32")
    n_comm = comm["ranks"]
    # bytes each rank received in that all-gather / its time
    bw = (n_comm - 1) / n_comm * row["numel"] * 4 / (row["us_per_call_median"] * 1e-6)
    if (1, False) not in runs:
        return None, "no 1-rank row without prefetch in %s" % fsdp_path
    t1 = runs[(1, False)]["seconds_per_step"]
    m = BENCH_MODEL
    out = []
    for (n, prefetch), r in sorted(runs.items()):
        compute = t1 / min(n, cores)  # work splits over ranks; ranks beyond the cores share them
        slow = max(1.0, n / cores)
        layer_gather = (n - 1) / n * layer_params(m) * 4 / bw * slow
        root_gather = (n - 1) / n * root_params(m) * 4 / bw * slow
        comm_s = 2 * m["layers"] * layer_gather + 3 * root_gather
        if prefetch:
            # as predict(): each layer's gather behind the previous layer's forward (1/3 of its
            # compute) or backward (2/3); the first of each pass and the root's stay exposed
            per_layer = compute / m["layers"]
            comm_s = 2 * layer_gather + 3 * root_gather + sum(
                (m["layers"] - 1) * max(0.0, layer_gather - phase) for phase in (per_layer / 3, 2 * per_layer / 3))
        predicted = compute + comm_s
        out.append({"ranks": n, "prefetch": prefetch, "measured_s": r["seconds_per_step"], "predicted_s": predicted,
                    "error": predicted / r["seconds_per_step"] - 1,
                    "measured_exposed_s": r.get("exposed_seconds_per_step"), "predicted_exposed_s": comm_s,
                    "bytes_received": r["bytes_received_per_rank_per_step"]})
    return out, "all-gather %.2f GB/s received per rank (bench_communicator, %d ranks), %d cores" % (bw / 1e9, n_comm, cores)


def main():
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--fsdp", default="benchmarks/results/fsdp_step.json")
    p.add_argument("--comm", default="benchmarks/results/communicator.json")
    p.add_argument("--cores", type=int, default=os.cpu_count())
    p.add_argument("--layer-ms", type=float, default=None, help="measured compute of one layer's step on one GPU")
    p.add_argument("--out", default="benchmarks/results/scaling_model.json")
    args = p.parse_args()

    rows = [predict(n, storage, prefetch, ASSUMPTIONS, layer_ms=args.layer_ms)
            for n in (1, 2, 4, 8, 16, 32, 64) for storage in ("bf16", "nf4") for prefetch in (False, True)
            if not (storage == "nf4" and not prefetch)]
    print("Llama-2-7B LoRA ranker step, micro-batch %d x %d tokens per GPU, %s, MFU %.0f %% of %.0f TFLOPS bf16%s"
          % (STEP["micro_batch"], STEP["tokens_per_prompt"], ASSUMPTIONS["gpu"], 100 * ASSUMPTIONS["mfu"],
             ASSUMPTIONS["bf16_dense_peak_tflops"], " (layer time measured)" if args.layer_ms else " (assumed)"))
    print("%5s %-6s %-8s %9s %11s %10s %7s %9s %s" % ("GPUs", "base", "prefetch", "step s", "exposed s",
                                                      "tok/s/GPU", "MFU", "mem GB", "gather vs fwd compute per layer"))
    for r in rows:
        print("%5d %-6s %-8s %9.3f %11.3f %10.0f %6.1f%% %9.1f %.1f ms vs %.1f ms%s" % (
            r["gpus"], r["storage"], "on" if r["prefetch"] else "off", r["step_s"], r["exposed_comm_s"],
            r["tokens_per_s_per_gpu"], 100 * r["mfu"], r["memory_gb"], r["layer_gather_ms"],
            r["layer_compute_ms"] / 3, "" if r["comm_hidden"] or r["gpus"] == 1 else "  (not hidden)"))
    check, note = cpu_check(args.fsdp, args.comm, args.cores)
    print("\nCheck on this machine (33.5M random Llama, batch 4 x 256, fp32): %s" % note)
    if check:
        for c in check:
            exposed = c["measured_exposed_s"]
            print("  %d rank(s), prefetch %-3s: step measured %.3f s, predicted %.3f s (%+.0f %%); exposed "
                  "communication measured %s, predicted %.3f s" % (
                      c["ranks"], "on" if c["prefetch"] else "off", c["measured_s"], c["predicted_s"],
                      100 * c["error"], "%.3f s" % exposed if exposed is not None else "-", c["predicted_exposed_s"]))
    result = {"assumptions": ASSUMPTIONS, "model": LLAMA2_7B, "step": STEP, "layer_ms": args.layer_ms,
              "predictions": rows, "cpu_check": check, "cpu_check_note": note}
    tmp = args.out + ".tmp"
    with open(tmp, "w") as f:
        json.dump(result, f, indent=2)
    os.replace(tmp, args.out)
    print("wrote", args.out)


if __name__ == "__main__":
    main()

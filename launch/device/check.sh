#!/usr/bin/env bash
# The GPU bring-up in one run: build, CUDA tests, parity with transformers + PEFT, and a 7B-shaped
# LoRA throughput line. Made for the lent GPU machine (one H200 or H100, CUDA 13, python3 with torch
# 2.11, transformers and peft; no network, none of our Debian libraries), within its 10-minute call:
#   bash launch/device/check.sh            logs and summary.json into $OUT (else build-device/out)
# Before the call, here: bash launch/device/fetch_deps.sh (the Debian packages and the Llama 2
# tokenizer into .device-deps/, which the call carries). Steps, one "check: NAME: PASS|FAIL|SKIP"
# line each:
#   machine     the GPU (nvidia-smi) and python3's torch; without a CUDA torch and a GPU every CUDA
#               step is skipped and the rest runs on the CPU LibTorch (as on the development machine)
#   deps        .device-deps/*.deb unpacked into a prefix (launch/device/deps_env.sh), if present
#   build       configure (CUDA LibTorch from torch.utils.cmake_prefix_path, NCCL from CUDA or the
#               nvidia-nccl wheel) and `ninja -k 0` of the targets run below: every compile error at once
#   tests       test_distributed's NCCL, communicator and sharded-Llama tests (world size 1), test_models
#   pipeline    the synthetic pipeline up to train-ranker on a random HF Llama (GQA, untied head,
#               vocabulary 32,000 with the Llama 2 tokenizer) made by parity.py, 12 LoRA steps
#   parity      launch/device/parity.py compare: our letter logits and loss (llamarec score) against
#               transformers + PEFT, fp32 and bf16, our adapter into PEFT and a PEFT adapter into ours
#   throughput  (GPU only) LoRA training of a Llama-2-7B-shaped random bf16 base, r 8 on q,v,
#               micro-batch 16: tokens/s, peak GPU memory, MFU against the bf16 GEMM rate measured here
#   scoring     (GPU only) verbalizer ranking with that base at batch 16: latency per batch and per
#               user, users/s (bench_ranker_scoring)
#   retriever   LRURec training iterations/s on ml-latest-small (batch 16, max_len 200; the ratings
#               come in .device-deps/), on the GPU where there is one
# Exit status: 0 when every step that ran passed (a machine without a GPU says so and runs the rest).
set -uo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
out="${OUT:-$root/build-device/out}"
build="${BUILD_DIR:-$root/build-device}"
work="${WORK_DIR:-/tmp/llamarec-device-check}"
mkdir -p "$out" && rm -rf "$work" && mkdir -p "$work"
export OMP_NUM_THREADS="${OMP_NUM_THREADS:-1}" OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
export PYTHONUNBUFFERED=1
t0=$(date +%s)
# Every result goes to $OUT at once: a call killed at its limit still brings back what ran.
results="$out/checks.jsonl"
: >"$results"
# The call has 600 s; the throughput step needs about 200 of them.
budget=${CHECK_BUDGET_S:-560}
failed=0
hf_model=0  # the pipeline ran on parity.py's random Hugging Face Llama

# check NAME STATUS DETAIL: one line here and one JSON row for summary.json.
check() {
  local name="$1" status="$2" detail="$3"
  printf 'check: %-10s %-4s %s  (%ds)\n' "$name:" "$status" "$detail" $(($(date +%s) - t0))
  python3 - "$name" "$status" "$detail" >>"$results" <<'EOF' 2>/dev/null || echo "{\"check\": \"$name\", \"status\": \"$status\"}" >>"$results"
import json, sys
print(json.dumps({"check": sys.argv[1], "status": sys.argv[2], "detail": sys.argv[3]}))
EOF
  [ "$status" = FAIL ] && failed=1
  return 0
}

# --- machine --------------------------------------------------------------------------------------
gpu=0
if command -v nvidia-smi >/dev/null && nvidia-smi -L >"$out/nvidia-smi.txt" 2>&1; then gpu=1; fi
torch_line="$(python3 -c 'import torch; print(torch.__version__, torch.version.cuda, torch.cuda.is_available(), torch.utils.cmake_prefix_path)' 2>/dev/null || true)"
read -r torch_version torch_cuda torch_gpu torch_prefix <<<"${torch_line:-none None False none}"
mode=cpu
if [ "$gpu" = 1 ] && [ "$torch_cuda" != None ] && [ "$torch_gpu" = True ]; then mode=cuda; fi
if [ "$mode" = cuda ]; then
  check machine PASS "$(head -n 1 "$out/nvidia-smi.txt"); torch $torch_version (CUDA $torch_cuda)"
else
  check machine SKIP "no GPU with a CUDA torch here (GPU: $gpu, python torch: $torch_version/$torch_cuda): CUDA steps skipped, the rest on the CPU LibTorch"
fi
has_hf=0
python3 -c 'import torch, transformers, peft' 2>/dev/null && has_hf=1

# --- deps -----------------------------------------------------------------------------------------
cmake_args=(-G Ninja -DCMAKE_BUILD_TYPE=Release -DLLAMAREC_BUILD_BENCHMARKS=ON)
prefix_path=()
# python's LibTorch whenever python has torch (CUDA or not); else the system's (Debian's 1.13 here).
[ "$torch_prefix" != none ] && prefix_path+=("$torch_prefix")
if ls "$root"/.device-deps/*.deb >/dev/null 2>&1; then
  # shellcheck source=deps_env.sh
  if source "$root/launch/device/deps_env.sh" "$root/.device-deps" >"$out/deps.log" 2>&1; then
    cmake_args+=("${deps_cmake_args[@]}")
    prefix_path+=("$deps_prefix_path")
    check deps PASS "$(tail -n 1 "$out/deps.log")"
  else
    check deps FAIL "unpacking .device-deps failed (deps.log)"
  fi
else
  check deps SKIP "no .device-deps/ (launch/device/fetch_deps.sh): the system's packages"
fi
tokenizer="$root/.device-deps/tokenizer.model"
[ -f "$tokenizer" ] || tokenizer="$root/../shared/models/llama2-tokenizer/tokenizer.model"

# --- build ----------------------------------------------------------------------------------------
targets=(llamarec llamarec_spm_shim test_distributed test_models test_pipelines bench_ranker_train
  bench_ranker_scoring bench_retriever_train)
if [ "$mode" = cuda ]; then
  cuda_home="${CUDA_HOME:-/usr/local/cuda}"
  cmake_args+=(-DLLAMAREC_CUDA=ON)
  [ -x "$cuda_home/bin/nvcc" ] && cmake_args+=(-DCMAKE_CUDA_COMPILER="$cuda_home/bin/nvcc" -DCUDAToolkit_ROOT="$cuda_home")
  if [ ! -f "${NCCL_HOME:-$cuda_home}/include/nccl.h" ]; then
    nccl_dir="$(python3 -c 'import nvidia.nccl as n; print(list(n.__path__)[0])' 2>/dev/null || true)"
    nccl_lib="$(ls "$nccl_dir"/lib/libnccl.so* 2>/dev/null | head -n 1 || true)"
    if [ -n "$nccl_lib" ]; then
      cmake_args+=(-DLLAMAREC_NCCL_INCLUDE="$nccl_dir/include" -DLLAMAREC_NCCL_LIB="$nccl_lib")
      export LD_LIBRARY_PATH="$nccl_dir/lib${LD_LIBRARY_PATH:+:$LD_LIBRARY_PATH}"
    fi
  fi
fi
if [ ${#prefix_path[@]} -gt 0 ]; then cmake_args+=("-DCMAKE_PREFIX_PATH=$(IFS=';'; echo "${prefix_path[*]}")"); fi
if cmake -S "$root" -B "$build" "${cmake_args[@]}" >"$out/configure.log" 2>&1; then
  ninja -C "$build" -k 0 "${targets[@]}" >"$out/build.log" 2>&1
  build_rc=$?
  errors=$(grep -c "error:" "$out/build.log")
  if [ "$build_rc" -eq 0 ]; then
    check build PASS "$(grep -o 'llamarec: NCCL backend.*' "$out/configure.log" | head -n 1); ${targets[*]}"
  else
    check build FAIL "$errors compiler errors (build.log; first: $(grep -m1 'error:' "$out/build.log" | cut -c1-200))"
  fi
else
  build_rc=1
  check build FAIL "configure failed: $(grep -m1 -A2 'CMake Error' "$out/configure.log" | tr '\n' ' ' | cut -c1-300)"
fi
if [ "$build_rc" -ne 0 ]; then
  check tests SKIP "no build"
fi
bin="$build/llamarec"

# --- tests ----------------------------------------------------------------------------------------
if [ "$build_rc" -eq 0 ]; then
  for t in test_distributed test_models test_pipelines; do
    filter='*' brief=1
    # Full output for test_distributed: a skipped NCCL test must show up by name.
    [ "$t" = test_distributed ] && filter='Nccl*:CommunicatorMpi*:Fsdp*' brief=0
    # The pipelines' CUDA test: LRURec trained on retriever.device = cuda against the CPU.
    [ "$t" = test_pipelines ] && filter='*Cuda*' brief=0
    if timeout 150 "$build/tests/$t" --gtest_filter="$filter" --gtest_brief="$brief" >"$out/$t.log" 2>&1; then
      check tests PASS "$t: $(grep -E '^\[  PASSED' "$out/$t.log" | head -n 1) $(grep -cE '^\[  SKIPPED \] [A-Za-z].* \([0-9]+ ms\)$' "$out/$t.log") skipped"
    else
      check tests FAIL "$t: $(grep -E '^\[  FAILED' "$out/$t.log" | head -n 3 | tr '\n' ' ')"
    fi
  done
  if [ "$mode" = cuda ] && grep -qE '^\[  SKIPPED \] Nccl.* \([0-9]+ ms\)$' "$out/test_distributed.log"; then
    check tests FAIL "NCCL tests skipped on a GPU machine: $(grep -E '^\[  SKIPPED \] Nccl' "$out/test_distributed.log" | head -n 3 | tr '\n' ' ')"
  fi
  if [ "$mode" = cuda ] && grep -qE '^\[  SKIPPED \] .*Cuda.* \([0-9]+ ms\)$' "$out/test_pipelines.log"; then
    check tests FAIL "the CUDA retriever test skipped on a GPU machine"
  fi
fi

# --- pipeline and parity --------------------------------------------------------------------------
run_llamarec() { "$bin" "$@" >>"$out/pipeline.log" 2>&1; }
if [ "$build_rc" -eq 0 ]; then
  sed "s|@TMP@|$work|g" "$root/tests/cli/tiny.toml" >"$work/config.toml"
  printf '\n[run]\ndir = "%s"\n' "$work/run" >>"$work/config.toml"
  model_args=()
  if [ "$has_hf" = 1 ] && [ -f "$tokenizer" ]; then
    if python3 "$root/launch/device/parity.py" make-model "$work/model" --tokenizer "$tokenizer" >>"$out/pipeline.log" 2>&1; then
      # Prompts of the paper's length (the Llama 2 tokenizer spends ~13 tokens on a candidate
      # line), so that few are cut from the left.
      model_args+=(--set "ranker.model=$work/model" --set ranker.max_text_tokens=1024 --set ranker.max_history=10)
      hf_model=1
    else
      check pipeline FAIL "parity.py make-model failed: $(tail -n 2 "$out/pipeline.log" | tr '\n' ' ')"
    fi
  fi
  # lr 1e-2 without warmup: 12 steps move the adapter far enough that its effect is measurable.
  train=(--set ranker.max_steps=12 --set ranker.val_interval=12 --set ranker.lr=1e-2 --set ranker.warmup_steps=0
    --set ranker.dtype=auto "${model_args[@]}")
  if run_llamarec run -c "$work/config.toml" --stages preprocess,train-retriever,retrieve,train-ranker "${train[@]}"; then
    check pipeline PASS "synthetic data -> retriever -> top-20 -> 12 LoRA steps on $([ "$hf_model" = 1 ] && echo 'a random HF Llama (vocab 32000)' || echo 'the built-in Llama') ($mode)"
    scores_ok=1
    for dtype in float32 bfloat16; do
      run_llamarec score -c "$work/config.toml" "${model_args[@]}" --set "ranker.dtype=$dtype" --users 8 \
        -o "$out/scores_$dtype.json" || scores_ok=0
    done
    if [ "$hf_model" = 0 ]; then
      check parity SKIP "python3 has no torch + transformers + peft (or no Llama 2 tokenizer); llamarec score ran: $scores_ok"
    elif [ "$scores_ok" = 0 ]; then
      check parity FAIL "llamarec score failed (pipeline.log)"
    else
      device=cpu
      [ "$mode" = cuda ] && device=cuda
      if python3 "$root/launch/device/parity.py" compare "$work/model" --fp32 "$out/scores_float32.json" \
        --bf16 "$out/scores_bfloat16.json" --device "$device" --out "$out/parity_ours.json" >"$out/parity.log" 2>&1; then
        check parity PASS "our adapter in PEFT: $(grep -E 'fp32 letter|bf16 letter' "$out/parity.log" | cut -d: -f3 | tr '\n' ';')"
      else
        check parity FAIL "our adapter in PEFT: $(grep -E 'FAIL|Error' "$out/parity.log" | head -n 3 | tr '\n' ';')"
      fi
      peft_adapter="$work/peft_adapter"
      if python3 "$root/launch/device/parity.py" make-adapter "$work/model" "$peft_adapter" >>"$out/parity.log" 2>&1 &&
        run_llamarec score -c "$work/config.toml" "${model_args[@]}" --set ranker.dtype=float32 --users 8 \
          --adapter "$peft_adapter" -o "$out/scores_peft.json" &&
        python3 "$root/launch/device/parity.py" compare "$work/model" --fp32 "$out/scores_peft.json" --device "$device" \
          --out "$out/parity_peft.json" >>"$out/parity.log" 2>&1; then
        check parity PASS "a PEFT adapter in llamarec: $(grep -E 'fp32 letter' "$out/parity.log" | tail -n 1 | cut -d: -f3)"
      else
        check parity FAIL "a PEFT adapter in llamarec: $(grep -E 'FAIL|Error' "$out/parity.log" | tail -n 3 | tr '\n' ';')"
      fi
    fi
  else
    check pipeline FAIL "$(grep -E 'error|Error' "$out/pipeline.log" | tail -n 2 | tr '\n' ' ')"
  fi
fi

# --- throughput and scoring (GPU) -----------------------------------------------------------------
elapsed=$(($(date +%s) - t0))
shape_7b=("ranker.model=$work/llama7b" ranker.dtype=bfloat16 ranker.max_history=20 ranker.max_title_tokens=16
  ranker.max_text_tokens=1024)
if [ "$mode" = cuda ] && [ "$elapsed" -gt $((budget - 200)) ]; then
  check throughput SKIP "not started: ${elapsed} s of the ${budget} s budget are gone (rerun with the build kept)"
  check scoring SKIP "needs the throughput step's 7B-shaped base"
elif [ "$mode" = cuda ] && { [ "$build_rc" -ne 0 ] || [ "$hf_model" != 1 ] || [ ! -d "$work/run" ]; }; then
  check throughput SKIP "needs the build, transformers and the pipeline's run directory"
  check scoring SKIP "needs the throughput step's 7B-shaped base"
elif [ "$mode" = cuda ]; then
  gemm=$(python3 - <<'EOF' 2>>"$out/throughput.log"
import torch
a, b = (torch.randn(8192, 8192, device="cuda", dtype=torch.bfloat16) for _ in range(2))
for _ in range(3): a @ b
start, end = torch.cuda.Event(enable_timing=True), torch.cuda.Event(enable_timing=True)
start.record()
for _ in range(10): a @ b
end.record(); torch.cuda.synchronize()
print(f"{10 * 2 * 8192**3 / (start.elapsed_time(end) / 1e3) / 1e12:.1f}")
EOF
  )
  if python3 "$root/launch/device/parity.py" make-model "$work/llama7b" --tokenizer "$tokenizer" --shape 7b \
    --dtype bfloat16 --device cuda >>"$out/throughput.log" 2>&1; then
    nvidia-smi --query-gpu=memory.used --format=csv,noheader,nounits -lms 200 >"$work/memory.csv" 2>/dev/null &
    smi=$!
    # Prompts of about 700 tokens: 20 history items and 20 candidates of up to 16-token titles.
    timeout $((budget - ($(date +%s) - t0) - 20)) "$build/benchmarks/bench_ranker_train" "$work/config.toml" "$out/throughput.json" \
      "${shape_7b[@]}" ranker.batch_size=16 ranker.max_steps=8 lora.r=8 ranker.val_users=4 >>"$out/throughput.log" 2>&1
    rc=$?
    kill "$smi" 2>/dev/null
    peak=$(sort -n "$work/memory.csv" | tail -n 1)
    if [ "$rc" -eq 0 ]; then
      line=$(python3 - "$out/throughput.json" "$gemm" "$peak" <<'EOF'
import json, sys
row = json.load(open(sys.argv[1]))["runs"][-1]
tps = row["tokens_per_second_per_rank"]
n = 6.74e9
# Model FLOPs per token of LoRA training: forward 2N + backward to the activations 2N (the frozen
# base has no weight gradients), as torchtune's 28 GFLOP/token; the recompute's 2N is not counted.
flops = 4 * n
mfu = tps * flops / (float(sys.argv[2]) * 1e12)
print(f"{tps:.0f} tokens/s, {row['tokens_per_step'] / 16:.0f} tokens per prompt, peak {float(sys.argv[3]) / 1024:.1f} GiB, "
      f"MFU {mfu:.1%} of the {sys.argv[2]} TFLOP/s bf16 GEMM rate measured here")
EOF
      )
      if [ -n "$line" ]; then check throughput PASS "$line"; else check throughput FAIL "no figures in throughput.json"; fi
    else
      check throughput FAIL "bench_ranker_train exited $rc (throughput.log: $(tail -n 2 "$out/throughput.log" | tr '\n' ' '))"
    fi
    # The same base, now ranking: one forward per user, 16 users a batch.
    left=$((budget - ($(date +%s) - t0) - 5))
    if [ "$left" -lt 45 ]; then
      check scoring SKIP "not started: ${left} s left of the budget"
    elif timeout "$left" "$build/benchmarks/bench_ranker_scoring" "$work/config.toml" "$out/scoring.json" \
      "${shape_7b[@]}" ranker.eval_batch_size=16 ranker.val_users=64 >"$out/scoring.log" 2>&1; then
      line=$(python3 - "$out/scoring.json" <<'EOF'
import json, sys
row = json.load(open(sys.argv[1]))["runs"][-1]
print(f"{row['seconds_per_batch']:.3f} s per batch of {row['batch']}, {row['seconds_per_user'] * 1e3:.1f} ms per user, "
      f"{row['users_per_second']:.1f} users/s ({row['users']} users, {row['mean_prompt_tokens']:.0f} tokens per prompt, "
      f"{row['dtype']}, {row['device']})")
EOF
      )
      if [ -n "$line" ]; then check scoring PASS "$line"; else check scoring FAIL "no figures in scoring.json"; fi
    else
      check scoring FAIL "bench_ranker_scoring: $(tail -n 2 "$out/scoring.log" | tr '\n' ' ')"
    fi
  else
    check throughput FAIL "making the 7B-shaped random base failed (throughput.log)"
    check scoring SKIP "needs the 7B-shaped base"
  fi
else
  check throughput SKIP "no GPU"
  check scoring SKIP "no GPU"
fi

# --- retriever ------------------------------------------------------------------------------------
ratings="$root/.device-deps/ml-latest-small"
[ -f "$ratings/ratings.csv" ] || ratings="$root/../shared/data/ml-latest-small"
elapsed=$(($(date +%s) - t0))
if [ "$build_rc" -ne 0 ]; then
  check retriever SKIP "no build"
elif [ ! -f "$ratings/ratings.csv" ]; then
  check retriever SKIP "no ml-latest-small ratings (launch/device/fetch_deps.sh brings them)"
elif [ "$elapsed" -gt $((budget - 60)) ]; then
  check retriever SKIP "not started: ${elapsed} s of the ${budget} s budget are gone"
elif "$bin" preprocess -c "$root/configs/ml-100k.toml" --set "data.input=$ratings" --set "run.dir=$work/ml-100k" \
  >"$out/retriever.log" 2>&1 &&
  timeout $((budget - elapsed - 10)) "$build/benchmarks/bench_retriever_train" "$work/ml-100k/dataset.h5" "$out/retriever.json" \
    "retriever.device=$mode" >>"$out/retriever.log" 2>&1; then
  line=$(python3 - "$out/retriever.json" <<'EOF'
import json, sys
row = json.load(open(sys.argv[1]))["runs"][-1]
print(f"{1 / row['seconds_per_iteration']:.1f} it/s ({row['seconds_per_iteration'] * 1e3:.1f} ms/it), "
      f"{row['ranks']} rank on {row['device']} ({row['scan']} scan), ml-latest-small, batch 16, max_len 200")
EOF
  )
  if [ -n "$line" ]; then check retriever PASS "$line"; else check retriever FAIL "no figures in retriever.json"; fi
else
  check retriever FAIL "$(grep -iE 'error' "$out/retriever.log" | tail -n 2 | tr '\n' ' ')"
fi

python3 - "$results" "$out/summary.json" "$mode" "$(($(date +%s) - t0))" <<'EOF' 2>/dev/null
import json, sys
rows = [json.loads(l) for l in open(sys.argv[1]) if l.strip()]
json.dump({"mode": sys.argv[3], "seconds": int(sys.argv[4]), "checks": rows,
           "passed": all(r["status"] != "FAIL" for r in rows)}, open(sys.argv[2], "w"), indent=1)
EOF
echo "check: done in $(($(date +%s) - t0)) s, $([ "$failed" = 0 ] && echo 'every step that ran passed' || echo 'FAILED'); logs in $out"
exit "$failed"

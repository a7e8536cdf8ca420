#!/usr/bin/env bash
# AddressSanitizer + UndefinedBehaviorSanitizer, and libFuzzer on the file parsers, with clang in
# ${SANITIZE_BUILD_DIR:-build-sanitize}:
#   - the test binaries in $SANITIZE_TESTS (default: the four library areas; the benchmarks
#     and test_benchmarks are not built here) run under ASan + UBSan through ctest,
#     at 1 rank and their listed suites at 2 (tests/CMakeLists.txt). Tests that load a SentencePiece
#     model skip themselves (LLAMAREC_REQUIRE_SENTENCEPIECE): ASan cannot dlopen our SentencePiece
#     plugin with RTLD_DEEPBIND (google/sanitizers#611), and without it libsentencepiece meets
#     LibTorch's protobuf of another version (core/sentencepiece_plugin.cpp);
#   - every fuzz target (tests/fuzz/) runs for $FUZZ_SECONDS seconds (default 60; 0 = none), two at a
#     time, from its seeds in tests/fuzz/corpus/. A crash leaves its input under
#     build-sanitize/fuzz/crashes/<target>/ and fails the script: fix it, then keep the input in
#     tests/fuzz/regressions/<target>/ (the normal suite replays it).
# Needs clang and libclang-rt (launch/install_deps.sh installs them).
set -euo pipefail
root="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
build="${SANITIZE_BUILD_DIR:-$root/build-sanitize}"
tests="${SANITIZE_TESTS-test_core test_models test_distributed test_pipelines}"
seconds="${FUZZ_SECONDS:-60}"
targets=(safetensors config hf_config python_literal movielens amazon recbole)

CC=clang CXX=clang++ cmake -S "$root" -B "$build" -G Ninja -DCMAKE_BUILD_TYPE=RelWithDebInfo \
  -DLLAMAREC_SANITIZE=ON -DLLAMAREC_FUZZ=ON -DLLAMAREC_BUILD_BENCHMARKS=OFF >/dev/null
to_build=()
for t in $tests; do to_build+=("$t"); done
if [ "$seconds" -gt 0 ]; then for t in "${targets[@]}"; do to_build+=("fuzz_$t"); done; fi
cmake --build "$build" -j "$(nproc)" --target llamarec_spm_shim "${to_build[@]}"

# Leaks are not checked: LibTorch and Open MPI keep allocations for the life of the process.
export ASAN_OPTIONS="detect_leaks=0:abort_on_error=1:strict_string_checks=1"
export UBSAN_OPTIONS="print_stacktrace=1:halt_on_error=1"
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
status=0
if [ -n "$tests" ]; then
  areas="$(for t in $tests; do printf '%s|' "${t#test_}"; done)"
  echo "sanitize: $tests under ASan + UBSan (1 and 2 ranks)"
  ctest --test-dir "$build" --output-on-failure -R "^(${areas%|})\.np[12]$" || { echo "sanitize: tests FAILED"; status=1; }
fi

fuzz_one() {
  local t="$1" corpus="$build/fuzz/corpus/$1" crashes="$build/fuzz/crashes/$1/"
  mkdir -p "$corpus" "$crashes"
  # `|| rc=$?`: under set -e a bare failing fuzzer would end this function before it reports.
  local rc=0 seeds=("$root/tests/fuzz/corpus/$t")
  if [ -d "$root/tests/fuzz/regressions/$t" ]; then seeds+=("$root/tests/fuzz/regressions/$t"); fi
  "$build/fuzz/fuzz_$t" -max_total_time="$seconds" -timeout=10 -rss_limit_mb=4096 -detect_leaks=0 \
    -artifact_prefix="$crashes" "$corpus" "${seeds[@]}" >"$build/fuzz/$t.log" 2>&1 || rc=$?
  local runs
  runs="$(grep -o 'Done [0-9]* runs' "$build/fuzz/$t.log" | grep -o '[0-9]*' || echo '?')"
  if [ "$rc" -eq 0 ]; then
    echo "fuzz: $t: $runs executions in ${seconds}s, $(ls "$corpus" | wc -l) inputs in the corpus, no crash"
  else
    echo "fuzz: $t: CRASH (exit $rc), input in $crashes:"
    grep -E "ERROR|SUMMARY|runtime error|terminate|what\(\)" "$build/fuzz/$t.log" | head -5 || true
    return 1
  fi
}
if [ "$seconds" -gt 0 ]; then
  for ((i = 0; i < ${#targets[@]}; i += 2)); do
    pids=()
    for t in "${targets[@]:i:2}"; do fuzz_one "$t" & pids+=($!); done
    for p in "${pids[@]}"; do wait "$p" || status=1; done
  done
fi
exit $status

#!/usr/bin/env bash
# Bad input as users hand it to us, one case a line: each must exit non-zero with a message that
# names the file or key and the problem, and leave no partial output behind. Under mpirun -np 2
# where the stage runs sharded. Args: the llamarec binary, the source tree.
set -uo pipefail
bin="$1"
root="$2"
source "$root/tests/cli/np2_common.sh"
cases=0

# rejects NAME REGEX NO_OUTPUT COMMAND...: non-zero exit, a line matching REGEX, and no NO_OUTPUT
# file afterwards ("-": nothing to check).
rejects() {
  local name="$1" regex="$2" absent="$3"
  shift 3
  cases=$((cases + 1))
  local out rc
  out="$(timeout 120 "$@" 2>&1)"
  rc=$?
  if [ "$rc" -eq 0 ]; then problem "$name: exited 0"; return; fi
  local line
  line="$(grep -m1 -E -- "$regex" <<<"$out")"
  if [ -z "$line" ]; then problem "$name: no line matches /$regex/"; echo "$out" | grep -E 'error' | tail -3; return; fi
  if [ "$absent" != "-" ] && [ -e "$absent" ]; then problem "$name: left $absent behind"; return; fi
  if grep -q -E "PytorchStreamReader|HDF5-DIAG|terminate called|Exception raised from" <<<"$out"; then
    problem "$name: a library's internal message leaked"; echo "$out" | tail -5; return
  fi
  echo "ok   $name | ${line#llamarec: }"
}

# A .safetensors file from a JSON header and a data section of N zero bytes.
safetensors() {
  local path="$1" header="$2" data_bytes="$3"
  local n=${#header}
  {
    printf "$(printf '\\x%02x\\x%02x\\x%02x\\x%02x\\x00\\x00\\x00\\x00' $((n & 255)) $(((n >> 8) & 255)) $(((n >> 16) & 255)) $(((n >> 24) & 255)))"
    printf '%s' "$header"
    head -c "$data_bytes" /dev/zero
  } >"$path"
}

prepare_inputs
in="$tmp/inputs"
cfg="$tmp/tiny.toml"

# Config files and overrides.
printf '[retriever]\nbatch_size = = 3\n' >"$tmp/malformed.toml"
rejects "malformed TOML" "malformed.toml:2:.*malformed TOML" - "$bin" config -c "$tmp/malformed.toml"
printf '[retriever]\nbatchsize = 3\n' >"$tmp/unknown.toml"
rejects "unknown key" "unknown.toml: unknown key retriever.batchsize" - "$bin" config -c "$tmp/unknown.toml"
printf '[retriever]\nbatch_size = "big"\n' >"$tmp/type.toml"
rejects "wrong type" "type.toml: retriever.batch_size must be" - "$bin" config -c "$tmp/type.toml"
printf '[retriever]\ndropout = 1.5\n' >"$tmp/range.toml"
rejects "out-of-range value" "range.toml: retriever.dropout is invalid: expected in \[0, 1\)" - \
  "$bin" config -c "$tmp/range.toml"
rejects "override of an unknown key" "--set retriever.nope: unknown key nope in \[retriever\]" - \
  "$bin" config --set retriever.nope=1
rejects "out-of-range override" "--set ranker.num_candidates=30: ranker.num_candidates is invalid" - \
  "$bin" config --set ranker.num_candidates=30
rejects "unknown quantization" "--set ranker.quantization=int4: expected one of none or nf4" - \
  "$bin" config --set ranker.quantization=int4

# Raw data.
rejects "missing raw data" "$tmp/no/such/folder" "$tmp/p1/dataset.h5" \
  "$bin" preprocess -c "$cfg" --set run.dir="$tmp/p1" --set data.dataset=dataset.h5 --format movielens \
  --input "$tmp/no/such/folder"
mkdir -p "$tmp/ml"
printf 'userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,4.0,2\n2,1,3.0,3\n' >"$tmp/ml/ratings.csv"
printf 'movieId,title,genres\n1,A (1999),Drama\n2,B (2000),Drama\n' >"$tmp/ml/movies.csv"
rejects "empty dataset after filtering" "min_user_count|nothing is left|no user" "$tmp/p2/dataset.h5" \
  "$bin" preprocess -c "$cfg" --set run.dir="$tmp/p2" --set data.dataset=dataset.h5 --format movielens \
  --input "$tmp/ml"
printf 'userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,lots,2\n' >"$tmp/ml/ratings.csv"
rejects "a malformed record names file and line" "ratings.csv:3" "$tmp/p3/dataset.h5" \
  "$bin" preprocess -c "$cfg" --set run.dir="$tmp/p3" --set data.dataset=dataset.h5 --format movielens \
  --input "$tmp/ml"
printf 'userId,movieId,rating,timestamp\n1,1,4.0,1\n1,2,4.0,2\n' >"$tmp/ml/ratings.csv"
printf 'movieId,title,genres\n1,A (1999),Drama\n2,Caf\xe9 (2000),Drama\n' >"$tmp/ml/movies.csv"
rejects "titles in an invalid encoding (data.encoding = utf-8)" "movies.csv:3: not valid UTF-8 \(byte 0xe9 at column 4\)" \
  "$tmp/p4/dataset.h5" "$bin" preprocess -c "$cfg" --set run.dir="$tmp/p4" --set data.dataset=dataset.h5 \
  --format movielens --input "$tmp/ml" --set data.encoding=utf-8

# Datasets.
head -c 3000 "$tmp/dataset.h5" >"$tmp/truncated.h5"
rejects "truncated HDF5 dataset" "truncated.h5" "$tmp/t1/retriever.safetensors" \
  "${np2_command[@]}" train-retriever -c "$cfg" --set run.dir="$tmp/t1" --set data.dataset="$tmp/truncated.h5"
rejects "foreign HDF5 (a candidates file as the dataset)" "$tmp/candidates.h5" "$tmp/t2/retriever.safetensors" \
  "${np2_command[@]}" train-retriever -c "$cfg" --set run.dir="$tmp/t2" --set data.dataset="$tmp/candidates.h5"
printf 'not hdf5 at all' >"$tmp/text.h5"
rejects "a text file as the dataset" "text.h5" "$tmp/t3/retriever.safetensors" \
  "${np2_command[@]}" train-retriever -c "$cfg" --set run.dir="$tmp/t3" --set data.dataset="$tmp/text.h5"

# Checkpoints. retrieve_with NAME REGEX CHECKPOINT: retrieval with that checkpoint is rejected and
# writes no candidates.
retrieve_with() {
  rejects "$1" "$2" "$tmp/$1.h5" "${np2_command[@]}" retrieve -c "$cfg" --set run.dir="$in" \
    --set retriever.checkpoint="$3" --set retrieval.candidates="$tmp/$1.h5"
}
head -c 200 "$in/retriever.safetensors" >"$tmp/truncated.safetensors"
retrieve_with "truncated safetensors" "truncated.safetensors" "$tmp/truncated.safetensors"
safetensors "$tmp/outside.safetensors" '{"a":{"dtype":"F32","shape":[4],"data_offsets":[0,16]}}' 8
retrieve_with "header offsets outside the file" "outside.safetensors" "$tmp/outside.safetensors"
safetensors "$tmp/overlap.safetensors" \
  '{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[2],"data_offsets":[4,12]}}' 12
retrieve_with "overlapping tensors" "overlap.safetensors.*overlap" "$tmp/overlap.safetensors"
safetensors "$tmp/dtype.safetensors" '{"a":{"dtype":"F8_E4M3","shape":[2],"data_offsets":[0,2]}}' 2
retrieve_with "unsupported dtype" "dtype.safetensors.*F8_E4M3" "$tmp/dtype.safetensors"
"$bin" preprocess -c "$cfg" --set run.dir="$tmp/other" --set data.dataset=dataset.h5 --set data.synthetic_items=150 \
  >/dev/null 2>&1 || problem "preprocessing a second dataset"
rejects "a checkpoint for another dataset" "retriever.safetensors.*(items|num_items)" "$tmp/r5.h5" \
  "${np2_command[@]}" retrieve -c "$cfg" --set run.dir="$in" --set data.dataset="$tmp/other/dataset.h5" \
  --set retrieval.candidates="$tmp/r5.h5"

rejects "candidates from another dataset (before any model loads)" "candidates.h5: candidates are for [0-9]+ users / 200 items but the dataset .*other/dataset.h5" \
  "$tmp/c1/ranker_adapter" "${np2_command[@]}" train-ranker -c "$cfg" --set run.dir="$tmp/c1" \
  --set data.dataset="$tmp/other/dataset.h5" --set ranker.model="$tmp/no-model"

# A Hugging Face Llama directory; past the tokenizer with the built-in Llama's (one training step
# creates it).
mkdir -p "$tmp/llama"
rejects "a model directory without a tokenizer" "llama/tokenizer.model: tokenizer model not found" "$tmp/l0/ranker_adapter" \
  "${np2_command[@]}" train-ranker -c "$cfg" --set run.dir="$tmp/l0" --set ranker.model="$tmp/llama"
np2 train-ranker -c "$cfg" --set run.dir="$in" --set ranker.max_steps=1 >"$tmp/builtin.log" 2>&1 ||
  { problem "creating the built-in Llama"; tail -20 "$tmp/builtin.log"; }
rejects "a built-in Llama built for another config" "llamarec_builtin.json: the built-in Llama there was built for another config.*delete" \
  - "${np2_command[@]}" train-ranker -c "$cfg" --set run.dir="$in" --set builtin_llama.hidden_size=64
tokenizer="$in/builtin_llama/tokenizer.model"
printf '{"hidden_size": 64, "intermediate_size": 172, "num_attention_heads": 7, "num_key_value_heads": 7, "num_hidden_layers": 2, "vocab_size": 512, "max_position_embeddings": 256, "rms_norm_eps": 1e-5}\n' \
  >"$tmp/llama/config.json"
rejects "Llama config with inconsistent heads" "config.json.*(num_attention_heads|hidden_size)" "$tmp/l1/ranker_adapter" \
  "${np2_command[@]}" train-ranker -c "$cfg" --set run.dir="$tmp/l1" --set ranker.model="$tmp/llama" \
  --set ranker.tokenizer="$tokenizer"
sed -i 's/"num_attention_heads": 7, "num_key_value_heads": 7/"num_attention_heads": 8, "num_key_value_heads": 8/' \
  "$tmp/llama/config.json"
printf '{"weight_map": {"model.embed_tokens.weight": "model-00001-of-00002.safetensors"}}\n' \
  >"$tmp/llama/model.safetensors.index.json"
rejects "sharded index naming a missing shard" "model-00001-of-00002.safetensors" "$tmp/l2/ranker_adapter" \
  "${np2_command[@]}" train-ranker -c "$cfg" --set run.dir="$tmp/l2" --set ranker.model="$tmp/llama" \
  --set ranker.tokenizer="$tokenizer"

# Damaged adapters: evaluate-ranker names the file and the problem (the one-step training above
# wrote $in/ranker_adapter).
adapter_case() {
  local name="$1" regex="$2"
  shift 2
  rm -rf "$tmp/bad_adapter" && cp -r "$in/ranker_adapter" "$tmp/bad_adapter"
  "$@"
  rejects "$name" "$regex" - "${np2_command[@]}" evaluate-ranker -c "$cfg" --set run.dir="$in" \
    --set ranker.adapter="$tmp/bad_adapter" --set eval.metrics="$tmp/bad_adapter_metrics.json"
}
adapter_case "truncated adapter weights" "bad_adapter/adapter_model.safetensors" \
  truncate -s 100 "$tmp/bad_adapter/adapter_model.safetensors"
adapter_case "adapter_config.json that is not JSON" "bad_adapter/adapter_config.json" \
  sh -c "printf '{ \"r\": ' >'$tmp/bad_adapter/adapter_config.json'"
adapter_case "adapter of another rank r" "lora_A.weight' has shape \[8, 32\] .*bad_adapter/adapter_model.safetensors.*expected \[3, 32\]" \
  sed -i 's/"r": [0-9]*/"r": 3/' "$tmp/bad_adapter/adapter_config.json"
[ -e "$tmp/bad_adapter_metrics.json" ] && problem "a rejected adapter left a metrics file"

# A run directory made with another config: every finished stage is checked before anything runs.
"$bin" run -c "$cfg" --set run.dir="$tmp/rd" --stages preprocess >/dev/null 2>&1 || problem "llamarec run --stages preprocess"
rejects "a run directory from another config" \
  "\.done/preprocess: stage preprocess was done in this run directory with another config: data.synthetic_items = 200 there, 150 now" \
  "$tmp/rd/retriever.safetensors" "${np2_command[@]}" run -c "$cfg" --set run.dir="$tmp/rd" --set data.synthetic_items=150

echo "$cases bad-input cases"
finish

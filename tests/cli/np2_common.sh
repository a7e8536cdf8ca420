# Shared by the 2-rank command-line tests (sourced): a scratch directory, the launcher, a tiny
# synthetic dataset and retriever config that train in seconds, and a ranker config on a small
# built-in Llama (no ../shared needed). Expects $bin (the llamarec binary) and $root (the source tree).
tmp="$(mktemp -d)"
trap 'pkill -9 -f -- "$tmp" 2>/dev/null; rm -rf "$tmp"' EXIT
failures=0
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1 OMP_NUM_THREADS=1
np2_command=(env LLAMAREC_BIN="$bin" bash "$root/launch/mpirun.sh" 2)  # for `timeout`, which runs no functions
np2() { "${np2_command[@]}" "$@"; }
problem() { echo "FAIL $*"; failures=$((failures + 1)); }

cat >"$tmp/tiny.toml" <<TOML
[data]
dataset = "$tmp/dataset.h5"
synthetic_users = 300
synthetic_items = 200
synthetic_max_length = 30

[retriever]
max_len = 30
hidden = 32
num_blocks = 1
batch_size = 16
max_steps = 1200
val_interval = 300
checkpoint_interval = 25
patience = 100

[retrieval]
candidates = "$tmp/candidates.h5"

[ranker]
dtype = "float32"
batch_size = 8
lr = 1e-3
warmup_steps = 2
max_steps = 120
val_interval = 40
checkpoint_interval = 3
val_users = 16
eval_batch_size = 8
max_history = 5
max_title_tokens = 8
max_text_tokens = 256

[builtin_llama]
hidden_size = 32
intermediate_size = 64
num_hidden_layers = 2
num_attention_heads = 2
num_key_value_heads = 1
corpus_prompts = 200
max_position_embeddings = 512
TOML

# The newest saved step under a state directory (0 when none).
newest_step() {
  local d
  d="$(ls "$1" 2>/dev/null | grep -E '^step-[0-9]+$' | sort | tail -1)"
  d="${d#step-}"
  echo "$((10#${d:-0}))"
}

# A rank process of the run in $1 (not mpirun), at random.
a_rank_of() { pgrep -f -- "^$bin .*run.dir=$1( |$)" | shuf -n 1; }

# same_files NAME DIR_A DIR_B FILE...: byte-identical files in both run directories.
same_files() {
  local name="$1" a="$2" b="$3"
  shift 3
  for f in "$@"; do
    if ! cmp -s "$a/$f" "$b/$f"; then problem "$name: $f differs from the uninterrupted run's"; return; fi
  done
  echo "ok   $name: ${*} identical to the uninterrupted run's"
}

# The dataset, a trained retriever and its candidates, shared by every run of a script.
prepare_inputs() {
  np2 preprocess -c "$tmp/tiny.toml" --set run.dir="$tmp/inputs" >"$tmp/prepare.log" 2>&1 &&
    np2 train-retriever -c "$tmp/tiny.toml" --set run.dir="$tmp/inputs" >>"$tmp/prepare.log" 2>&1 &&
    np2 retrieve -c "$tmp/tiny.toml" --set run.dir="$tmp/inputs" >>"$tmp/prepare.log" 2>&1 ||
    { echo "FAIL preparing the inputs:"; tail -20 "$tmp/prepare.log"; exit 1; }
}

finish() {
  if [ "$failures" -ne 0 ]; then
    echo "$failures check(s) failed"
    exit 1
  fi
  echo "all checks passed"
}

// The ranker's base when none is given (ranker.model empty): a tiny Llama created in-process and
// written as a Hugging Face checkpoint, so that every stage loads it like any HF Llama. It makes the
// whole pipeline runnable with nothing downloaded; being randomly initialised, it knows nothing of
// the world, so what it learns comes from the ranker's training alone.
//
//   <run.dir>/<builtin_llama.dir>/
//     config.json, model.safetensors   seeded initialisation (init_llama_random, std 0.02)
//     tokenizer.model                  SentencePiece, trained on the titles and sample prompts
//     llamarec_builtin.json            what it was built from: reused when equal, an error otherwise
#pragma once
#include <cstdint>
#include <string>
#include <vector>

#include "distributed/communicator.h"
#include "pipelines/config.h"

namespace llamarec {

// The tokenizer's training text: every title, then `builtin_llama.corpus_prompts` ranking prompts
// over random titles (seeded by run.seed), one sentence per line. A "\n" never enters a sentence,
// so the newline stays a byte-fallback piece as in Llama's tokenizer, and every letter A..T follows
// it as its own single piece.
std::vector<std::string> builtin_tokenizer_corpus(const Config& config, const std::vector<std::string>& titles);

// The built-in base's directory, created on rank 0 when missing (every rank waits for it). An
// existing one is reused only when it was built from the same options and corpus; otherwise the
// error names it and says to delete it. `titles`: [I+1], 0 unused, as the dataset holds them.
std::string ensure_builtin_llama(const Config& config, Communicator& comm, const std::vector<std::string>& titles);

}  // namespace llamarec

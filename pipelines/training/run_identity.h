// What a saved training state must match to be resumed (pipelines/training/checkpointer.h): the
// config values that shape the run's trajectory. Key = value pairs, not the config's text, so that
// a release that rewords a key's documentation, or adds a key the run leaves at its default,
// still resumes the states of the release before (pipelines/config_diff.h).
#pragma once
#include <string>
#include <vector>

#include "pipelines/config.h"
#include "pipelines/input_files.h"

namespace llamarec {

// run.seed, data.dataset (resolved inside run.dir) and every key of `sections` ("retriever.",
// "lora.") except `resumable`: the keys that may change between a run and its resumption (limits,
// patience, checkpoint cadence, evaluation batch sizes, evaluation-only keys), since raising them
// must continue a run, not restart it. Then "input.<name>" = the fingerprint of each of `inputs`
// (pipelines/input_files.h): a dataset preprocessed again or candidates retrieved again under the
// same path are other training data, whose run starts over instead of resuming (or, finished,
// standing for) the run on the old data.
ConfigValues training_identity(const Config& config, const std::vector<std::string>& sections,
                               const std::vector<std::string>& resumable, const std::vector<InputFile>& inputs);

// The keys whose values differ between a saved state's identity and `now` (differing_config_keys),
// except a path whose file's content both hold as fingerprints (data.dataset as input.dataset,
// ranker.model as input.base_config and input.base_weights/*, ranker.tokenizer as input.tokenizer):
// the same content at another path is the same input, so a run directory moved elsewhere, or inputs
// staged to a job's local scratch, still resume. A state saved before those fingerprints were
// recorded is compared by path. Input fingerprints compare as same_input (input_files.h).
std::vector<std::string> identity_differences(const ConfigValues& recorded, const ConfigValues& now);

}  // namespace llamarec

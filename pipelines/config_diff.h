// Comparing the config values a saved thing was made with (a stage record, a training state) with
// the values now. Shared so that every record survives the same upgrades: a key a later llamarec
// added is absent from an older record and matches while it holds the value that stands for how the
// older llamarec behaved (its default, or where the default changed that behaviour, as
// ranker.val_order's did, the value that keeps it); a key only the record has (one a later llamarec
// removed) differs.
#pragma once
#include <string>
#include <vector>

#include "pipelines/config.h"

namespace llamarec {

// Keys under this prefix are not config keys but fingerprints of input files (training/run_identity.h).
// A record without one matches: the releases before them recorded no inputs.
inline constexpr const char* kInputKeyPrefix = "input.";

// The keys whose values differ between `recorded` and `now`, in key order.
std::vector<std::string> differing_config_keys(const ConfigValues& recorded, const ConfigValues& now);

// "key = <there> there, <now> now (and N more: a, b, ...)" for the first of `keys` (not empty);
// an absent value reads "(absent)".
std::string describe_config_difference(const std::vector<std::string>& keys, const ConfigValues& recorded,
                                       const ConfigValues& now);

}  // namespace llamarec

// What `llamarec run` leaves in run.dir/.done/<stage> when a stage finishes: its time and the
// config values its outputs were made with (its own keys and those of the stages before it). A
// later run skips the stage only when those values are the same; another config in the same run
// directory is an error naming the keys that differ, not a silent reuse of stale outputs.
#pragma once
#include <map>
#include <optional>
#include <string>
#include <vector>

#include "pipelines/config.h"
#include "pipelines/stages.h"

namespace llamarec {

// The values that determine `stage`'s outputs: the keys named by it and every earlier stage
// ("section." for a whole section), less those that only change how, not what, is computed
// (batch sizes of evaluation, checkpoint cadence, paths of logs).
ConfigValues stage_config_values(const Config& config, const std::string& stage);

void write_stage_record(const std::string& path, double seconds, const ConfigValues& values);

// Empty when the record at `path` was made with `values` (compared as pipelines/config_diff.h
// says; a record of the old format, which recorded none, is skipped with a warning); else an error
// text that names the stage, the differing keys with both values of the first, and what to delete.
// A damaged record says so.
std::string stage_record_mismatch(const std::string& path, const std::string& stage, const ConfigValues& values);

}  // namespace llamarec

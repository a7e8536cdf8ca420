// RecBole atomic files: NAME.inter (tab-separated, header "user_id:token item_id:token
// [rating:float] [timestamp:float]" in any column order) and NAME.item ("item_id:token
// title:token_seq ..."). Without a timestamp column, file order is time order.
#pragma once
#include <string>

#include "pipelines/importers/raw_dataset.h"
#include "core/text_encoding.h"

namespace llamarec {

// `input`: a folder holding exactly one .inter file, or the .inter file itself. `item_file`: the
// .item file; empty means NAME.item beside the .inter file.
// Titles are read in `encoding` (auto: each UTF-8 where valid, else Latin-1).
RawDataset import_recbole(const std::string& input, const std::string& item_file,
                          TextEncoding encoding = TextEncoding::kAuto);

}  // namespace llamarec

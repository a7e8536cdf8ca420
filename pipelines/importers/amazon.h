// Amazon review data (McAuley et al., 2014 and 2018 releases): a ratings CSV without header plus
// the product metadata, one record per line (.json or .json.gz). 2014 metadata lines are Python
// dict literals, 2018 lines are JSON; both are accepted, line by line.
#pragma once
#include <string>

#include "pipelines/importers/raw_dataset.h"
#include "core/text_encoding.h"

namespace llamarec {

// Ratings rows are user,item,rating,timestamp (2014). The 2018 "ratings only" files put the item
// first; the column order is detected from which column's values are metadata ASINs. Items keep
// the stripped title of their last metadata record with a non-empty one, under the stripped asin
// (as LlamaRec, which does not unescape HTML entities either).
// Metadata lines are read in `encoding` (auto: each line UTF-8 where valid, else Latin-1).
RawDataset import_amazon(const std::string& ratings, const std::string& meta,
                         TextEncoding encoding = TextEncoding::kAuto);

}  // namespace llamarec

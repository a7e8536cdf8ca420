// MovieLens importer: ml-latest-small / ml-20m / ml-25m (ratings.csv + movies.csv, quoted CSV with a
// header), ml-1m / ml-10m (ratings.dat + movies.dat, "::"-separated) and ml-100k (u.data tab-separated
// + u.item "|"-separated). Which one is detected from the folder's files.
#pragma once
#include <string>
#include <string_view>

#include "pipelines/importers/raw_dataset.h"
#include "core/text_encoding.h"

namespace llamarec {

// LlamaRec's title cleaning (ml_100k.py load_meta_dict), on code points as Python slices:
// title = t[:-7], year = t[-7:]; drop every "(...)" (non-greedy) from title and strip it; if the
// lower-cased last 5 characters contain ", a" / ", an" / ", the", the last ", "-piece moves to the
// front ("Godfather, The" -> "The Godfather"); result = title + year. Titles without a trailing
// " (YYYY)" are sliced all the same, as in LlamaRec.
std::string clean_movielens_title(std::string_view utf8_title);

// `input` is the folder or one of its rating/movie files. Titles are stored as UTF-8; with
// `encoding` auto they are decoded as UTF-8 when the whole movie file is valid UTF-8, else as
// Latin-1 (ml-1m, ml-100k).
RawDataset import_movielens(const std::string& input, TextEncoding encoding = TextEncoding::kAuto);

}  // namespace llamarec

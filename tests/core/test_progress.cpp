#include <gtest/gtest.h>

#include "core/progress.h"

namespace llamarec {

TEST(Progress, FormatsDurations) {
  EXPECT_EQ(format_duration(12.34), "12.3s");
  EXPECT_EQ(format_duration(185), "3m05s");
  EXPECT_EQ(format_duration(3720), "1h02m");
  EXPECT_EQ(format_duration(-1), "?");
}

TEST(Progress, CountsAndRate) {
  Progress progress("test", 10, "it", 1e9);
  progress.advance(3);
  progress.advance(2);
  EXPECT_EQ(progress.done(), 5);
  EXPECT_GT(progress.rate(), 0.0);
}

}  // namespace llamarec

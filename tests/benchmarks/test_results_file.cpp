// The results files' rows: one per configuration, each saying where and when it was measured.
#include <gtest/gtest.h>

#include "benchmarks/support/results_file.h"

namespace llamarec {
namespace {

TEST(ResultsFile, ReplaceRowKeepsOnePerConfigurationAndSaysWhereItRan) {
  nlohmann::json rows;  // null: created as an array
  replace_row(rows, {{"ranks", 1}, {"batch", 16}, {"s", 0.5}}, {"ranks", "batch"});
  replace_row(rows, {{"ranks", 2}, {"batch", 16}, {"s", 0.3}}, {"ranks", "batch"});
  replace_row(rows, {{"ranks", 1}, {"batch", 16}, {"s", 0.4}}, {"ranks", "batch"});
  ASSERT_EQ(rows.size(), 2u);
  EXPECT_EQ(rows[0]["ranks"], 2);
  EXPECT_EQ(rows[1]["s"], 0.4);
  for (const auto& row : rows) {
    EXPECT_EQ(row["machine"], machine_description());
    EXPECT_FALSE(row["commit"].get<std::string>().empty());
    EXPECT_EQ(row["date"].get<std::string>().size(), 10u);  // YYYY-MM-DD
  }
  // A row that says where it ran keeps that.
  replace_row(rows, {{"ranks", 4}, {"machine", "a GPU node"}, {"date", "2026-01-02"}}, {"ranks"});
  EXPECT_EQ(rows.back()["machine"], "a GPU node");
  EXPECT_EQ(rows.back()["date"], "2026-01-02");
}

TEST(ResultsFile, MachineNamesTheCpu) {
  const auto machine = machine_description();
  EXPECT_FALSE(machine.empty());
  // Linux: "<model> x <count>"; elsewhere "unknown".
  if (machine != "unknown") EXPECT_NE(machine.find(" x "), std::string::npos) << machine;
}

}  // namespace
}  // namespace llamarec

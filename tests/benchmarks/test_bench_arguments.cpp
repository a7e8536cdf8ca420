#include <gtest/gtest.h>

#include "benchmarks/support/bench_arguments.h"
#include "core/error.h"

namespace llamarec {
namespace {

BenchArguments parse(std::vector<std::string> args) {
  args.insert(args.begin(), "bench");
  std::vector<char*> argv;
  for (auto& a : args) argv.push_back(a.data());
  return parse_bench_arguments(static_cast<int>(argv.size()), argv.data(), "bench IN [out.json] [k=v ...]",
                               "default.json", {"a.b=1"});
}

TEST(BenchArguments, PositionalsOverridesAndOptions) {
  auto a = parse({"in.h5"});
  EXPECT_EQ(a.input, "in.h5");
  EXPECT_EQ(a.out_path, "default.json");
  EXPECT_EQ(a.overrides, std::vector<std::string>{"a.b=1"});
  EXPECT_FALSE(a.profile);

  // An override right after INPUT is not out.json.
  a = parse({"in.h5", "x.y=2"});
  EXPECT_EQ(a.out_path, "default.json");
  EXPECT_EQ(a.overrides, (std::vector<std::string>{"a.b=1", "x.y=2"}));

  a = parse({"--profile=scopes", "in.h5", "out.json", "x.y=2"});
  EXPECT_EQ(a.input, "in.h5");
  EXPECT_EQ(a.out_path, "out.json");
  EXPECT_TRUE(a.profile);
  EXPECT_EQ(a.profile_mode, StepProfile::Mode::kScopes);
  EXPECT_EQ(a.overrides, (std::vector<std::string>{"a.b=1", "x.y=2"}));

  a = parse({"in.h5", "runs/a=b/out.json", "x.y=2"});
  EXPECT_EQ(a.out_path, "runs/a=b/out.json");

  a = parse({"in.h5", "--profile"});
  EXPECT_TRUE(a.profile);
  EXPECT_EQ(a.profile_mode, StepProfile::Mode::kOps);
}

TEST(BenchArguments, ErrorsNameTheProblem) {
  auto message = [](std::vector<std::string> args) {
    try {
      parse(std::move(args));
    } catch (const Error& e) {
      return std::string(e.what());
    }
    return std::string("no error");
  };
  EXPECT_NE(message({}).find("usage: bench IN"), std::string::npos);
  // Help is not an error: run_mpi_benchmark prints it once and exits 0.
  EXPECT_THROW(parse({"in.h5", "-h"}), HelpRequested);
  try {
    parse({"--help"});
    ADD_FAILURE() << "--help did not ask for help";
  } catch (const HelpRequested& help) {
    EXPECT_NE(std::string(help.what()).find("usage: bench IN"), std::string::npos);
  }
  EXPECT_NE(message({"in.h5", "--profil"}).find("--profil: unknown option"), std::string::npos);
  EXPECT_NE(message({"in.h5", "out.json", "extra"}).find("extra: one argument too many"), std::string::npos);
}

}  // namespace
}  // namespace llamarec

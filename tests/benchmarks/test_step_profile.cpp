#include <gtest/gtest.h>

#include <chrono>
#include <thread>

#include "benchmarks/support/step_profile.h"
#include "core/profile_scope.h"

namespace llamarec {
namespace {

void busy_ms(int ms) { std::this_thread::sleep_for(std::chrono::milliseconds(ms)); }

class StepProfileModes : public ::testing::TestWithParam<StepProfile::Mode> {};

// Three steps of trainer-shaped scopes: ms_by_step keeps each step apart, sums a scope that repeats
// within a step, gives 0 to a step without it, and ignores what runs outside train.step.
TEST_P(StepProfileModes, KeepsEachStepApart) {
  StepProfile profile(GetParam());
  profile.start();
  const int forward_ms[] = {2, 40, 4};
  for (int s = 0; s < 3; ++s) {
    if (s == 1) {
      const ProfileScope outside("train.forward");  // between steps, not in one: validation, say
      busy_ms(150);
    }
    const ProfileScope step("train.step");
    {
      const ProfileScope forward("train.forward");
      busy_ms(forward_ms[s]);
      for (int k = 0; k < (s == 1 ? 0 : s == 2 ? 2 : 1); ++k) {
        const ProfileScope share("dp.balanced_share");
        busy_ms(3);
      }
    }
    const ProfileScope all_reduce("train.all_reduce");
    busy_ms(1);
  }
  profile.stop();

  EXPECT_EQ(profile.steps(), 3);
  const auto forward = profile.ms_by_step("train.forward");
  const auto share = profile.ms_by_step("dp.balanced_share");
  ASSERT_EQ(forward.size(), 3u);
  ASSERT_EQ(share.size(), 3u);
  // Lower bounds are exact (sleeps last at least that long); upper bounds leave room for a busy host.
  EXPECT_GE(forward[0], 2 + 3);
  EXPECT_GE(forward[1], 40);
  EXPECT_GE(forward[2], 4 + 2 * 3);
  EXPECT_GT(forward[1], forward[0]);
  EXPECT_LT(forward[0], 150);  // the 150 ms between steps 0 and 1 are in neither
  EXPECT_LT(forward[1], 150);
  EXPECT_GE(share[0], 3);
  EXPECT_EQ(share[1], 0.0);
  EXPECT_GE(share[2], 6);
  EXPECT_LE(share[0], forward[0]);
  EXPECT_EQ(profile.ms_by_step("no.such.scope"), std::vector<double>(3, 0.0));
  const auto per_step = profile.milliseconds_per_step();
  EXPECT_GE(per_step.at("train.all_reduce"), 1.0);
}

INSTANTIATE_TEST_SUITE_P(Modes, StepProfileModes,
                         ::testing::Values(StepProfile::Mode::kOps, StepProfile::Mode::kScopes),
                         [](const auto& info) { return info.param == StepProfile::Mode::kOps ? "Ops" : "Scopes"; });

}  // namespace
}  // namespace llamarec

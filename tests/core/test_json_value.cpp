#include "core/json_value.h"

#include <gtest/gtest.h>

#include "tests/test_support.h"

namespace llamarec {
namespace {

using nlohmann::json;

TEST(JsonValue, IntegersAcceptOnlyValuesThatFit) {
  EXPECT_EQ(json_as<int64_t>(json(4096)), 4096);
  EXPECT_EQ(json_as<int64_t>(json(-3)), -3);
  EXPECT_EQ(json_as<int64_t>(json(4096.0)), 4096);  // an integral float, as some exporters write it
  EXPECT_EQ(json_as<int64_t>(json(-9223372036854775807LL - 1)), std::numeric_limits<int64_t>::min());
  EXPECT_FALSE(json_as<int64_t>(json(2.7e74)));                 // the fuzzer's case: a cast would be undefined
  EXPECT_FALSE(json_as<int64_t>(json(9223372036854775808.0)));  // 2^63
  EXPECT_FALSE(json_as<int64_t>(json(18446744073709551615ULL)));
  EXPECT_FALSE(json_as<int64_t>(json(1.5)));
  EXPECT_FALSE(json_as<int64_t>(json(std::nan(""))));
  EXPECT_FALSE(json_as<int64_t>(json("12")));
  EXPECT_FALSE(json_as<int64_t>(json(true)));
  EXPECT_FALSE(json_as<int>(json(int64_t{1} << 40)));
  EXPECT_FALSE(json_as<uint64_t>(json(-1)));
  EXPECT_EQ(json_as<uint64_t>(json(18446744073709551615ULL)), 18446744073709551615ULL);
}

TEST(JsonValue, OtherKindsMatchExactly) {
  EXPECT_EQ(json_as<double>(json(3)), 3.0);
  EXPECT_FALSE(json_as<double>(json("3")));
  EXPECT_EQ(json_as<bool>(json(false)), false);
  EXPECT_FALSE(json_as<bool>(json(0)));
  EXPECT_EQ(json_as<std::string>(json("a")), "a");
  EXPECT_EQ((json_as<std::vector<std::string>>(json::parse(R"(["q_proj","v_proj"])"))),
            (std::vector<std::string>{"q_proj", "v_proj"}));
  EXPECT_FALSE((json_as<std::vector<std::string>>(json::parse(R"(["q_proj",1])"))));
}

TEST(JsonValue, FieldErrorsNameTheFileAndKey) {
  const auto object = json::parse(R"({"step": 2.7e74, "lr": null})");
  try {
    json_field<int64_t>(object, "step", "run/state.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "run/state.json: key 'step' has the wrong type or is out of range (2.7e+74)");
  }
  try {
    json_field<double>(object, "epoch", "run/state.json");
    FAIL() << "no error";
  } catch (const Error& e) {
    EXPECT_STREQ(e.what(), "run/state.json: key 'epoch' missing");
  }
  EXPECT_EQ(json_field_or(object, "lr", 0.5, "f"), 0.5);
  EXPECT_EQ(json_field_or(object, "absent", int64_t{7}, "f"), 7);
}

TEST(JsonValue, ParseErrorsNameTheFileWithoutNlohmannsText) {
  EXPECT_EQ(testing::error_of([] { parse_json("run/state.json", "; delete it", std::string(R"({"step": )")); }),
            "run/state.json: not valid JSON (damaged near byte 10); delete it");
  // Beyond double's range nlohmann throws out_of_range, not parse_error, while parsing.
  EXPECT_EQ(testing::error_of([] { parse_json("config.json", "", std::string(R"({"eos_token_id": 2.7e7000})")); }),
            "config.json: not valid JSON (a number too large for a double)");
}

}  // namespace
}  // namespace llamarec

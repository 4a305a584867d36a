#include <catch2/catch.hpp>

#include "days_between.h"

TEST_CASE("the same date") {
    REQUIRE(days_between::count("2024-05-17", "2024-05-17") == 0);
}

#if defined(EXERCISM_RUN_ALL_TESTS)
TEST_CASE("within a month") {
    REQUIRE(days_between::count("2024-05-01", "2024-05-17") == 16);
}

TEST_CASE("across a leap day") {
    REQUIRE(days_between::count("2024-02-28", "2024-03-01") == 2);
}

TEST_CASE("backwards is negative") {
    REQUIRE(days_between::count("2023-01-01", "2022-01-01") == -365);
}
#endif

#include <catch2/catch.hpp>

#include "sum_of_squares.h"

TEST_CASE("the first number alone") {
    REQUIRE(sum_of_squares::sum_up_to(1) == 1);
}

#if defined(EXERCISM_RUN_ALL_TESTS)
TEST_CASE("the first three numbers") {
    REQUIRE(sum_of_squares::sum_up_to(3) == 14);
}

TEST_CASE("the first ten numbers") {
    REQUIRE(sum_of_squares::sum_up_to(10) == 385);
}

TEST_CASE("zero and negative counts give zero") {
    REQUIRE(sum_of_squares::sum_up_to(0) == 0);
    REQUIRE(sum_of_squares::sum_up_to(-4) == 0);
}
#endif

#include <catch2/catch.hpp>

#include "caesar_shift.h"

TEST_CASE("a key of zero changes nothing") {
    REQUIRE(caesar_shift::shift("abc", 0) == "abc");
}

#if defined(EXERCISM_RUN_ALL_TESTS)
TEST_CASE("a key of one") {
    REQUIRE(caesar_shift::shift("abc", 1) == "bcd");
}

TEST_CASE("letters wrap around") {
    REQUIRE(caesar_shift::shift("xyz", 3) == "abc");
}

TEST_CASE("case and punctuation are kept") {
    REQUIRE(caesar_shift::shift("Hi, zoo!", 1) == "Ij, app!");
}
#endif

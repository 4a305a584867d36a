// Catch2 v2 provides main() for the test executable.
#define CATCH_CONFIG_MAIN
#include <catch2/catch.hpp>

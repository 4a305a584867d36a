#include "sum_of_squares.h"

namespace sum_of_squares {

long long sum_up_to(int n) {
    return static_cast<long long>(n) * n;
}

}  // namespace sum_of_squares

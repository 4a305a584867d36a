#include "sum_of_squares.h"

namespace sum_of_squares {

long long sum_up_to(int n) {
    long long total = 0;
    for (long long i = 1; i <= n; ++i) {
        total += i * i;
    }
    return total;
}

}  // namespace sum_of_squares

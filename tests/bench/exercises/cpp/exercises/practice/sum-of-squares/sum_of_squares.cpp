#include "sum_of_squares.h"

namespace sum_of_squares {

long long sum_up_to(int) {
    return -1;
}

}  // namespace sum_of_squares

#pragma once

namespace sum_of_squares {

long long sum_up_to(int n);

}  // namespace sum_of_squares

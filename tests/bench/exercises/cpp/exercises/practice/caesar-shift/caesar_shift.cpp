#include "caesar_shift.h"

namespace caesar_shift {

std::string shift(const std::string&, int) {
    return "not implemented";
}

}  // namespace caesar_shift

#include "days_between.h"

namespace days_between {

long count(const std::string&, const std::string&) {
    return -1;
}

}  // namespace days_between

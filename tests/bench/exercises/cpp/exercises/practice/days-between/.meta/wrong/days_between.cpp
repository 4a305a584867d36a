#include "days_between.h"

namespace days_between {

// Thirty days to every month, twelve months to every year.
long count(const std::string& from, const std::string& to) {
    auto days = [](const std::string& date) {
        return std::stol(date.substr(0, 4)) * 360 + std::stol(date.substr(5, 2)) * 30 + std::stol(date.substr(8, 2));
    };
    return days(to) - days(from);
}

}  // namespace days_between

#include "days_between.h"

#include <boost/date_time/gregorian/gregorian.hpp>

namespace days_between {

long count(const std::string& from, const std::string& to) {
    using boost::gregorian::from_simple_string;
    return (from_simple_string(to) - from_simple_string(from)).days();
}

}  // namespace days_between

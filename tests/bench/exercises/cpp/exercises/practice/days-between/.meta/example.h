#pragma once

#include <string>

namespace days_between {

long count(const std::string& from, const std::string& to);

}  // namespace days_between

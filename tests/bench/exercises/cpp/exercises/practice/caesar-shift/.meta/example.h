#pragma once

#include <string>

namespace caesar_shift {

std::string shift(const std::string& text, int key);

}  // namespace caesar_shift

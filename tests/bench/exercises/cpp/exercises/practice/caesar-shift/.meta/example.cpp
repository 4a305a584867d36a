#include "caesar_shift.h"

namespace caesar_shift {

std::string shift(const std::string& text, int key) {
    std::string out = text;
    for (char& c : out) {
        if (c >= 'a' && c <= 'z') {
            c = static_cast<char>('a' + (c - 'a' + key) % 26);
        } else if (c >= 'A' && c <= 'Z') {
            c = static_cast<char>('A' + (c - 'A' + key) % 26);
        }
    }
    return out;
}

}  // namespace caesar_shift

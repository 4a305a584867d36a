def digit_sum(number):
    if number < 0:
        raise ValueError("number must be non-negative")
    return sum(int(digit) for digit in str(number))

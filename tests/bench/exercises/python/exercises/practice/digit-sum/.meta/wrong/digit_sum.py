def digit_sum(number):
    return len(str(number))

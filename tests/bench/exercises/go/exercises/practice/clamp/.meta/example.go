package clamp

import "errors"

func Clamp(value, low, high int) (int, error) {
	if low > high {
		return 0, errors.New("empty range")
	}
	if value < low {
		return low, nil
	}
	if value > high {
		return high, nil
	}
	return value, nil
}

package clamp

func Clamp(value, low, high int) (int, error) {
	if value < low {
		return low, nil
	}
	if value > high {
		return high, nil
	}
	return value, nil
}

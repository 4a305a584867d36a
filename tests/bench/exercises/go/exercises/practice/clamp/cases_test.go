package clamp

var cases = []struct {
	description      string
	value, low, high int
	expected         int
	expectError      bool
}{
	{"inside the range", 5, 1, 10, 5, false},
	{"below the range", -3, 0, 10, 0, false},
	{"above the range", 42, 0, 10, 10, false},
	{"on the lower bound", 0, 0, 10, 0, false},
	{"a range of one value", 7, 3, 3, 3, false},
	{"an empty range", 5, 10, 1, 0, true},
}

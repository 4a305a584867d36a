package reversewords

import "testing"

func TestReverseWords(t *testing.T) {
	tests := map[string]string{
		"":                 "",
		"one":              "one",
		"the quick  fox":   "fox quick the",
		"  spaced   out  ": "out spaced",
		"abc def":          "def abc",
	}
	for input, want := range tests {
		if got := ReverseWords(input); got != want {
			t.Errorf("ReverseWords(%q) = %q, want %q", input, got, want)
		}
	}
}

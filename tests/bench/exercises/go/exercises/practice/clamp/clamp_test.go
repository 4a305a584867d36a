package clamp

import "testing"

func TestClamp(t *testing.T) {
	for _, tc := range cases {
		t.Run(tc.description, func(t *testing.T) {
			got, err := Clamp(tc.value, tc.low, tc.high)
			if tc.expectError {
				if err == nil {
					t.Fatalf("Clamp(%d, %d, %d) returned no error, want one", tc.value, tc.low, tc.high)
				}
				return
			}
			if err != nil {
				t.Fatalf("Clamp(%d, %d, %d) returned error %v", tc.value, tc.low, tc.high, err)
			}
			if got != tc.expected {
				t.Fatalf("Clamp(%d, %d, %d) = %d, want %d", tc.value, tc.low, tc.high, got, tc.expected)
			}
		})
	}
}

package routes

import "testing"

// TestSleep: the sleep ends with its timer, or at once when done closes.
func TestSleep(t *testing.T) {
	closed := make(chan struct{})
	close(closed)
	tests := []struct {
		name string
		ms   int
		done chan struct{}
		want bool
	}{
		{"no wait", 0, nil, true},
		{"a short wait", 1, make(chan struct{}), true},
		{"shut down", MaxSleep, closed, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := Sleep(tt.ms, tt.done); got != tt.want {
				t.Errorf("Sleep(%d) = %v, want %v", tt.ms, got, tt.want)
			}
		})
	}
}

// TestCases: every case has a name of its own, and the extra cases come
// last.
func TestCases(t *testing.T) {
	extra := Case{Name: "extra", Req: Request{Method: "GET", URI: "/x"}, Want: Response{Status: 404}}
	cs := Cases(extra)
	seen := map[string]bool{}
	for _, c := range cs {
		if seen[c.Name] {
			t.Errorf("two cases named %q", c.Name)
		}
		seen[c.Name] = true
	}
	if cs[len(cs)-1] != extra {
		t.Errorf("last case %+v, want %+v", cs[len(cs)-1], extra)
	}
}

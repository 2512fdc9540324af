package scenarios

import "testing"

func TestParseSizeValid(t *testing.T) {
	tests := []struct {
		in   string
		want int64
	}{
		{"0", 0},
		{"2048", 2048},
		{"100B", 100},
		{"64KiB", 64 << 10},
		{"10MiB", 10 << 20},
		{"1GiB", 1 << 30},
		{"100kB", 100000},
		{"1MB", 1000000},
		{" 5 KB ", 5000},
	}
	for _, tt := range tests {
		got, err := ParseSize(tt.in)
		if err != nil || got != tt.want {
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tt.in, got, err, tt.want)
		}
	}
}

func TestParseSizeInvalid(t *testing.T) {
	for _, in := range []string{"", "-1", "10 parsecs", "1.5MiB", "2GiB", "1TB", "MiB", "10mib", "9999999999999"} {
		if got, err := ParseSize(in); err == nil {
			t.Errorf("ParseSize(%q) = %d, want an error", in, got)
		}
	}
}

func TestParseReplyValid(t *testing.T) {
	tests := []struct {
		in   string
		want string
	}{
		{"250", "250"},
		{"550 5.1.1", "550 5.1.1"},
		{"552  5.3.4", "552 5.3.4"},
		{"421 4.4.2", "421 4.4.2"},
		{"250 2.1.10", "250 2.1.10"},
	}
	for _, tt := range tests {
		r, err := ParseReply(tt.in)
		if err != nil || r.String() != tt.want {
			t.Errorf("ParseReply(%q) = %v, %v; want %s", tt.in, r, err, tt.want)
		}
	}
}

func TestParseReplyInvalid(t *testing.T) {
	for _, in := range []string{"", "55", "5500", "150", "650", "abc", "550 4.1.1", "550 5.1", "550 5.1.1.1", "550 x.1.1", "550 5.1.1 text"} {
		if r, err := ParseReply(in); err == nil {
			t.Errorf("ParseReply(%q) = %v, want an error", in, r)
		}
	}
}

func TestReplyMatch(t *testing.T) {
	r := Reply{Code: 550}
	if !r.Match(550, "5.7.1") || r.Match(551, "") {
		t.Errorf("550 without enhanced code should match any 550 and only 550")
	}
	r.Enhanced = "5.1.1"
	if r.Match(550, "5.7.1") || !r.Match(550, "5.1.1") {
		t.Errorf("550 5.1.1 should match only 550 5.1.1")
	}
}

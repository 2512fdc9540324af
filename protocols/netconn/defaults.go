package netconn

import "time"

// SetDefault sets *v to def when it is zero or negative: the rule every
// server's Options follows ("0 means the documented default").
func SetDefault[T int | int64 | time.Duration](v *T, def T) {
	if *v <= 0 {
		*v = def
	}
}

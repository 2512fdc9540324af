package imap

import (
	"errors"
	"strconv"
	"strings"
)

// ParseSeqSet parses a sequence set such as "1:4,7,9:*" (RFC 3501 section
// 9, sequence-set). "*" becomes 0 in a SeqRange. "$" (SEARCHRES) is not
// supported.
func ParseSeqSet(s string) (SeqSet, error) {
	if s == "" {
		return nil, errors.New("imap: empty sequence set")
	}
	var set SeqSet
	for part := range strings.SplitSeq(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := parseSeqNumber(lo)
		if err != nil {
			return nil, err
		}
		b := a
		if isRange {
			if b, err = parseSeqNumber(hi); err != nil {
				return nil, err
			}
		}
		set = append(set, SeqRange{Start: a, Stop: b})
	}
	return set, nil
}

// parseSeqNumber parses seq-number (RFC 3501 section 9: nz-number / "*").
func parseSeqNumber(s string) (uint32, error) {
	if s == "*" {
		return 0, nil
	}
	if s == "" {
		return 0, errors.New("imap: sequence set has an empty number (\"1:\" or \",,\")")
	}
	if s[0] < '1' || s[0] > '9' {
		return 0, errors.New("imap: sequence set number " + strconv.Quote(s) + " must be a non-zero number or \"*\"")
	}
	n, err := strconv.ParseUint(s, 10, 32)
	if err != nil {
		return 0, errors.New("imap: sequence set number " + strconv.Quote(s) + " is not a 32-bit number")
	}
	return uint32(n), nil
}

// Contains reports whether n is in the set, with "*" standing for max (the
// largest sequence number or UID in use). RFC 3501 section 9: "a:b" and
// "b:a" are the same range.
func (s SeqSet) Contains(n, max uint32) bool {
	for _, r := range s {
		lo, hi := r.bounds(max)
		if lo <= n && n <= hi {
			return true
		}
	}
	return false
}

// bounds returns the range in ascending order with "*" replaced by max.
func (r SeqRange) bounds(max uint32) (lo, hi uint32) {
	lo, hi = r.Start, r.Stop
	if lo == 0 {
		lo = max
	}
	if hi == 0 {
		hi = max
	}
	if lo > hi {
		lo, hi = hi, lo
	}
	return lo, hi
}

// Bounds returns the range in ascending order, "*" replaced by max.
func (r SeqRange) Bounds(max uint32) (lo, hi uint32) { return r.bounds(max) }

// Dynamic reports whether the set mentions "*".
func (s SeqSet) Dynamic() bool {
	for _, r := range s {
		if r.Start == 0 || r.Stop == 0 {
			return true
		}
	}
	return false
}

// String renders the set as on the wire: "1:4,7,9:*".
func (s SeqSet) String() string {
	var b strings.Builder
	for i, r := range s {
		if i > 0 {
			b.WriteByte(',')
		}
		writeSeqNum(&b, r.Start)
		if r.Stop != r.Start {
			b.WriteByte(':')
			writeSeqNum(&b, r.Stop)
		}
	}
	return b.String()
}

func writeSeqNum(b *strings.Builder, n uint32) {
	if n == 0 {
		b.WriteByte('*')
		return
	}
	b.WriteString(strconv.FormatUint(uint64(n), 10))
}

// SeqSetOf returns a compact set of the given numbers, which must be in
// ascending order: 1,2,3,5 gives "1:3,5". UIDPLUS uses it for COPYUID.
func SeqSetOf(nums []uint32) SeqSet {
	var s SeqSet
	for _, n := range nums {
		if l := len(s); l > 0 && s[l-1].Stop+1 == n {
			s[l-1].Stop = n
			continue
		}
		s = append(s, SeqRange{Start: n, Stop: n})
	}
	return s
}

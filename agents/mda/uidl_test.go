package mda

import (
	"strings"
	"testing"
)

func TestUIDLIsTheKeyWhenValid(t *testing.T) {
	key := "1768469400.M0P42Q1.mda.b.test,S=512"
	if got := uidl(key); got != key {
		t.Errorf("uidl(%q) = %q", key, got)
	}
	// RFC 1939 section 7: 1 to 70 characters in 0x21..0x7E.
	for _, bad := range []string{strings.Repeat("k", 71), "has space", "caf\u00e9", ""} {
		got := uidl(bad)
		if len(got) != 33 || got[0] != 'K' || got != uidl(bad) {
			t.Errorf("uidl(%q) = %q, want K and 32 hex digits, stable", bad, got)
		}
	}
	if uidl(strings.Repeat("k", 71)) == uidl(strings.Repeat("k", 72)) {
		t.Error("two long keys share a unique-id")
	}
}

package explain

import (
	"strings"

	"github.com/maillab/maillab/protocols/wire"
)

// TLS events are not protocol lines: the transcript tap records a line for
// a completed handshake and one per TLS record seen on the socket (see
// package transcripts, KindTLS and KindWire):
//
//	≡  TLS 1.3 handshake done: cipher TLS_AES_128_GCM_SHA256, server certificate ...
//	C: [TLS record: application data, 41 bytes]
//
// Renderers pass them as protocol "tls"; the catalogue's tls section keys
// them under data: "handshake", "record <type>", "not a record".
//
// Standards: RFC 8446 (TLS 1.3), RFC 5246 (TLS 1.2), RFC 3207 and RFC 2595
// (STARTTLS), RFC 8314 (implicit TLS).
func init() { explainers["tls"] = explainTLS }

// explainTLS explains a handshake line (dir 0) or a record line.
func explainTLS(s *section, dir wire.Direction, line string) string {
	if rest, ok := strings.CutPrefix(line, "TLS record: "); ok {
		typ, _, _ := strings.Cut(rest, ",")
		return s.Data["record "+typ]
	}
	if strings.HasPrefix(line, "not a TLS record") {
		return s.Data["not a record"]
	}
	if dir == 0 && strings.Contains(line, " handshake done: ") {
		return s.Data["handshake"]
	}
	return ""
}

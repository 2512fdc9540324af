package smtpclient

import (
	"bufio"
	"errors"
	"fmt"
	"io"
	"strconv"
	"strings"

	"github.com/maillab/maillab/protocols/smtp"
	"github.com/maillab/maillab/protocols/wire"
)

// MaxReplyLineBytes bounds one reply line, CRLF included. RFC 5321 section
// 4.5.3.1.5 sets 512 octets; the client tolerates up to 4096.
const MaxReplyLineBytes = 4096

// DefaultMaxReplyLines is the default of Options.MaxReplyLines.
const DefaultMaxReplyLines = 100

// ErrMalformedReply is wrapped by every error about a reply that breaks the
// grammar of RFC 5321 section 4.2.
var ErrMalformedReply = errors.New("smtpclient: malformed reply")

// Class returns the first digit of the code: 2 success, 3 intermediate,
// 4 transient failure, 5 permanent failure (RFC 5321 section 4.2.1).
func (r *Reply) Class() int { return r.Code / 100 }

// Text returns the text of the reply's lines joined by "\n".
func (r *Reply) Text() string { return strings.Join(r.Lines, "\n") }

// String renders the reply as it crossed the wire, lines joined by "\n"
// without CRLF; the enhanced code is shown on the first line only.
func (r *Reply) String() string {
	var b strings.Builder
	for i, text := range r.Lines {
		if i > 0 {
			b.WriteByte('\n')
		}
		b.WriteString(strconv.Itoa(r.Code))
		if i < len(r.Lines)-1 {
			b.WriteByte('-')
		} else {
			b.WriteByte(' ')
		}
		if i == 0 && r.Enhanced != "" {
			b.WriteString(r.Enhanced)
			if text != "" {
				b.WriteByte(' ')
			}
		}
		b.WriteString(text)
	}
	return b.String()
}

// Err returns the reply as an *smtp.Error when it is a 4yz or 5yz, and nil
// otherwise.
func (r *Reply) Err() error {
	if r.Code < 400 {
		return nil
	}
	return r.smtpError()
}

func (r *Reply) smtpError() *smtp.Error {
	return &smtp.Error{Code: smtp.Code(r.Code), Enhanced: r.Enhanced, Message: r.Text()}
}

// readReply reads one complete reply (RFC 5321 section 4.2):
//
//	Reply-line = *( Reply-code "-" [ textstring ] CRLF )
//	             Reply-code [ SP textstring ] CRLF
//
// maxLines <= 0 means DefaultMaxReplyLines.
func readReply(br *bufio.Reader, maxLines int) (*Reply, error) {
	if maxLines <= 0 {
		maxLines = DefaultMaxReplyLines
	}
	r := &Reply{}
	for n := 0; ; n++ {
		if n == maxLines {
			return nil, fmt.Errorf("%w: more than %d lines", ErrMalformedReply, maxLines)
		}
		raw, err := wire.ReadLine(br, MaxReplyLineBytes)
		switch {
		case errors.Is(err, wire.ErrLineTooLong):
			return nil, fmt.Errorf("%w: line longer than %d octets: %w", ErrMalformedReply, MaxReplyLineBytes, err)
		case errors.Is(err, io.EOF) && n > 0:
			return nil, fmt.Errorf("smtpclient: connection closed inside a multi-line reply: %w", io.ErrUnexpectedEOF)
		case errors.Is(err, io.ErrUnexpectedEOF):
			return nil, fmt.Errorf("smtpclient: connection closed inside reply line %s: %w", quote(raw), err)
		case err != nil:
			return nil, fmt.Errorf("smtpclient: reading reply: %w", err)
		}
		line := string(raw)
		code, last, text, err := parseReplyLine(line)
		if err != nil {
			return nil, err
		}
		if n == 0 {
			r.Code = code
			// RFC 2034 section 4 and RFC 3463 section 2: the enhanced code
			// follows the reply code; its class must agree with the
			// reply's first digit, otherwise it is ordinary text.
			if enh, rest, ok := splitEnhanced(text, code); ok {
				r.Enhanced, text = enh, rest
			}
		} else {
			if code != r.Code {
				return nil, fmt.Errorf("%w: line %s has code %d inside a %d reply", ErrMalformedReply, quote(raw), code, r.Code)
			}
			// RFC 2034 repeats the enhanced code on every line; strip it
			// only when it is the same as the first line's.
			if enh, rest, ok := splitEnhanced(text, code); ok && enh == r.Enhanced {
				text = rest
			}
		}
		r.Lines = append(r.Lines, text)
		if last {
			return r, nil
		}
	}
}

// parseReplyLine splits one reply line into its code, whether it is the last
// line (SP or nothing after the code) and its text.
func parseReplyLine(line string) (code int, last bool, text string, err error) {
	// RFC 5321 section 4.2: Reply-code = %x32-35 %x30-35 %x30-39.
	if len(line) < 3 || line[0] < '2' || line[0] > '5' || line[1] < '0' || line[1] > '5' || line[2] < '0' || line[2] > '9' {
		return 0, false, "", fmt.Errorf("%w: line %s does not start with a reply code 200-559", ErrMalformedReply, quote([]byte(line)))
	}
	code = int(line[0]-'0')*100 + int(line[1]-'0')*10 + int(line[2]-'0')
	if len(line) == 3 {
		return code, true, "", nil
	}
	switch line[3] {
	case ' ':
		return code, true, line[4:], nil
	case '-':
		return code, false, line[4:], nil
	}
	return 0, false, "", fmt.Errorf("%w: line %s: the code must be followed by a space or '-'", ErrMalformedReply, quote([]byte(line)))
}

// splitEnhanced splits a leading RFC 3463 status code ("5.1.1") off text when
// it looks like one (class "." 1*3digit "." 1*3digit, then a space or the
// end) and its class matches the reply code's first digit.
func splitEnhanced(text string, code int) (enh, rest string, ok bool) {
	end := strings.IndexByte(text, ' ')
	if end < 0 {
		end = len(text)
	}
	cand := text[:end]
	parts := strings.Split(cand, ".")
	if len(parts) != 3 || len(parts[0]) != 1 || parts[0][0] != byte('0'+code/100) {
		return "", text, false
	}
	// RFC 3463 section 2: class is 2, 4 or 5.
	if c := parts[0][0]; c != '2' && c != '4' && c != '5' {
		return "", text, false
	}
	for _, p := range parts[1:] {
		if len(p) < 1 || len(p) > 3 {
			return "", text, false
		}
		for i := 0; i < len(p); i++ {
			if p[i] < '0' || p[i] > '9' {
				return "", text, false
			}
		}
	}
	rest = text[end:]
	rest = strings.TrimPrefix(rest, " ")
	return cand, rest, true
}

// quote renders a line for an error message, cut to a readable length.
func quote(b []byte) string {
	const max = 80
	if len(b) > max {
		return strconv.Quote(string(b[:max])) + "..."
	}
	return strconv.Quote(string(b))
}

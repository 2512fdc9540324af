package smtpclient

import (
	"bufio"
	"errors"
	"io"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/maillab/maillab/protocols/smtp"
)

func TestReadReplyValid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want Reply
	}{
		{"single line", "250 OK\r\n", Reply{Code: 250, Lines: []string{"OK"}}},
		{"bare LF", "250 OK\n", Reply{Code: 250, Lines: []string{"OK"}}},
		{"code only", "250\r\n", Reply{Code: 250, Lines: []string{""}}},
		{"enhanced", "550 5.1.1 No such user\r\n", Reply{Code: 550, Enhanced: "5.1.1", Lines: []string{"No such user"}}},
		{"enhanced alone", "250 2.0.0\r\n", Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{""}}},
		{"enhanced class differs: text", "250 5.1.1 odd\r\n", Reply{Code: 250, Lines: []string{"5.1.1 odd"}}},
		{"version number is text", "220 mx.b.test ESMTP 2.0.0\r\n", Reply{Code: 220, Lines: []string{"mx.b.test ESMTP 2.0.0"}}},
		{"not quite enhanced", "250 2.0 ok\r\n", Reply{Code: 250, Lines: []string{"2.0 ok"}}},
		{"four digit subject", "250 2.1000.0 ok\r\n", Reply{Code: 250, Lines: []string{"2.1000.0 ok"}}},
		{"enhanced glued to text", "250 2.0.0ok\r\n", Reply{Code: 250, Lines: []string{"2.0.0ok"}}},
		{
			"multi-line EHLO",
			"250-mx.b.test greets client.a.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250 8BITMIME\r\n",
			Reply{Code: 250, Lines: []string{"mx.b.test greets client.a.test", "PIPELINING", "SIZE 10240000", "8BITMIME"}},
		},
		{
			"enhanced on every line",
			"550-5.7.1 Relaying denied.\r\n550 5.7.1 Ask your postmaster.\r\n",
			Reply{Code: 550, Enhanced: "5.7.1", Lines: []string{"Relaying denied.", "Ask your postmaster."}},
		},
		{
			"other enhanced later kept as text",
			"250-2.0.0 one\r\n250 2.1.0 two\r\n",
			Reply{Code: 250, Enhanced: "2.0.0", Lines: []string{"one", "2.1.0 two"}},
		},
		{"empty continuation", "250-\r\n250 end\r\n", Reply{Code: 250, Lines: []string{"", "end"}}},
		{"highest code", "559 x\r\n", Reply{Code: 559, Lines: []string{"x"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			br := bufio.NewReader(strings.NewReader(tt.in + "250 next\r\n"))
			got, err := readReply(br, 0)
			if err != nil {
				t.Fatalf("readReply(%q): %v", tt.in, err)
			}
			if diff := cmp.Diff(tt.want, *got); diff != "" {
				t.Errorf("readReply(%q) (-want +got):\n%s", tt.in, diff)
			}
			// The reply ends where it should: the next one is intact.
			next, err := readReply(br, 0)
			if err != nil || next.Text() != "next" {
				t.Errorf("next reply = %v, %v; want 250 next", next, err)
			}
		})
	}
}

func TestReadReplyInvalid(t *testing.T) {
	tests := []struct {
		name string
		in   string
		want error
	}{
		{"empty line", "\r\n", ErrMalformedReply},
		{"short code", "25\r\n", ErrMalformedReply},
		{"letters", "OK ready\r\n", ErrMalformedReply},
		{"1yz does not exist", "199 hi\r\n", ErrMalformedReply},
		{"6yz does not exist", "600 hi\r\n", ErrMalformedReply},
		{"second digit over 5", "260 hi\r\n", ErrMalformedReply},
		{"no separator", "250OK\r\n", ErrMalformedReply},
		{"tab separator", "250\tOK\r\n", ErrMalformedReply},
		{"code changes", "250-a\r\n251 b\r\n", ErrMalformedReply},
		{"garbage continuation", "250-a\r\nhello\r\n", ErrMalformedReply},
		{"line too long", "250 " + strings.Repeat("x", MaxReplyLineBytes) + "\r\n", ErrMalformedReply},
		{"too many lines", strings.Repeat("250-x\r\n", DefaultMaxReplyLines) + "250 x\r\n", ErrMalformedReply},
		{"closed inside multi-line", "250-a\r\n", io.ErrUnexpectedEOF},
		{"closed inside line", "250 no newline", io.ErrUnexpectedEOF},
		{"closed before reply", "", io.EOF},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := readReply(bufio.NewReader(strings.NewReader(tt.in)), 0)
			if !errors.Is(err, tt.want) {
				t.Fatalf("readReply(%.40q) = %v, %v; want error %v", tt.in, got, err, tt.want)
			}
			if !strings.HasPrefix(err.Error(), "smtpclient: ") {
				t.Errorf("error %q lacks the package prefix", err)
			}
		})
	}
}

func TestReadReplyLongLineTolerated(t *testing.T) {
	// Longer than RFC 5321's 512, within the 4096 the client tolerates.
	text := strings.Repeat("x", 2000)
	r, err := readReply(bufio.NewReader(strings.NewReader("250 "+text+"\r\n")), 0)
	if err != nil || r.Text() != text {
		t.Fatalf("readReply(2004 octets) = %v, %v", r, err)
	}
}

func TestReplyStringAndErr(t *testing.T) {
	r := &Reply{Code: 550, Enhanced: "5.7.1", Lines: []string{"Relaying denied.", "Ask your postmaster."}}
	if got, want := r.String(), "550-5.7.1 Relaying denied.\n550 Ask your postmaster."; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	var se *smtp.Error
	if !errors.As(r.Err(), &se) || se.Code != 550 || se.Enhanced != "5.7.1" || se.Message != "Relaying denied.\nAsk your postmaster." {
		t.Errorf("Err() = %#v", r.Err())
	}
	if err := (&Reply{Code: 354, Lines: []string{"go"}}).Err(); err != nil {
		t.Errorf("354 Err() = %v, want nil", err)
	}
}

func FuzzReadReply(f *testing.F) {
	for _, s := range []string{
		"220 mx.b.test ESMTP maillab\r\n",
		"250-mx.b.test\r\n250-PIPELINING\r\n250-SIZE 10240000\r\n250-8BITMIME\r\n250-ENHANCEDSTATUSCODES\r\n250 AUTH PLAIN LOGIN\r\n",
		"250 2.1.0 Sender OK\r\n",
		"550 5.1.1 <bob@b.test>: No such user\r\n",
		"550-5.7.1 Relaying denied.\r\n550 5.7.1 Ask your postmaster.\r\n",
		"354 End data with <CR><LF>.<CR><LF>\r\n",
		"452 4.5.3 Too many recipients\n",
		"554 No SMTP service here\r\n",
		"221 2.0.0 Bye\r\n",
		"250\r\n",
		"250-\r\n250 x\r\n",
		"250-a\r\n251 b\r\n",
		"250OK\r\n",
		"25",
		"",
	} {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		r, err := readReply(bufio.NewReader(strings.NewReader(string(data))), 10)
		if err != nil {
			if r != nil {
				t.Fatalf("reply %v returned with error %v", r, err)
			}
			return
		}
		if r.Code < 200 || r.Code > 559 || len(r.Lines) == 0 || len(r.Lines) > 10 {
			t.Fatalf("impossible reply %#v", r)
		}
		if r.Enhanced != "" && r.Enhanced[0] != byte('0'+r.Class()) {
			t.Fatalf("enhanced %q in a %d reply", r.Enhanced, r.Code)
		}
		// What String renders parses back to the same reply.
		again, err := readReply(bufio.NewReader(strings.NewReader(strings.ReplaceAll(r.String(), "\n", "\r\n")+"\r\n")), 10)
		if err != nil {
			t.Fatalf("re-reading %q: %v", r.String(), err)
		}
		if diff := cmp.Diff(r, again); diff != "" {
			t.Fatalf("round trip of %q (-first +again):\n%s", data, diff)
		}
	})
}

func bufioReader(s string) *bufio.Reader { return bufio.NewReader(strings.NewReader(s)) }

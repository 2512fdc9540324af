package imapmsg

import (
	"strings"
	"testing"

	"github.com/maillab/maillab/protocols/mail"
)

// crlf turns the LFs of a readable test message into CRLF.
func crlf(s string) string { return strings.ReplaceAll(s, "\n", "\r\n") }

func parse(t testing.TB, raw string) *mail.Part {
	t.Helper()
	p, err := mail.ParseMessage([]byte(raw))
	if err != nil {
		t.Fatalf("ParseMessage: %v", err)
	}
	return p
}

// Test messages. Sizes in the expected strings were counted by hand: each
// line ends in CRLF (2 octets); the CRLF before a boundary belongs to it.
var (
	// Body "Hi Bob,\r\nSee you.\r\n": 7+2+8+2 = 19 octets, 2 lines.
	msgPlain = crlf(`Date: Thu, 15 Jan 2026 10:30:00 +0100
From: Alice Ruiz <alice@a.test>
To: bob@b.test
Subject: Hello
Message-ID: <1@a.test>

Hi Bob,
See you.
`)

	// Parts "Hi" (2, 1 line) and "<p>Hi</p>" (9, 1 line).
	msgAlternative = crlf(`From: alice@a.test
To: bob@b.test
Subject: Alt
MIME-Version: 1.0
Content-Type: multipart/alternative; boundary="b1"

--b1
Content-Type: text/plain; charset=utf-8

Hi
--b1
Content-Type: text/html; charset=utf-8
Content-Transfer-Encoding: quoted-printable

<p>Hi</p>
--b1--
`)

	// Parts "See attached." (13, 1 line) and "JVBERi0xLjQK" (12).
	msgMixed = crlf(`From: "Ruiz, Alice" <alice@a.test>
To: bob@b.test
Subject: Report
Content-Type: multipart/mixed; boundary=mix

This is a multi-part message in MIME format.
--mix
Content-Type: text/plain

See attached.
--mix
Content-Type: application/pdf; name="report.pdf"
Content-Transfer-Encoding: base64
Content-Disposition: attachment; filename="report.pdf"
Content-Description: The report
Content-ID: <r1@a.test>
Content-Language: en, de
Content-Location: http://a.test/report.pdf
Content-MD5: Q2hlY2sgSW50ZWdyaXR5IQ==

JVBERi0xLjQK
--mix--
Epilogue.
`)

	// 1 = multipart/alternative (1.1 "plain" 5, 1.2 "<b>html</b>" 11),
	// 2 = image/png "iVBORw0KGgo=" (12).
	msgNested = crlf(`From: alice@a.test
Subject: Nested
Content-Type: multipart/mixed; boundary=outer

--outer
Content-Type: multipart/alternative; boundary=inner

--inner
Content-Type: text/plain; charset=us-ascii

plain
--inner
Content-Type: text/html; charset=us-ascii

<b>html</b>
--inner--

--outer
Content-Type: image/png; name=dot.png
Content-Transfer-Encoding: base64
Content-Disposition: inline

iVBORw0KGgo=
--outer--
`)

	// 1 = text/plain "FYI" (3, 1 line); 2 = message/rfc822 whose body is
	// the embedded message below, up to "See you." (no final CRLF):
	// header lines 33+16+16+39 = 104, empty line 2, body 9+8 = 17:
	// 123 octets, 7 lines; its own body 17 octets, 2 lines.
	msgRFC822 = crlf(`From: carol@c.test
To: bob@b.test
Subject: Fwd: Hello
Content-Type: multipart/mixed; boundary="outer"

--outer
Content-Type: text/plain

FYI
--outer
Content-Type: message/rfc822
Content-Description: forwarded

From: Alice Ruiz <alice@a.test>
To: bob@b.test
Subject: Hello
Date: Thu, 15 Jan 2026 10:30:00 +0100

Hi Bob,
See you.
--outer--
`)

	msgGroups = crlf(`From: Alice <alice@a.test>
To: undisclosed-recipients:;
Cc: Team: bob@b.test, "Carol C." <carol@c.test>;, dave@d.test
Bcc:
Reply-To:
Sender: <list@a.test>
Subject: =?UTF-8?q?Reuni=C3=B3n?=

x
`)
)

func mailParse(raw []byte) (*mail.Part, error) { return mail.ParseMessage(raw) }

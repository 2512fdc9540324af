package mailbox

import (
	"encoding/base64"
	"errors"
	"fmt"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// ErrBadFolder is returned for a folder name that cannot name a folder.
var ErrBadFolder = errors.New("mailbox: bad folder name")

// Inbox is the name of the folder that is the Maildir itself. Any case
// names it: RFC 3501 section 5.1, "The case-insensitive mailbox name INBOX
// is a special name reserved to mean 'the primary mailbox for this user'".
const Inbox = "INBOX"

// Separator is the hierarchy delimiter of folder names, as the IMAP LIST
// response announces it.
const Separator = "/"

// maxFolderDir bounds the directory name of a folder: one directory, so
// NAME_MAX (255 octets on Linux file systems) applies to the whole name.
const maxFolderDir = 255

// mutf7 is the modified BASE64 of RFC 3501 section 5.1.3: "," instead of
// "/", no padding.
var mutf7 = base64.NewEncoding("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,").WithPadding(base64.NoPadding)

// CanonicalFolderName checks a folder name and returns its canonical
// spelling: a first component that is INBOX in any case becomes "INBOX".
//
// A name is one or more components joined by "/". It is refused (with
// ErrBadFolder) when it is not UTF-8, starts or ends with "/", has an empty
// component ("a//b"), a component "." or "..", a control character (C0,
// DEL or C1), or the LIST wildcards "*" and "%" (RFC 3501 section 6.3.8:
// they would make LIST patterns ambiguous), or when its directory name
// would be longer than 255 octets.
func CanonicalFolderName(name string) (string, error) {
	if name == "" {
		return "", fmt.Errorf("%w: empty", ErrBadFolder)
	}
	if !utf8.ValidString(name) {
		return "", fmt.Errorf("%w: %q is not UTF-8", ErrBadFolder, name)
	}
	parts := strings.Split(name, Separator)
	for _, p := range parts {
		switch p {
		case "":
			return "", fmt.Errorf("%w: %q has an empty component", ErrBadFolder, name)
		case ".", "..":
			return "", fmt.Errorf("%w: %q has a component %q", ErrBadFolder, name, p)
		}
		for _, r := range p {
			if r < 0x20 || (r >= 0x7f && r <= 0x9f) {
				return "", fmt.Errorf("%w: %q holds control character %U", ErrBadFolder, name, r)
			}
			if r == '*' || r == '%' {
				return "", fmt.Errorf("%w: %q holds the wildcard %q", ErrBadFolder, name, r)
			}
		}
	}
	// RFC 3501 section 5.1: INBOX is case-insensitive, also as the first
	// level of a hierarchy ("inbox/Drafts" is "INBOX/Drafts").
	if strings.EqualFold(parts[0], Inbox) {
		parts[0] = Inbox
	}
	canon := strings.Join(parts, Separator)
	if canon != Inbox && len(encodeDir(parts)) > maxFolderDir {
		return "", fmt.Errorf("%w: %q is too long", ErrBadFolder, name)
	}
	return canon, nil
}

// EncodeFolderName returns the directory, relative to the user's Maildir,
// of the folder name: "" for INBOX (the Maildir itself), and for the others
// the Maildir++ name: a dot, then the components joined by dots, each
// encoded like modified UTF-7 (RFC 3501 section 5.1.3) with "." added to
// the characters that must be encoded:
//
//	INBOX            ""
//	Archive/2024     .Archive.2024
//	a.b              .a&AC4-b
//	R&D              .R&-D
//	Año/día          .A&APE-o.d&AO0-a
//
// Printable ASCII other than "&", "." and "/" stands for itself; "&" is
// "&-"; any other run of characters is "&", the modified BASE64 of its
// UTF-16, "-". The encoding is reversible (DecodeFolderDir) and the result
// never holds "/", NUL, a control character, or an empty component, and
// never starts with "..", so it is one directory inside the Maildir.
func EncodeFolderName(name string) (string, error) {
	canon, err := CanonicalFolderName(name)
	if err != nil {
		return "", err
	}
	if canon == Inbox {
		return "", nil
	}
	return encodeDir(strings.Split(canon, Separator)), nil
}

// DecodeFolderDir is the inverse of EncodeFolderName for a Maildir++
// directory name (".Archive.2024" → "Archive/2024"). It refuses, with
// ErrBadFolder, a name that does not start with a single dot, does not
// decode, or is not the canonical encoding of its folder name (so that a
// folder has exactly one directory).
func DecodeFolderDir(dir string) (string, error) {
	if len(dir) < 2 || dir[0] != '.' || dir[1] == '.' {
		return "", fmt.Errorf("%w: directory %q is not a Maildir++ folder", ErrBadFolder, dir)
	}
	parts := strings.Split(dir[1:], ".")
	for i, p := range parts {
		d, err := decodeComponent(p)
		if err != nil {
			return "", fmt.Errorf("%w: directory %q: %v", ErrBadFolder, dir, err)
		}
		parts[i] = d
	}
	name := strings.Join(parts, Separator)
	enc, err := EncodeFolderName(name)
	if err != nil {
		return "", err
	}
	if enc != dir {
		return "", fmt.Errorf("%w: directory %q is not the canonical %q", ErrBadFolder, dir, enc)
	}
	return name, nil
}

// plain reports whether c stands for itself in a directory name.
func plain(c rune) bool {
	return c >= 0x20 && c <= 0x7e && c != '&' && c != '.' && c != '/'
}

func encodeDir(parts []string) string {
	var b strings.Builder
	for _, p := range parts {
		b.WriteByte('.')
		encodeComponent(&b, p)
	}
	return b.String()
}

func encodeComponent(b *strings.Builder, p string) {
	var run []rune
	flush := func() {
		if len(run) == 0 {
			return
		}
		u := utf16.Encode(run)
		raw := make([]byte, 2*len(u))
		for i, v := range u {
			raw[2*i], raw[2*i+1] = byte(v>>8), byte(v)
		}
		b.WriteByte('&')
		b.WriteString(mutf7.EncodeToString(raw))
		b.WriteByte('-')
		run = run[:0]
	}
	for _, r := range p {
		switch {
		case r == '&':
			flush()
			b.WriteString("&-")
		case plain(r):
			flush()
			b.WriteRune(r)
		default:
			run = append(run, r)
		}
	}
	flush()
}

func decodeComponent(p string) (string, error) {
	if p == "" {
		return "", errors.New("empty component")
	}
	var b strings.Builder
	for i := 0; i < len(p); {
		c := p[i]
		if c != '&' {
			if !plain(rune(c)) {
				return "", fmt.Errorf("byte 0x%02x must be encoded", c)
			}
			b.WriteByte(c)
			i++
			continue
		}
		end := strings.IndexByte(p[i+1:], '-')
		if end < 0 {
			return "", errors.New("unterminated &-sequence")
		}
		enc := p[i+1 : i+1+end]
		i += end + 2
		if enc == "" {
			b.WriteByte('&')
			continue
		}
		raw, err := mutf7.DecodeString(enc)
		if err != nil || len(raw)%2 != 0 {
			return "", fmt.Errorf("bad modified BASE64 %q", enc)
		}
		u := make([]uint16, len(raw)/2)
		for j := range u {
			u[j] = uint16(raw[2*j])<<8 | uint16(raw[2*j+1])
		}
		// Lone surrogates decode as U+FFFD; DecodeFolderDir's canonical
		// check then refuses the name.
		for _, r := range utf16.Decode(u) {
			b.WriteRune(r)
		}
	}
	return b.String(), nil
}

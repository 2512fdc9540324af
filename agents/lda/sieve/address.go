package sieve

import "strings"

// maxAddresses bounds how many addresses are taken from one header field.
const maxAddresses = 1000

// addressList returns the addr-specs of an address field (RFC 5322
// section 3.4), leniently: `"Bob" <bob@b.test>, carol@c.test (Carol)`
// gives "bob@b.test" and "carol@c.test". Display names, comments, group
// names ("team: a@b.test;") and routes ("<@relay:bob@b.test>") are
// dropped. A piece that is not an address is returned as written, so
// :all can still compare it (RFC 5228 section 2.7.4).
func addressList(v string) []string {
	var out []string
	var cur strings.Builder // the piece being read, comments left out
	var angle strings.Builder
	inAngle, hasAngle := false, false
	flush := func() {
		s := strings.TrimSpace(cur.String())
		if hasAngle {
			s = strings.TrimSpace(angle.String())
			// RFC 5322 section 4.4 obs-route: "@a,@b:bob@b.test".
			if strings.HasPrefix(s, "@") {
				if i := strings.IndexByte(s, ':'); i >= 0 {
					s = s[i+1:]
				}
			}
		}
		if s != "" && len(out) < maxAddresses {
			out = append(out, s)
		}
		cur.Reset()
		angle.Reset()
		inAngle, hasAngle = false, false
	}
	for i := 0; i < len(v); i++ {
		c := v[i]
		switch {
		case c == '"':
			// A quoted string, kept with its quotes: it may be a local part.
			j := i + 1
			for j < len(v) && v[j] != '"' {
				if v[j] == '\\' {
					j++
				}
				j++
			}
			j = min(j, len(v)-1)
			if inAngle {
				angle.WriteString(v[i : j+1])
			} else {
				cur.WriteString(v[i : j+1])
			}
			i = j
		case c == '(':
			// RFC 5322 section 3.2.2: comments nest; they are dropped.
			depth := 0
			for ; i < len(v); i++ {
				switch v[i] {
				case '\\':
					i++
				case '(':
					depth++
				case ')':
					depth--
				}
				if depth == 0 {
					break
				}
			}
		case c == '<' && !inAngle:
			inAngle, hasAngle = true, true
			angle.Reset()
		case c == '>' && inAngle:
			inAngle = false
		case inAngle:
			if c != ' ' && c != '\t' && c != '\r' && c != '\n' {
				angle.WriteByte(c)
			}
		case c == ',':
			flush()
		case c == ':' && !hasAngle:
			// A group's display name ends here: "team: a@b.test, c@d.test;".
			cur.Reset()
		case c == ';':
			flush()
		default:
			cur.WriteByte(c)
		}
	}
	flush()
	// Folding white space around "@" and "." in an addr-spec is legal
	// (obs-local-part, obs-domain); take it out.
	for i, a := range out {
		if strings.Contains(a, "@") && strings.ContainsAny(a, " \t\r\n") && !strings.Contains(a, `"`) {
			out[i] = strings.Join(strings.Fields(a), "")
		}
	}
	return out
}

// subaddressSeparator separates user and detail in a local part (RFC 5233
// section 1: "+" is the common choice, and the lab's).
const subaddressSeparator = "+"

// addressPart returns the part of addr a test compares (RFC 5228 section
// 2.7.4, RFC 5233 section 4). ok is false when addr has no such part: an
// address without "@" has no domain, and one without "+" has no detail
// (RFC 5233 section 4: then the test does not match it).
func addressPart(addr string, part addrPart) (string, bool) {
	local, domain, hasAt := addr, "", false
	if i := strings.LastIndexByte(addr, '@'); i >= 0 {
		local, domain, hasAt = addr[:i], addr[i+1:], true
	}
	switch part {
	case partAll:
		return addr, true
	case partDomain:
		return domain, hasAt
	}
	if !hasAt {
		// Not an address: only :all may compare it.
		return "", false
	}
	switch part {
	case partUser:
		user, _, _ := strings.Cut(local, subaddressSeparator)
		return user, true
	case partDetail:
		_, detail, found := strings.Cut(local, subaddressSeparator)
		return detail, found
	}
	return local, true
}

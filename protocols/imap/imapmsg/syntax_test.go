package imapmsg

import (
	"fmt"
	"strconv"
	"strings"
)

// checkSyntax checks that s is one well-formed parenthesised IMAP list of
// atoms, NIL, numbers, quoted strings and literals (RFC 3501 section 9),
// with literal lengths right and nothing left over.
func checkSyntax(s string) error {
	depth := 0
	i := 0
	for i < len(s) {
		switch c := s[i]; {
		case c == '(':
			depth++
			i++
		case c == ')':
			depth--
			if depth < 0 {
				return fmt.Errorf("unbalanced ')' at %d", i)
			}
			i++
			if depth == 0 && i != len(s) {
				return fmt.Errorf("text after the closing ')' at %d", i)
			}
		case c == ' ':
			if i == 0 || s[i-1] == ' ' || s[i-1] == '(' {
				return fmt.Errorf("misplaced space at %d", i)
			}
			i++
		case c == '"':
			i++
			for i < len(s) && s[i] != '"' {
				if s[i] == '\\' {
					i++
					if i >= len(s) || (s[i] != '"' && s[i] != '\\') {
						return fmt.Errorf("bad escape at %d", i)
					}
				} else if s[i] == '\r' || s[i] == '\n' || s[i] >= 0x80 || s[i] == 0 {
					return fmt.Errorf("byte 0x%02x in a quoted string at %d", s[i], i)
				}
				i++
			}
			if i >= len(s) {
				return fmt.Errorf("unterminated quoted string")
			}
			i++
		case c == '{':
			end := strings.Index(s[i:], "}\r\n")
			if end < 0 {
				return fmt.Errorf("bad literal at %d", i)
			}
			n, err := strconv.Atoi(s[i+1 : i+end])
			if err != nil || i+end+3+n > len(s) {
				return fmt.Errorf("bad literal length at %d", i)
			}
			if strings.IndexByte(s[i+end+3:i+end+3+n], 0) >= 0 {
				return fmt.Errorf("NUL in a literal at %d", i)
			}
			i += end + 3 + n
		default:
			j := i
			for j < len(s) && s[j] != ' ' && s[j] != '(' && s[j] != ')' {
				if s[j] < '!' || s[j] > '~' || s[j] == '"' || s[j] == '{' {
					return fmt.Errorf("byte 0x%02x in an atom at %d", s[j], j)
				}
				j++
			}
			i = j
		}
	}
	if depth != 0 {
		return fmt.Errorf("%d unclosed '('", depth)
	}
	return nil
}

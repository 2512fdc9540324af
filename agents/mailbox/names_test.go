package mailbox

import (
	"errors"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func TestFolderNameEncoding(t *testing.T) {
	for _, tc := range []struct{ name, canon, dir string }{
		{"INBOX", "INBOX", ""},
		{"inbox", "INBOX", ""},
		{"InBoX", "INBOX", ""},
		{"Archive", "Archive", ".Archive"},
		{"Archive/2024", "Archive/2024", ".Archive.2024"},
		{"inbox/Drafts", "INBOX/Drafts", ".INBOX.Drafts"},
		{"INBOX2", "INBOX2", ".INBOX2"},
		{"a.b", "a.b", ".a&AC4-b"},
		{"R&D", "R&D", ".R&-D"},
		{"Año/día", "Año/día", ".A&APE-o.d&AO0-a"},
		{"日本語", "日本語", ".&ZeVnLIqe-"},
		{"Sent Items", "Sent Items", ".Sent Items"},
		{"a..b", "a..b", ".a&AC4ALg-b"},
		{"...", "...", ".&AC4ALgAu-"},
		{`back\slash`, `back\slash`, `.back\slash`},
		{"~user", "~user", ".~user"},
		{"emoji 📬", "emoji 📬", ".emoji &2D3c7A-"},
	} {
		canon, err := CanonicalFolderName(tc.name)
		if err != nil || canon != tc.canon {
			t.Errorf("CanonicalFolderName(%q) = %q, %v; want %q", tc.name, canon, err, tc.canon)
		}
		dir, err := EncodeFolderName(tc.name)
		if err != nil || dir != tc.dir {
			t.Errorf("EncodeFolderName(%q) = %q, %v; want %q", tc.name, dir, err, tc.dir)
			continue
		}
		if dir == "" {
			continue
		}
		back, err := DecodeFolderDir(dir)
		if err != nil || back != tc.canon {
			t.Errorf("DecodeFolderDir(%q) = %q, %v; want %q", dir, back, err, tc.canon)
		}
	}
}

func TestFolderNameInvalid(t *testing.T) {
	for _, name := range []string{
		"",
		".",
		"..",
		"../x",
		"a/../../b",
		"INBOX/../..",
		"a/./b",
		"/abs",
		"/",
		"a/",
		"a//b",
		"\x00",
		"a\x00b",
		"tab\there",
		"bell\x07",
		"del\x7f",
		"c1\u0085",
		"\xff\xfe",
		"star*",
		"per%cent",
		strings.Repeat("x", 255),
	} {
		if got, err := EncodeFolderName(name); !errors.Is(err, ErrBadFolder) {
			t.Errorf("EncodeFolderName(%q) = %q, %v; want ErrBadFolder", name, got, err)
		}
	}
}

func TestFolderDirInvalid(t *testing.T) {
	for _, dir := range []string{
		"",
		".",
		"..",
		"..x",
		"Archive",         // no leading dot
		".a..b",           // empty component
		".a.",             // empty last component
		".a&AC4",          // unterminated
		".a&Z-",           // not BASE64 of UTF-16
		".a.b&AGE-",       // "a" encoded although it is plain
		".inbox",          // INBOX is the Maildir itself
		".INBOX",          // same
		".inbox.x",        // not canonical: INBOX/x is .INBOX.x
		".star*",          // wildcard
		".ctl&AAA-",       // NUL
		".&2D0-",          // lone surrogate
		".a\x01b",         // control character on disk
		".&AC4-",          // the name "."
		".&AC4ALg-.x",     // the name ".."
		".&AC8-etc&AC8-x", // "/" encoded inside a component
	} {
		if got, err := DecodeFolderDir(dir); !errors.Is(err, ErrBadFolder) {
			t.Errorf("DecodeFolderDir(%q) = %q, %v; want ErrBadFolder", dir, got, err)
		}
	}
}

func FuzzFolderName(f *testing.F) {
	for _, seed := range []string{"INBOX", "inbox/x", "a/b/c", "a.b", "R&D", "Año", "../x", "a/../../b",
		"\x00", ".", "..", "INBOX/../..", "&", "&-", "&AC4-", "a//b", "/", "日本語", "📬"} {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, name string) {
		dir, err := EncodeFolderName(name)
		if err != nil {
			if !errors.Is(err, ErrBadFolder) {
				t.Fatalf("EncodeFolderName(%q): %v is not ErrBadFolder", name, err)
			}
		} else {
			canon, _ := CanonicalFolderName(name)
			if dir == "" {
				if canon != Inbox {
					t.Fatalf("EncodeFolderName(%q) = \"\" but it is not INBOX", name)
				}
			} else {
				// One directory, directly inside the Maildir.
				root := "/maildir"
				p := filepath.Join(root, dir)
				if filepath.Dir(p) != root || dir[0] != '.' || strings.HasPrefix(dir, "..") ||
					strings.ContainsAny(dir, "/\x00") || len(dir) > maxFolderDir || !utf8.ValidString(dir) {
					t.Fatalf("EncodeFolderName(%q) = %q leaves the Maildir or is not one name", name, dir)
				}
				back, err := DecodeFolderDir(dir)
				if err != nil || back != canon {
					t.Fatalf("DecodeFolderDir(EncodeFolderName(%q) = %q) = %q, %v; want %q", name, dir, back, err, canon)
				}
			}
		}
		// Any directory name that decodes re-encodes to itself.
		if n, err := DecodeFolderDir(name); err == nil {
			if enc, err := EncodeFolderName(n); err != nil || enc != name {
				t.Fatalf("DecodeFolderDir(%q) = %q, which encodes to %q, %v", name, n, enc, err)
			}
		}
	})
}

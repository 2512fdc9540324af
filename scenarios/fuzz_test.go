package scenarios

import (
	"strings"
	"testing"
)

func FuzzParse(f *testing.F) {
	for _, info := range []string{"first-message.yaml", "smtp-mistakes.yaml", "pop-vs-imap.yaml"} {
		data, err := embedded.ReadFile(info)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(data)
	}
	f.Add([]byte(base + "  - say: hi\n"))
	f.Add([]byte("name: x\nusers: &u [*u]\n"))
	f.Add([]byte("a: &a [*a, *a]\n"))
	f.Add([]byte("name: x\n---\nname: y\n"))
	f.Add([]byte("- [\n"))
	f.Add([]byte("steps: [{smtp: {as: a, via: b, dialogue: [{data_size: 1GiB}]}}]"))
	f.Fuzz(func(t *testing.T, data []byte) {
		sc, err := Parse("fuzz.yaml", data)
		if err != nil {
			// Every error names the file and is one line per problem.
			for _, line := range strings.Split(err.Error(), "\n") {
				if !strings.HasPrefix(line, "fuzz.yaml") {
					t.Fatalf("error line without position: %q", line)
				}
			}
			return
		}
		if sc.Name == "" {
			t.Fatalf("a valid scenario has a name")
		}
	})
}

package scenarios

import (
	"embed"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path"
	"sort"
	"strings"
)

// Default is the scenario run when none is named.
const Default = "first-message"

//go:embed *.yaml
var embedded embed.FS

// ErrNotFound is wrapped by Load's error when nameOrPath is neither an
// embedded scenario nor a file.
var ErrNotFound = errors.New("scenarios: no such scenario")

// Info names a scenario and says what it shows.
type Info struct {
	Name        string `json:"name"`
	Description string `json:"description"`
}

// List returns the embedded scenarios, sorted by name. An embedded file
// that does not parse is listed with the parse error as its description
// (a test keeps that from happening).
func List() []Info {
	entries, err := embedded.ReadDir(".")
	if err != nil {
		return nil
	}
	var out []Info
	for _, e := range entries {
		name := strings.TrimSuffix(e.Name(), ".yaml")
		sc, err := loadEmbedded(name)
		if err != nil {
			out = append(out, Info{Name: name, Description: err.Error()})
			continue
		}
		out = append(out, Info{Name: sc.Name, Description: sc.Description})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out
}

func loadEmbedded(name string) (*Scenario, error) {
	file := name + ".yaml"
	data, err := embedded.ReadFile(file)
	if err != nil {
		return nil, err
	}
	return Parse(file, data)
}

// Load returns the embedded scenario called nameOrPath or, when there is
// none, parses the file at that path.
func Load(nameOrPath string) (*Scenario, error) {
	if !strings.ContainsAny(nameOrPath, `/\`) && path.Ext(nameOrPath) == "" {
		if _, err := embedded.Open(nameOrPath + ".yaml"); err == nil {
			return loadEmbedded(nameOrPath)
		}
	}
	f, err := os.Open(nameOrPath)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return nil, fmt.Errorf("%w: no scenario called %q (built in: %s) and no such file", ErrNotFound, nameOrPath, strings.Join(names(), ", "))
		}
		return nil, fmt.Errorf("scenarios: %w", err)
	}
	defer f.Close()
	data, err := io.ReadAll(io.LimitReader(f, MaxFileBytes+1))
	if err != nil {
		return nil, fmt.Errorf("scenarios: reading %s: %w", nameOrPath, err)
	}
	return Parse(nameOrPath, data)
}

func names() []string {
	var out []string
	for _, i := range List() {
		out = append(out, i.Name)
	}
	return out
}

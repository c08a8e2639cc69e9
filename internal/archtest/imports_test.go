// Package archtest enforces the import rules of STYLE.md §3 (who may import whom), the
// job a depguard configuration would do, with nothing to install: it parses the import
// blocks of every non-test Go file in the module.
package archtest

import (
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/stretchr/testify/require"
)

const module = "github.com/crmsync/crmsync/"

// rule forbids, for packages under pkg, imports with any of the given prefixes.
type rule struct {
	pkg       string
	forbidden []string
	why       string
}

var rules = []rule{
	{"internal/stream", []string{module, "github.com/", "golang.org/", "net/http"}, "the shared vocabulary imports only the standard library"},
	{"internal/pipeline", []string{"github.com/jackc/", "net/http", module + "extractors", module + "loaders", module + "internal/simulator", module + "internal/apiclient"}, "the pipeline knows neither SQL nor HTTP"},
	{"internal/simulator", []string{module}, "the simulator is written from the references, never from our code"},
	{"internal/apiclient", []string{module, "github.com/"}, "the HTTP client knows no schema"},
	{"extractors/leeloo", []string{module + "extractors/textrequest", module + "loaders", "github.com/jackc/", module + "internal/simulator"}, "extractors meet the loader only through internal/stream"},
	{"extractors/textrequest", []string{module + "extractors/leeloo", module + "loaders", "github.com/jackc/", module + "internal/simulator"}, "extractors meet the loader only through internal/stream"},
	{"loaders", []string{module + "extractors", module + "internal/simulator"}, "loaders never import extractors"},
	{"loaders/postgres", []string{"net/http"}, "the warehouse loader knows no HTTP (the push writers beside it do)"},
	{"internal/push", []string{"net/http", module + "extractors", module + "loaders", module + "internal/simulator"}, "the push engine knows the ledger, not the APIs: writers are handed to it"},
	{"internal/scheduler", []string{module + "internal/config", module + "internal/pipeline"}, "the scheduler only runs jobs"},
	{"internal/config", []string{"net/http", "github.com/jackc/"}, "configuration knows nothing about HTTP or SQL"},
}

// testOnly packages may be imported only from _test.go files.
var testOnly = []string{module + "internal/pgtest", module + "internal/extractortest"}

func TestImportRules(t *testing.T) {
	root, err := filepath.Abs("../..")
	require.NoError(t, err)
	fset := token.NewFileSet()
	err = filepath.WalkDir(root, func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			if strings.HasPrefix(d.Name(), ".") || d.Name() == "testdata" || d.Name() == "bin" {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		rel, _ := filepath.Rel(root, filepath.Dir(path))
		rel = filepath.ToSlash(rel)
		f, err := parser.ParseFile(fset, path, nil, parser.ImportsOnly)
		if err != nil {
			return err
		}
		for _, imp := range f.Imports {
			p, _ := strconv.Unquote(imp.Path.Value)
			for _, r := range rules {
				if rel != r.pkg && !strings.HasPrefix(rel, r.pkg+"/") {
					continue
				}
				for _, bad := range r.forbidden {
					if strings.HasPrefix(p, bad) {
						t.Errorf("%s imports %s: %s", relFile(root, path), p, r.why)
					}
				}
			}
			for _, only := range testOnly {
				// Test-only packages may import each other (extractortest uses pgtest).
				if strings.HasPrefix(p, only) && !slices.ContainsFunc(testOnly, func(o string) bool { return strings.HasPrefix(module+rel, o) }) {
					t.Errorf("%s imports the test-only package %s outside a _test.go file", relFile(root, path), p)
				}
			}
			if p == module+"internal/cli" && rel != "cmd/sync" {
				t.Errorf("%s imports internal/cli: nothing but cmd/sync may", relFile(root, path))
			}
		}
		return nil
	})
	require.NoError(t, err)
}

func relFile(root, path string) string {
	rel, err := filepath.Rel(root, path)
	if err != nil {
		return path
	}
	return rel
}

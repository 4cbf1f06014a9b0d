package ptport_test

import (
	"go/ast"
	"go/parser"
	"go/token"
	"io/fs"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

// flagWord is a command-line flag as a message would spell it: --prefix, --batch-first.
var flagWord = regexp.MustCompile(`(^|[^-\w])--[a-z][a-z-]*`)

// TestLibraryNamesNoFlags reads every string of the library packages (all but the
// command, the tests and the fixtures' loader, which reads the flags testdata's cases
// list) and fails on one that names a command-line flag: a library's messages speak of
// its options; the command adds the flags that set them.
func TestLibraryNamesNoFlags(t *testing.T) {
	fset := token.NewFileSet()
	files := 0
	err := filepath.WalkDir(".", func(path string, d fs.DirEntry, err error) error {
		if err != nil {
			return err
		}
		if d.IsDir() {
			switch path {
			case "cmd", "testdata", "scripts", filepath.Join("convert", "internal", "fixture"):
				return filepath.SkipDir
			}
			if strings.HasPrefix(d.Name(), ".") && path != "." {
				return filepath.SkipDir
			}
			return nil
		}
		if !strings.HasSuffix(path, ".go") || strings.HasSuffix(path, "_test.go") {
			return nil
		}
		f, err := parser.ParseFile(fset, path, nil, parser.SkipObjectResolution)
		if err != nil {
			return err
		}
		files++
		ast.Inspect(f, func(n ast.Node) bool {
			if lit, ok := n.(*ast.BasicLit); ok && lit.Kind == token.STRING && flagWord.MatchString(lit.Value) {
				t.Errorf("%s: a library string names a flag: %s", fset.Position(lit.Pos()), lit.Value)
			}
			return true
		})
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files < 50 {
		t.Fatalf("read %d library files", files)
	}
}

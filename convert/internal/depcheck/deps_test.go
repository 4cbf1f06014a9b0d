package main

import (
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
)

const module = "github.com/ptport/ptport"

// forbidden are the packages a program that only loads and runs a model must not link.
var forbidden = []string{
	"gonum.org/v1/plot",
	"github.com/spf13/cobra",
	module + "/convert/batch",
	module + "/convert/parity",
	module + "/convert/plot",
	module + "/convert/bench",
}

// deps lists the packages pkg links, by `go list -deps`.
func deps(t *testing.T, pkg string) []string {
	t.Helper()
	goTool := filepath.Join(runtime.GOROOT(), "bin", "go")
	if p, err := exec.LookPath("go"); err == nil {
		goTool = p
	}
	out, err := exec.Command(goTool, "list", "-deps", pkg).Output()
	if err != nil {
		if ee, ok := err.(*exec.ExitError); ok {
			t.Fatalf("go list -deps %s: %v\n%s", pkg, err, ee.Stderr)
		}
		t.Fatalf("go list -deps %s: %v", pkg, err)
	}
	return strings.Fields(string(out))
}

// links reports the forbidden packages (or those below them) among list.
func links(list []string) []string {
	var found []string
	for _, p := range list {
		for _, f := range forbidden {
			if p == f || strings.HasPrefix(p, f+"/") {
				found = append(found, p)
			}
		}
	}
	return found
}

// TestDependencies: this program, which opens, loads and runs a model, links convert,
// pickle and rnn and none of the forbidden packages; the command ptport, which does
// everything, links each of them, so the test can tell.
func TestDependencies(t *testing.T) {
	list := deps(t, module+"/convert/internal/depcheck")
	for _, want := range []string{module + "/convert", module + "/pickle", module + "/rnn"} {
		if !slices.Contains(list, want) {
			t.Errorf("depcheck does not link %s: the test looks at the wrong program", want)
		}
	}
	if found := links(list); len(found) > 0 {
		t.Errorf("a program that loads and runs a model links %s", strings.Join(found, ", "))
	}

	found := links(deps(t, module+"/cmd/ptport"))
	for _, f := range forbidden {
		if !slices.ContainsFunc(found, func(p string) bool { return p == f || strings.HasPrefix(p, f+"/") }) {
			t.Errorf("cmd/ptport does not link %s: the forbidden list is stale", f)
		}
	}
}

// TestRun runs the program on the notebook example.
func TestRun(t *testing.T) {
	model := filepath.Join("..", "..", "..", "testdata", "notebook", "model.pt")
	ref := filepath.Join("..", "..", "..", "testdata", "notebook", "reference.pt")
	var out strings.Builder
	if err := run([]string{model, ref}, &out); err != nil {
		t.Fatal(err)
	}
	if want := "RNN(2, 4) output [2 3 4] h_n [1 3 4]\n"; out.String() != want {
		t.Errorf("output %q, want %q", out.String(), want)
	}
	if err := run([]string{model}, &out); err == nil {
		t.Error("one argument accepted")
	}
}

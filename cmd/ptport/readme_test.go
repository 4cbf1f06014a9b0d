package main

import (
	"os"
	"path/filepath"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/spf13/cobra"
)

// readmeExample is a command the README shows, "$ ptport ARGS", with what it prints.
type readmeExample struct {
	line    string // the command as the README spells it
	args    []string
	printed string // what the README shows below it, up to the next command or the block's end
	block   int    // the code block it is in: a block's commands run in one folder, in order
}

// readmeExamples returns every "$ ptport" command of the README's code blocks.
func readmeExamples(t *testing.T, readme string) []readmeExample {
	t.Helper()
	var examples []readmeExample
	parts := strings.Split(readme, "```")
	for i := 1; i < len(parts); i += 2 { // the odd parts are inside code blocks
		var cur *readmeExample
		lines := strings.Split(parts[i], "\n")[1:] // the first line is the block's language
		for _, line := range lines {
			if strings.HasPrefix(line, "$ ") {
				if cur != nil {
					examples = append(examples, *cur)
					cur = nil
				}
				fields := strings.Fields(line[2:])
				if fields[0] != "ptport" {
					continue
				}
				for _, f := range fields {
					if strings.ContainsAny(f, `'"|\*$`) {
						t.Fatalf("README example %q needs a shell; run it here otherwise", line)
					}
				}
				cur = &readmeExample{line: line, args: fields[1:], block: i}
				continue
			}
			if cur != nil {
				cur.printed += line + "\n"
			}
		}
		if cur != nil {
			examples = append(examples, *cur)
		}
	}
	for i := range examples {
		examples[i].printed = strings.TrimRight(examples[i].printed, "\n") + "\n"
	}
	return examples
}

// timing matches what changes from run to run in a printed result: seconds, in text and
// as JSON's "seconds", and rates (a rate's unit too: 788 KiB/s and 5.8 MiB/s alike).
var timing = regexp.MustCompile(`"seconds":\d+(\.\d+)?(e-\d+)?|\d+(\.\d+)?( [KMGT]?i?B/s| files/s| s/file|s\b)`)

// untimed returns s with its times and rates replaced by "#".
func untimed(s string) string {
	return timing.ReplaceAllStringFunc(s, func(m string) string {
		if strings.HasPrefix(m, `"seconds":`) {
			return `"seconds":#`
		}
		if strings.HasSuffix(m, "B/s") {
			return "# B/s"
		}
		return "#" + m[strings.LastIndexAny(m, "0123456789")+1:]
	})
}

// documentedStatus returns the exit status the README gives a command that prints
// printed (its "Exit status everywhere"): 1 for a check whose verdict is FAIL or a batch
// with a failed input that --allow-failed does not tolerate, 2 for an error (a line
// "ptport: ..."), 0 for the rest.
func documentedStatus(printed string) int {
	if strings.Contains(printed, " failed, within --allow-failed\n") {
		return 0
	}
	for _, line := range strings.Split(printed, "\n") {
		switch {
		case strings.HasPrefix(line, "FAIL") || strings.HasPrefix(line, "failed "):
			return 1
		case strings.HasPrefix(line, "ptport: "):
			return 2
		}
	}
	return 0
}

// TestREADMEExamples runs every "$ ptport" command the README shows, on the committed
// fixtures, and compares what it prints (standard output, then standard error) with what
// the README shows, times and rates aside, and its exit status with the one the README
// documents for it (documentedStatus). The commands of one code block run in order in
// a folder of their own, where testdata names the repository's fixtures, so that an
// output the README writes (model.safetensors, docs/check-plot.png) lands there. A batch
// prints its inputs as its workers finish them, so its lines are compared in any order.
func TestREADMEExamples(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	examples := readmeExamples(t, string(readme))
	if len(examples) < 10 {
		t.Fatalf("found %d examples in the README, want every one of them (at least 10)", len(examples))
	}
	testdata, err := filepath.Abs("../../testdata")
	if err != nil {
		t.Fatal(err)
	}
	dirs := map[int]string{}
	for _, ex := range examples {
		dir, ok := dirs[ex.block]
		if !ok {
			dir = t.TempDir()
			if err := os.Symlink(testdata, filepath.Join(dir, "testdata")); err != nil {
				t.Fatal(err)
			}
			os.Mkdir(filepath.Join(dir, "docs"), 0o755)
			dirs[ex.block] = dir
		}
		code, out, errs := runCLIDir(t, dir, ex.args...)
		if want := documentedStatus(ex.printed); code != want {
			t.Errorf("%s\nexits %d, the README documents %d\n%s", ex.line, code, want, out+errs)
		}
		got, want := untimed(out+errs), untimed(ex.printed)
		if ex.args[0] == "batch" {
			g, w := strings.Split(got, "\n"), strings.Split(want, "\n")
			slices.Sort(g)
			slices.Sort(w)
			got, want = strings.Join(g, "\n"), strings.Join(w, "\n")
		}
		if got != want {
			t.Errorf("%s\nprints\n%s\nthe README shows\n%s", ex.line, out+errs, ex.printed)
		}
	}
}

// usageFlagRE matches a flag's line of cobra's usage text: "  -o, --output FILE ...".
var usageFlagRE = regexp.MustCompile(`(?m)^\s+(?:-([a-z0-9]), )?--([a-z0-9-]+)`)

// TestREADMEFlags compares the README's Commands section with the commands' flags: a
// flag the table gives a command is one it has, and every flag of a command is in its
// row of the table or in the text below the table, which names the flags that several
// commands share. So a flag added, renamed or removed is one the README follows.
func TestREADMEFlags(t *testing.T) {
	readme, err := os.ReadFile("../../README.md")
	if err != nil {
		t.Fatal(err)
	}
	_, section, _ := strings.Cut(string(readme), "\n## Commands\n")
	section, _, _ = strings.Cut(section, "\n## ")
	flagRE := regexp.MustCompile("`(--[a-z0-9-]+|-[a-z0-9])\\b")
	rows, shared := map[string]string{}, ""
	for _, line := range strings.Split(section, "\n") {
		if cmd, ok := strings.CutPrefix(line, "| `ptport "); ok {
			name, _, _ := strings.Cut(cmd, " ")
			name = strings.TrimSuffix(name, "`")
			rows[name] = line
		} else if !strings.HasPrefix(line, "|") {
			shared += line + "\n"
		}
	}
	var stdout, stderr strings.Builder
	root := newRoot(&stdout, &stderr)
	commands := map[string]*cobra.Command{"--version": root}
	for _, c := range root.Commands() {
		if c.IsAvailableCommand() || c.Name() == "completion" {
			commands[c.Name()] = c
		}
	}
	hasFlag := func(c *cobra.Command, name string) bool {
		if n, ok := strings.CutPrefix(name, "--"); ok {
			return c.Flags().Lookup(n) != nil || c.InheritedFlags().Lookup(n) != nil
		}
		return c.Flags().ShorthandLookup(name[1:]) != nil
	}
	for name, c := range commands {
		row, ok := rows[name]
		if !ok {
			t.Errorf("the README's Commands table has no row for ptport %s", name)
			continue
		}
		if name == "completion" {
			continue // its row names the flags whose values it completes, of other commands
		}
		for _, m := range flagRE.FindAllStringSubmatch(row, -1) {
			if !hasFlag(c, m[1]) {
				t.Errorf("the README's row of ptport %s gives it %s, which it does not have", name, m[1])
			}
		}
		for _, m := range usageFlagRE.FindAllStringSubmatch(c.Flags().FlagUsages(), -1) {
			long, short := m[2], m[1]
			named := regexp.MustCompile(`(^|[^a-z0-9-])--` + long + `($|[^a-z0-9-])`)
			if short != "" { // -o OUT names --output
				named = regexp.MustCompile(`(^|[^a-z0-9-])(--` + long + `|-` + short + `)($|[^a-z0-9-])`)
			}
			if long != "help" && !named.MatchString(row) && !named.MatchString(shared) {
				t.Errorf("ptport %s --%s is neither in its row of the README's Commands table nor in the text below it", name, long)
			}
		}
	}
}

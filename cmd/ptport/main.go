// Command ptport reads PyTorch checkpoints, runs the recurrent models in them natively in
// Go, checks them against reference tensors PyTorch computed, and converts checkpoints.
//
// Usage:
//
//	ptport inspect FILE... [--json]
//	ptport convert IN -o OUT [--to safetensors|npz|json|pt]
//	ptport check [MODEL REF] [--atol A] [--rtol R] [--prefix P] [--nonlinearity tanh|relu] [--batch-first] [--whole] [--json] [--plot FILE]
//	ptport run MODEL INPUT -o OUT
//	ptport bench MODEL [--seq T] [--batch B] [--json]
//	ptport batch IN... -o OUTDIR [--to FMT] [--jobs N] [--report FILE.jsonl] [--shard K/N] [--force] [--check] [--allow-failed[=N|P%]]
//	ptport batch --clean OUTDIR...
//	ptport --version
//	ptport completion bash|zsh|fish|powershell
//
// Every command takes --json: its result, and its error, as JSON on stdout.
//
// Exit status: 0 success; 1 a parity mismatch or failed batch inputs; 2 bad usage or an
// unreadable, unsafe or invalid input; 130 after Ctrl-C, 143 after SIGTERM. Run
// "ptport help COMMAND" for each command's flags and examples.
package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// exitError carries an exit status other than 2 out of a command. A silent one has been
// reported by the command already (a parity report, a batch summary).
type exitError struct {
	code   int
	err    error
	silent bool
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errMismatch is the error of a check that ran and failed.
var errMismatch = &exitError{code: 1, err: errors.New("Go does not match the reference"), silent: true}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status. Ctrl-C and SIGTERM
// cancel the command's context, so that it stops and removes what it had half written; a
// second one ends ptport at once.
func run(args []string, stdout, stderr io.Writer) (code int) {
	asJSON := jsonInArgs(args)
	defer func() {
		if r := recover(); r != nil {
			code = report(stdout, stderr, asJSON, false, fmt.Errorf("internal error: %v", r))
		}
	}()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	sigs := make(chan os.Signal, 1)
	signal.Notify(sigs, os.Interrupt, syscall.SIGTERM)
	defer signal.Stop(sigs)
	var caught atomic.Value // the signal that cancelled ctx
	go func() {
		select {
		case sig := <-sigs:
			caught.Store(sig)
			signal.Stop(sigs) // the next signal has its default effect
			cancel()
		case <-ctx.Done():
		}
	}()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	cmd, err := root.ExecuteContextC(ctx)
	if err == nil {
		return 0 // done, although a signal may have come at the end
	}
	if cmd != nil && cmd.Flags().Parsed() && jsonMode(cmd) {
		asJSON = true
	}
	lines := cmd != nil && cmd.Annotations[jsonLinesAnnotation] != ""
	sig, stopped := caught.Load().(syscall.Signal)
	if stopped && errors.Is(err, context.Canceled) {
		err = &interruptedError{err}
	}
	code = report(stdout, stderr, asJSON, lines, err)
	if stopped {
		// Stopped by a signal: the status shells give a process a signal ends, 128 +
		// its number (130 for Ctrl-C, 143 for SIGTERM).
		code = 128 + int(sig)
	}
	return code
}

// interruptedError is an error that a signal's cancelling of the command's context
// caused: it says "interrupted" where the error says "context canceled".
type interruptedError struct{ err error }

func (e *interruptedError) Error() string { return interrupted(e.err.Error()) }
func (e *interruptedError) Unwrap() error { return e.err }

// interrupted returns msg with its closing "context canceled" as "interrupted" (or
// "interrupted" added, if msg does not end so).
func interrupted(msg string) string {
	if m, ok := strings.CutSuffix(msg, context.Canceled.Error()); ok {
		return m + "interrupted"
	}
	return msg + " (interrupted)"
}

// stoppedIn returns err, or, once ctx is done (a signal stopped the command), the error
// that every command gives for the work on file that the signal stopped: the file, then
// ctx's error ("FILE: interrupted", as ptport prints it), whatever the work was (reading,
// running a model, writing).
func stoppedIn(ctx context.Context, file string, err error) error {
	if cerr := ctx.Err(); err != nil && cerr != nil {
		return inFile(file, cerr)
	}
	return err
}

// expandHint follows an error of the expansion limit.
const expandHint = "ptport: --" + expandFlag + " SIZE raises the limit (-1: no limit)"

// usageError is an error about the command line, printed as it is: its lines are
// ptport's own, and what it quotes of the command line is escaped.
type usageError struct{ err error }

func (e *usageError) Error() string { return e.err.Error() }
func (e *usageError) Unwrap() error { return e.err }

// hintError is an error with a hint on the line after it; the hint is printed as it is
// (whatever it holds from a file is escaped).
type hintError struct {
	err  error
	hint string
}

func (e *hintError) Error() string { return e.err.Error() + "\n  (" + e.hint + ")" }
func (e *hintError) Unwrap() error { return e.err }

// message is an error as ptport prints it in text: whatever came from a file escaped
// (see escape), on one line but for the lines that are ptport's: a usage error's, a
// hint's, and the items the library's itemized errors list (see escapeError).
func message(err error) string {
	var ue *usageError
	var he *hintError
	var ie *interruptedError
	switch {
	case errors.As(err, &ie):
		return interrupted(message(ie.err))
	case errors.As(err, &ue):
		return ue.Error()
	case errors.As(err, &he):
		return escapeError(he.err) + "\n  (" + he.hint + ")"
	}
	return escapeError(err)
}

// jsonLinesAnnotation marks a command whose standard output with --json is JSON Lines,
// a compact JSON value a line (batch's): its error is such a line too.
const jsonLinesAnnotation = "ptport.json-lines"

// report prints a command's error, as JSON on stdout in --json mode (a compact line
// when lines is set, for a command of jsonLinesAnnotation), and returns the exit
// status it calls for.
func report(stdout, stderr io.Writer, asJSON, lines bool, err error) int {
	code := 2
	var ee *exitError
	if errors.As(err, &ee) {
		code = ee.code
		if ee.silent {
			return code
		}
	}
	if pe, ok := err.(*fs.PathError); ok {
		err = inFile(pe.Path, pe) // "FILE: no such file or directory", not "stat FILE: ..."
	}
	if asJSON && lines {
		(&jsonLines{w: stdout}).write(errorJSON{Error: err.Error(), File: errorFile(err)})
		return code
	}
	if asJSON {
		writeJSON(stdout, errorJSON{Error: err.Error(), File: errorFile(err)})
		return code
	}
	fmt.Fprintf(stderr, "ptport: %s\n", message(err))
	var le *pickle.LimitError
	if errors.As(err, &le) {
		switch le.Limit {
		case pickle.LimitExpansion:
			fmt.Fprintln(stderr, expandHint)
		case convert.LimitOutput:
			fmt.Fprintln(stderr, "ptport: --"+outputFlag+" SIZE raises the limit (-1: no limit)")
		}
	}
	if errors.Is(err, convert.ErrFolder) {
		dir := escape(errorFile(err))
		fmt.Fprintf(stderr, "ptport: name the checkpoint files in it (%s/*.pt), or convert them all with ptport batch %s -o OUTDIR\n", dir, dir)
	}
	var amb *convert.AmbiguousError
	if errors.As(err, &amb) {
		fmt.Fprintln(stderr, "ptport: --prefix P chooses the module whose parameter names start with P")
	}
	var lifts *allowObjectsLifts
	if errors.As(err, &lifts) {
		what := "this file's calls of that code as inert records"
		if lifts.err.Reason == pickle.ReasonUserValue {
			what = "this file, keeping such globals as inert values"
		}
		fmt.Fprintln(stderr, "ptport: --allow-objects reads "+what+" (nothing from the file is run; torch.load would run that code)")
	}
	return code
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	var showVersion bool
	root := &cobra.Command{
		Use:   "ptport",
		Short: "Read PyTorch checkpoints, run their RNNs in Go, prove parity, convert",
		Long: `ptport reads the checkpoints torch.save writes (.pt .pth .bin .ckpt; zip, legacy and tar
formats) without Python and without running any code from them, runs the recurrent
models in them (nn.RNN, nn.LSTM, nn.GRU, their cells, and the Embedding, Linear and
LayerNorm layers around them) natively in Go, checks the Go model against
reference tensors exported from PyTorch, and converts checkpoints to safetensors, npz,
JSON and back to .pt, one file or a hundred thousand.

Every command takes --json: its result, and its error if it fails, as JSON on standard
output ({"error": "...", "file": "..."}). A file argument "-" is standard input or
output. Progress shows on a terminal for whatever takes more than a second.

Exit status: 0 success; 1 a parity mismatch or failed batch inputs; 2 bad usage or an
unreadable, unsafe or invalid input; 130 when Ctrl-C stopped the command, 143 when
SIGTERM did (128 + the signal's number, as shells report it).`,
		Example: `  ptport check                                 # the embedded notebook example
  ptport inspect model.pt
  ptport check model.pt ref.pt --plot err.svg
  ptport convert model.pt -o model.safetensors
  ptport completion bash > /etc/bash_completion.d/ptport`,
		Args:          usageArgs(cobra.NoArgs),
		SilenceUsage:  true,
		SilenceErrors: true,
		RunE: func(c *cobra.Command, _ []string) error {
			if showVersion {
				return printVersion(c)
			}
			return c.Help()
		},
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	// Before cobra's own check of the pair, whose sentence names flag groups.
	root.PersistentPreRunE = func(c *cobra.Command, _ []string) error {
		if f := c.Flags(); f.Changed("strict") && f.Changed("allow-objects") {
			return &usageError{fmt.Errorf("--strict and --allow-objects exclude each other: --strict reads less than the default, --allow-objects more\nRun '%s --help' for usage.", c.CommandPath())}
		}
		return nil
	}
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return &usageError{fmt.Errorf("%s\nRun '%s --help' for usage.", escape(err.Error()), c.CommandPath())}
	})
	root.PersistentFlags().Bool(jsonFlag, false, "print the result, and any error, as JSON on standard output")
	root.Flags().BoolVar(&showVersion, "version", false, "print the module version and the VCS revision ptport was built from")
	root.AddCommand(inspectCmd(), convertCmd(), checkCmd(), runCmd(), benchCmd(), batchCmd())
	completionCmd(root)
	return root
}

// completionCmd gives cobra's completion command examples, and an exit status of 2 for
// a shell it does not know (cobra would print the help and exit 0).
func completionCmd(root *cobra.Command) {
	root.InitDefaultCompletionCmd()
	c, _, err := root.Find([]string{"completion"})
	if err != nil || c == root {
		return
	}
	c.Use = "completion bash|zsh|fish|powershell"
	c.Example = `  ptport completion bash > /etc/bash_completion.d/ptport
  ptport completion zsh > "${fpath[1]}/_ptport"
  ptport completion fish > ~/.config/fish/completions/ptport.fish`
	c.Args = usageArgs(cobra.NoArgs)
	c.RunE = func(c *cobra.Command, _ []string) error {
		return &usageError{fmt.Errorf("completion: name a shell: bash, zsh, fish or powershell\nUsage: %s", c.UseLine())}
	}
	for _, sh := range c.Commands() {
		script := sh.RunE
		sh.Long += "\n\nWith --json, the script as the JSON object {\"shell\", \"script\"}."
		sh.RunE = func(c *cobra.Command, args []string) error {
			if !jsonMode(c) {
				return script(c, args)
			}
			noDesc, _ := c.Flags().GetBool("no-descriptions")
			s, err := completionScript(root, c.Name(), !noDesc)
			if err != nil {
				return err
			}
			return printJSON(c, completionJSON{Shell: c.Name(), Script: s})
		}
	}
}

// completionJSON is what completion prints with --json.
type completionJSON struct {
	Shell  string `json:"shell"`
	Script string `json:"script"`
}

// completionScript is root's completion script for shell, as "completion SHELL" prints
// it (with the completions' descriptions, or without).
func completionScript(root *cobra.Command, shell string, descriptions bool) (string, error) {
	var b strings.Builder
	var err error
	switch shell {
	case "bash":
		err = root.GenBashCompletionV2(&b, descriptions)
	case "zsh":
		if descriptions {
			err = root.GenZshCompletion(&b)
		} else {
			err = root.GenZshCompletionNoDesc(&b)
		}
	case "fish":
		err = root.GenFishCompletion(&b, descriptions)
	case "powershell":
		if descriptions {
			err = root.GenPowerShellCompletionWithDesc(&b)
		} else {
			err = root.GenPowerShellCompletion(&b)
		}
	default:
		err = fmt.Errorf("completion: no script for %s", shell)
	}
	return b.String(), err
}

// usageArgs wraps a positional-argument rule so that its error points at the help.
func usageArgs(rule cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := rule(c, args); err != nil {
			if !c.HasParent() { // cobra's message names ptport already
				return &usageError{fmt.Errorf("%s\nRun '%s --help' for the commands.", escape(err.Error()), c.Name())}
			}
			return &usageError{fmt.Errorf("%s: %s\nUsage: %s", c.Name(), escape(err.Error()), c.UseLine())}
		}
		return nil
	}
}

// Command ptport reads PyTorch checkpoints, runs the recurrent models in them natively in
// Go, checks them against reference tensors PyTorch computed, and converts checkpoints.
//
// Usage:
//
//	ptport inspect FILE [--json]
//	ptport convert IN -o OUT [--to safetensors|npz|json|pt]
//	ptport check [MODEL REF] [--atol A] [--rtol R] [--prefix P] [--nonlinearity tanh|relu] [--batch-first] [--whole] [--json] [--plot FILE]
//	ptport run MODEL INPUT -o OUT
//	ptport bench MODEL [--seq T] [--batch B] [--json]
//	ptport batch IN... -o OUTDIR [--to FMT] [--jobs N] [--report FILE.jsonl] [--shard K/N] [--force] [--check]
//
// Exit status: 0 success; 1 a parity mismatch or failed batch inputs; 2 bad usage or an
// unreadable, unsafe or invalid input. Run "ptport help COMMAND" for each command's flags and examples.
package main

import (
	"errors"
	"fmt"
	"io"
	"os"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/pickle"
)

// exitError carries an exit status other than 2 out of a command.
type exitError struct {
	code int
	err  error
}

func (e *exitError) Error() string { return e.err.Error() }
func (e *exitError) Unwrap() error { return e.err }

// errMismatch is the error of a check that ran and failed.
var errMismatch = &exitError{code: 1, err: errors.New("Go does not match the reference")}

func main() {
	os.Exit(run(os.Args[1:], os.Stdout, os.Stderr))
}

// run executes the command line args and returns the exit status.
func run(args []string, stdout, stderr io.Writer) (code int) {
	defer func() {
		if r := recover(); r != nil {
			fmt.Fprintf(stderr, "ptport: internal error: %v\n", r)
			code = 2
		}
	}()
	root := newRoot(stdout, stderr)
	root.SetArgs(args)
	err := root.Execute()
	if err == nil {
		return 0
	}
	var ee *exitError
	if errors.As(err, &ee) {
		if ee != errMismatch {
			fmt.Fprintf(stderr, "ptport: %v\n", ee.err)
		}
		return ee.code
	}
	fmt.Fprintf(stderr, "ptport: %v\n", err)
	var unsafe *pickle.UnsafeGlobalError
	if errors.As(err, &unsafe) && !unsafe.Denied && unsafe.Reason == pickle.ReasonUserCall {
		fmt.Fprintln(stderr, "ptport: --allow-objects reads such calls as inert records (nothing from the file is run)")
	}
	return 2
}

func newRoot(stdout, stderr io.Writer) *cobra.Command {
	root := &cobra.Command{
		Use:   "ptport",
		Short: "Read PyTorch checkpoints, run their RNNs in Go, prove parity, convert",
		Long: `ptport reads the checkpoints torch.save writes (.pt .pth .bin .ckpt; zip, legacy and tar
formats) without Python and without running any code from them, runs the recurrent
models in them (nn.RNN, nn.LSTM, nn.GRU, their cells, and the Embedding, Linear and
LayerNorm layers around them) natively in Go, checks the Go model against
reference tensors exported from PyTorch, and converts checkpoints to safetensors, npz,
JSON and back to .pt, one file or a hundred thousand.

Exit status: 0 success; 1 a parity mismatch or failed batch inputs; 2 bad usage or an
unreadable, unsafe or invalid input.`,
		Example: `  ptport check                                 # the embedded notebook example
  ptport inspect model.pt
  ptport check model.pt ref.pt --plot err.svg
  ptport convert model.pt -o model.safetensors`,
		SilenceUsage:  true,
		SilenceErrors: true,
	}
	root.SetOut(stdout)
	root.SetErr(stderr)
	root.SetFlagErrorFunc(func(c *cobra.Command, err error) error {
		return fmt.Errorf("%w\nRun '%s --help' for usage.", err, c.CommandPath())
	})
	root.CompletionOptions.HiddenDefaultCmd = true
	root.AddCommand(inspectCmd(), convertCmd(), checkCmd(), runCmd(), benchCmd(), batchCmd())
	return root
}

// usageArgs wraps a positional-argument rule so that its error points at the help.
func usageArgs(rule cobra.PositionalArgs) cobra.PositionalArgs {
	return func(c *cobra.Command, args []string) error {
		if err := rule(c, args); err != nil {
			return fmt.Errorf("%s: %w\nUsage: %s", c.Name(), err, c.UseLine())
		}
		return nil
	}
}

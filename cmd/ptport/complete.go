package main

import (
	"strings"

	"github.com/spf13/cobra"

	"github.com/ptport/ptport/convert"
)

// The completion of flag values, shared by the commands that have the flags.

// completeWords completes a flag's value from a fixed list.
func completeWords(words ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(_ *cobra.Command, _ []string, prefix string) ([]string, cobra.ShellCompDirective) {
		var out []string
		for _, w := range words {
			if strings.HasPrefix(w, prefix) {
				out = append(out, w)
			}
		}
		return out, cobra.ShellCompDirectiveNoFileComp
	}
}

// completeFiles completes a flag's value with file names of the given extensions (none:
// any file).
func completeFiles(exts ...string) func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return func(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
		if len(exts) == 0 {
			return nil, cobra.ShellCompDirectiveDefault
		}
		return exts, cobra.ShellCompDirectiveFilterFileExt
	}
}

// completeFolders completes a flag's value with folder names.
func completeFolders(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return nil, cobra.ShellCompDirectiveFilterDirs
}

// formatNames are the values of --to.
func formatNames() []string {
	names := make([]string, len(convert.Formats))
	for i, f := range convert.Formats {
		names[i] = string(f)
	}
	return names
}

// outputExts are the extensions of the files commands write.
var outputExts = []string{"safetensors", "npz", "json", "pt", "pth", "bin", "ckpt"}

// inputExts are the extensions of the files commands read.
var inputExts = []string{"pt", "pth", "bin", "ckpt", "tar", "safetensors", "npz", "json"}

// completeInputs completes positional arguments with checkpoint files.
func completeInputs(*cobra.Command, []string, string) ([]string, cobra.ShellCompDirective) {
	return inputExts, cobra.ShellCompDirectiveFilterFileExt
}

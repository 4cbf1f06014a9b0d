package main

import (
	"fmt"
	"runtime"
	"runtime/debug"

	"github.com/spf13/cobra"
)

// versionInfo is what "ptport --version" tells: the module version and the VCS state the
// binary was built from, as the Go toolchain recorded them.
type versionInfo struct {
	Version  string `json:"version"`            // the module version, "(devel)" for a build from a checkout
	Revision string `json:"revision,omitempty"` // the VCS revision
	Time     string `json:"time,omitempty"`     // the revision's commit time
	Modified bool   `json:"modified"`           // the checkout had uncommitted changes
	Go       string `json:"go"`
}

func buildVersion() versionInfo {
	v := versionInfo{Version: "unknown", Go: runtime.Version()}
	bi, ok := debug.ReadBuildInfo()
	if !ok {
		return v
	}
	if bi.Main.Version != "" {
		v.Version = bi.Main.Version
	}
	for _, s := range bi.Settings {
		switch s.Key {
		case "vcs.revision":
			v.Revision = s.Value
		case "vcs.time":
			v.Time = s.Value
		case "vcs.modified":
			v.Modified = s.Value == "true"
		}
	}
	return v
}

func (v versionInfo) String() string {
	s := "ptport " + v.Version
	if v.Revision != "" {
		s += ", revision " + v.Revision
		if v.Time != "" {
			s += " of " + v.Time
		}
		if v.Modified {
			s += " with local changes"
		}
	}
	return s + ", " + v.Go
}

// printVersion prints the version, as JSON in --json mode.
func printVersion(c *cobra.Command) error {
	v := buildVersion()
	if jsonMode(c) {
		return printJSON(c, v)
	}
	_, err := fmt.Fprintln(c.OutOrStdout(), v)
	return err
}

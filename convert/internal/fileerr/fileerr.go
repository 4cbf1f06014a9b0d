// Package fileerr names the file an error is about.
//
// A checkpoint opened from a path is named by it; one read from memory
// (convert.NewCheckpoint with an empty name) has no name, and its errors then read as
// what was wrong alone, never with an empty name before a colon.
package fileerr

import "fmt"

// Wrap returns err after the file's name, "name: err", wrapping it (errors.Is and
// errors.As see err through it); err itself when name is empty.
func Wrap(name string, err error) error {
	if name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

// Errorf is fmt.Errorf after the file's name, as Wrap puts it.
func Errorf(name, format string, args ...any) error {
	return Wrap(name, fmt.Errorf(format, args...))
}

// Prefix is what comes before a message about the file name: "name: ", or "" when name
// is empty.
func Prefix(name string) string {
	if name == "" {
		return ""
	}
	return name + ": "
}

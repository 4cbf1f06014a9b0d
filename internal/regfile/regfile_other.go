//go:build !unix

package regfile

import (
	"io/fs"
	"os"
)

func open(name string) (*os.File, error) { return os.Open(name) }

func special(string, error) (fs.FileInfo, bool) { return nil, false }

func blocking(*os.File) error { return nil }

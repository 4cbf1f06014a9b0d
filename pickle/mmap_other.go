//go:build !(linux || darwin || freebsd || netbsd || openbsd || dragonfly)

package pickle

import (
	"io"
	"os"
)

type mmapSource struct{ io.ReaderAt }

func mapFile(f *os.File, size int64) (*mmapSource, error) { return nil, nil }

func (m *mmapSource) close() error { return nil }

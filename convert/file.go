package convert

import (
	"io"

	"github.com/ptport/ptport/convert/internal/atomicfile"
)

// WriteFile writes the output at path atomically: write receives a buffered writer onto a
// temporary file in path's folder, which is synced and renamed to path when write returns
// nil, and removed otherwise. Readers of path see the old file or the complete new one,
// never a part.
func WriteFile(path string, write func(w io.Writer) error) error {
	return atomicfile.WriteFile(path, atomicfile.Options{}, write)
}

// IsTemp reports whether name (a base name) is one of the temporary files WriteFile,
// Export and package batch write beside an output. A temporary is renamed to its final
// name only when it is complete, so such a file is always a leftover of an interrupted
// run and may be removed.
func IsTemp(name string) bool { return atomicfile.IsTemp(name) }

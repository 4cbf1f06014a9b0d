//go:build !linux

package atomicfile

import (
	"context"
	"os"
)

// copyFileRange reports false: only Linux copies within the kernel.
func copyFileRange(ctx context.Context, dst, src *os.File, off, n int64) (bool, error) {
	return false, nil
}

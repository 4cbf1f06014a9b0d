package atomicfile

import (
	"context"
	"errors"
	"os"

	"golang.org/x/sys/unix"
)

// copyFileRange appends n bytes at offset off of src to dst with copy_file_range, in
// chunks, checking ctx between them. It reports false, having written nothing, when the
// kernel cannot copy between these files.
func copyFileRange(ctx context.Context, dst, src *os.File, off, n int64) (bool, error) {
	const chunk = 256 << 20
	done := int64(0)
	for done < n {
		if ctx != nil {
			if err := ctx.Err(); err != nil {
				return true, err
			}
		}
		roff := off + done
		k, err := unix.CopyFileRange(int(src.Fd()), &roff, int(dst.Fd()), nil, int(min(chunk, n-done)), 0)
		if err != nil {
			if done == 0 && (errors.Is(err, unix.ENOSYS) || errors.Is(err, unix.EXDEV) || errors.Is(err, unix.EINVAL) || errors.Is(err, unix.EOPNOTSUPP)) {
				return false, nil
			}
			return true, err
		}
		if k == 0 {
			return true, errors.New("copy_file_range: source ended early")
		}
		done += int64(k)
	}
	return true, nil
}

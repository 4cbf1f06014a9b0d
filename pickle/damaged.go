package pickle

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
	"path"
	"strings"
)

// The formats' marks that a damaged file still shows: a file cut short, or whose zip
// directory is gone, is reported as a damaged file of its format (what is missing, at
// which offset, of how many bytes), not as a file of no known format.

// legacyStart is how torch.save's legacy format starts: PROTO 2, then LONG1 of 10 bytes,
// the format's magic number (legacyMagic, little-endian).
var legacyStart = []byte("\x80\x02\x8a\x0a\x6c\xfc\x9c\x46\xf9\x20\x6a\xa8\x50\x19")

// cutShort says what a file of size bytes whose first bytes are head is, when it is too
// short to hold its format's first structure and head is the start of one: the legacy
// format's magic number, or a tar archive's first header (torch's first member is
// sys_info). It returns "" otherwise.
func cutShort(head []byte, size int64) string {
	switch {
	case len(head) >= 3 && len(head) < len(legacyStart) && bytes.HasPrefix(legacyStart, head):
		return fmt.Sprintf("a legacy-format PyTorch checkpoint cut short: its %d bytes end inside the magic number that starts the format (%d bytes); the file is truncated (a download that never finished?)", size, len(legacyStart))
	case size < 512 && bytes.HasPrefix(head, []byte("sys_info")) && (len(head) == 8 || head[8] == 0):
		return fmt.Sprintf("a tar-format PyTorch checkpoint (torch <= 0.1.10) cut short: its %d bytes end inside the 512-byte header of its first member, sys_info; the file is truncated (a download that never finished?)", size)
	}
	return ""
}

// zipDamage says what is wrong with a file of size bytes that starts as a zip archive
// but whose central directory archive/zip cannot read (err): the archive is named by
// its first record (a torch.save checkpoint holds data.pkl, an npz archive .npy
// records), then what of the directory is missing or where it points.
func zipDamage(ra io.ReaderAt, size int64, err error) string {
	what := "a zip archive"
	if name, ok := firstRecord(ra, size); ok {
		switch {
		case path.Base(name) == "data.pkl":
			what = "a torch.save checkpoint (zip format)"
		case strings.HasSuffix(name, ".npy"):
			what = "an npz archive (numpy.savez)"
		default:
			what = "a zip archive (its first record " + quoteName(name) + ")"
		}
	}
	// The end-of-central-directory record is in the last 22 + 65535 bytes.
	tail := min(size, 22+65535)
	buf := make([]byte, tail)
	if _, rerr := ra.ReadAt(buf, size-tail); rerr != nil && rerr != io.EOF {
		return fmt.Sprintf("%s whose directory cannot be read: %v", what, rerr)
	}
	i := bytes.LastIndex(buf, []byte("PK\x05\x06"))
	if i < 0 || len(buf)-i < 22 {
		return fmt.Sprintf("%s cut short: its %d bytes hold no end-of-central-directory record, which ends every zip archive: the file is truncated (a download that never finished?) or damaged", what, size)
	}
	eocd := buf[i:]
	dirSize, dirOff := int64(binary.LittleEndian.Uint32(eocd[12:])), int64(binary.LittleEndian.Uint32(eocd[16:]))
	if dirOff != 0xffffffff && dirOff+dirSize > size-tail+int64(i) {
		return fmt.Sprintf("%s damaged: its zip directory of %d bytes at offset %d runs past the directory's end record at offset %d (the file is %d bytes)", what, dirSize, dirOff, size-tail+int64(i), size)
	}
	return fmt.Sprintf("%s whose zip directory is damaged (%v); the file is %d bytes", what, err, size)
}

// firstRecord returns the name in the zip local file header at the start of ra.
func firstRecord(ra io.ReaderAt, size int64) (string, bool) {
	var h [30]byte
	if size < 30 {
		return "", false
	}
	if _, err := ra.ReadAt(h[:], 0); err != nil || string(h[:4]) != "PK\x03\x04" {
		return "", false
	}
	n := int64(binary.LittleEndian.Uint16(h[26:]))
	if n == 0 || 30+n > size {
		return "", false
	}
	name := make([]byte, n)
	if _, err := ra.ReadAt(name, 30); err != nil {
		return "", false
	}
	return string(name), true
}

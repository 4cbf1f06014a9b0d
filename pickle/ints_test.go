package pickle

import (
	"io"
	"math"
	"strconv"
	"strings"
	"testing"
)

func TestSliceLen(t *testing.T) {
	wide := strconv.IntSize == 64
	for _, tc := range []struct {
		n, size int64
		ok      bool
	}{
		{0, 1, true},
		{1 << 20, 8, true},
		{math.MaxInt32, 1, true},
		{math.MaxInt32, 2, wide},
		{1 << 40, 1, wide},
		{1 << 60, 8, false},
		{-1, 1, false},
		{1, 0, false},
	} {
		n, err := sliceLen(tc.n, tc.size)
		if (err == nil) != tc.ok || (err == nil && int64(n) != tc.n) {
			t.Errorf("sliceLen(%d, %d) = %d, %v; want ok %v", tc.n, tc.size, n, err, tc.ok)
		}
		if err != nil && !strings.Contains(err.Error(), strconv.Itoa(strconv.IntSize)+"-bit") {
			t.Errorf("sliceLen(%d, %d): error %q does not name the platform", tc.n, tc.size, err)
		}
	}
}

// TestTarOffsetBeyondInt: a tensor header of the tar format with a storage offset of
// 2^32 is refused: past its storage where int has 64 bits, out of range where it has 32
// (never truncated to a view that exists).
func TestTarOffsetBeyondInt(t *testing.T) {
	_, err := load(t, tarCheckpointAt(t, seq(6, 4), 1<<32), nil)
	want := wideOverflow("exceeds storage")
	if strconv.IntSize == 32 {
		want = "storage offset 4294967296 is out of the range of a 32-bit int"
	}
	if err == nil || !strings.Contains(err.Error(), want) {
		t.Fatalf("error %v, want one containing %q", err, want)
	}
}

// zeroReader reads zeros: the bytes of a storage larger than memory.
type zeroReader struct{}

func (zeroReader) ReadAt(p []byte, off int64) (int, error) {
	clear(p)
	return len(p), nil
}

// TestTensorBeyondInt: a tensor of 2^32 elements (4 GiB of U8) over a storage read on
// demand counts its bytes exactly everywhere; where int has 32 bits, reading it into
// memory is an error, not a panic; a view spread over it streams.
func TestTensorBeyondInt(t *testing.T) {
	s, err := NewStorageAt(U8, zeroReader{}, 0, 1<<32)
	if err != nil {
		t.Fatal(err)
	}
	tt := &Tensor{DType: U8, Shape: []int{1 << 16, 1 << 16}, Storage: s}
	if got := tt.NumBytes(); got != 1<<32 {
		t.Errorf("NumBytes = %d, want 2^32", got)
	}
	wantN := 0
	if strconv.IntSize == 64 {
		n := int64(1) << 32
		wantN = int(n)
	}
	if got := tt.NumElements(); got != wantN {
		t.Errorf("NumElements = %d, want %d", got, wantN)
	}
	small := &Tensor{DType: U8, Shape: []int{1 << 16}, Strides: []int{1 << 16}, Storage: s}
	if n, err := small.WriteTo(io.Discard); err != nil || n != 1<<16 {
		t.Errorf("WriteTo of a view spread over the 4 GiB: %d, %v", n, err)
	}
	if strconv.IntSize == 64 {
		return // reading 4 GiB into memory is not a test
	}
	for name, read := range map[string]func() error{
		"Bytes":    func() error { _, err := tt.Bytes(); return err },
		"Float32s": func() error { _, err := tt.Float32s(); return err },
		"Float64s": func() error { _, err := tt.Float64s(); return err },
		"Int64s":   func() error { _, err := tt.Int64s(); return err },
	} {
		if err := read(); err == nil || !strings.Contains(err.Error(), "32-bit platform") {
			t.Errorf("%s: error %v, want one saying the values do not fit", name, err)
		}
	}
}

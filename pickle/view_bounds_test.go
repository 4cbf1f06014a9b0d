package pickle

import (
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
)

// TestViewBoundsTorch reads the views at the edges of int64 of testdata/pickle/bounds
// and compares them with what torch.load made of them (cases.json): a view torch loads
// is read with its size and strides, and one it refuses is refused, naming the element
// it reaches past the storage. The one view torch loads and this package refuses is an
// empty tensor whose other sizes have a product beyond int64, whose contiguous strides
// torch itself cannot hold.
func TestViewBoundsTorch(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "bounds")
	if wideOverflow("") != "" {
		t.Skip("sizes beyond 2^31 do not fit this platform's int")
	}
	b, err := os.ReadFile(filepath.Join(dir, "cases.json"))
	if err != nil {
		t.Fatal(err)
	}
	var cases map[string]struct {
		Shape, Stride []int
		Error         string
	}
	if err := json.Unmarshal(b, &cases); err != nil {
		t.Fatal(err)
	}
	refused := map[string]string{
		"empty_two_wide.pt": "the product of its sizes other than 0 is more than 9223372036854775807, the largest 64-bit int",
		"offset_wide.pt":    "view (offset 4611686018427387904, size [5], stride [1]) reaches element 4611686018427387908, which exceeds storage \"0\" (40 bytes)",
		"stride_max.pt":     "view (offset 0, size [2], stride [9223372036854775807]) reaches element 9223372036854775807, which exceeds storage \"0\" (40 bytes)",
		"stride_wide.pt":    "reaches element 9223372036854775808, which exceeds storage",
		"size_2p64.pt":      "size: item 1: 18446744073709551616 is out of the range of a 64-bit int",
	}
	if len(cases) < 10 {
		t.Fatalf("%d cases", len(cases))
	}
	for name, c := range cases {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join(dir, name), nil)
			if want, ok := refused[name]; ok {
				var fe *FormatError
				if !errors.As(err, &fe) || !strings.Contains(err.Error(), want) {
					t.Fatalf("error %v, want a *FormatError saying %q", err, want)
				}
				if c.Error == "" && name != "empty_two_wide.pt" {
					t.Errorf("torch loads it (%v), this package refuses it", c.Shape)
				}
				return
			}
			if err != nil {
				t.Fatalf("%v; torch: %+v", err, c)
			}
			defer f.Close()
			if c.Error != "" {
				t.Fatalf("read, where torch fails: %s", c.Error)
			}
			x := leafTensors(t, f.Root)["x"]
			if !slices.Equal(x.Shape, c.Shape) || !slices.Equal(x.Strides, c.Stride) {
				t.Errorf("size %v stride %v, torch reads %v %v", x.Shape, x.Strides, c.Shape, c.Stride)
			}
			data, err := x.Bytes()
			if err != nil || len(data) != x.NumElements()*4 || int64(len(data)) != x.NumBytes() {
				t.Errorf("Bytes: %d bytes, %v; want %d", len(data), err, x.NumBytes())
			}
		})
	}
}

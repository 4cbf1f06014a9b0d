package batch

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/leaf"
)

// counted is a context never done that counts the looks at it.
type counted struct {
	context.Context
	looks atomic.Int64
}

func (c *counted) Done() <-chan struct{} { return make(chan struct{}) }
func (c *counted) Err() error            { c.looks.Add(1); return nil }

// TestJSONTooLargeFirst: an input whose JSON output is sure to pass ptjson.MaxSize (a
// tensor of 200,000,000 booleans, of a sparse file) fails with the *leaf.TooLargeError
// before its 200 MB are hashed, where the hashing came first (a look at the context
// each 32 KiB read, some 6,000 of them): the batch looks at its context a few dozen
// times.
func TestJSONTooLargeFirst(t *testing.T) {
	dir := t.TempDir()
	const n = 200_000_000
	header := fmt.Sprintf(`{"x":{"dtype":"BOOL","shape":[%d],"data_offsets":[0,%d]}}`, n, n)
	header += strings.Repeat(" ", (8-len(header)%8)%8)
	in := filepath.Join(dir, "big.safetensors")
	b := binary.LittleEndian.AppendUint64(nil, uint64(len(header)))
	if err := os.WriteFile(in, append(b, header...), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Truncate(in, int64(8+len(header)+n)); err != nil {
		t.Fatal(err)
	}
	ctx := &counted{Context: context.Background()}
	var got Result
	if _, err := Run(ctx, Options{Inputs: []string{in}, OutDir: filepath.Join(dir, "out"), To: convert.JSON, Jobs: 1}, func(r Result) { got = r }); err != nil {
		t.Fatal(err)
	}
	var tl *leaf.TooLargeError
	if got.Status != StatusFailed || !errors.As(got.Err, &tl) {
		t.Fatalf("%+v, want failed with a *leaf.TooLargeError", got)
	}
	if looks := ctx.looks.Load(); looks > 1000 {
		t.Errorf("the batch looked at its context %d times: it read the input's bytes before refusing its output", looks)
	}
	if left, _ := os.ReadDir(filepath.Join(dir, "out")); len(left) > 0 {
		t.Errorf("left in the output folder: %v", left)
	}
}

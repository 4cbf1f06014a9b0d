package batch

import (
	"context"
	"fmt"
	"path/filepath"
	"sync"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/pickle"
)

// TestBatchProgress: Options.Progress counts an input's bytes as its output is written,
// before its Result is reported, and takes them back before the report, so that
// counting each Result's Bytes too counts every input once.
func TestBatchProgress(t *testing.T) {
	root := t.TempDir()
	const n = 5 << 20 // float32s: 20 MiB a file, written in chunks of 8 MiB
	for i := range 2 {
		x, err := pickle.NewTensor(pickle.F32, []int{n}, make([]byte, 4*n))
		if err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(root, fmt.Sprintf("m%d.pt", i))
		if err := convert.Export(context.Background(), path, convert.PT, convert.FromLeaves(path, []pickle.Leaf{{Name: "w", Value: x}})); err != nil {
			t.Fatal(err)
		}
	}
	const total = 2 * (4*n + 1<<20) // the inputs' bytes, at most
	for _, to := range []convert.Format{convert.Safetensors, convert.JSON} {
		var mu sync.Mutex
		var credit, done, firstBefore int64 // in flight; reported; in flight before a report
		reports := 0
		opts := Options{Inputs: []string{root}, OutDir: filepath.Join(t.TempDir(), "out"), To: to, Jobs: 1, NoSync: true,
			Progress: func(b int64) {
				mu.Lock()
				defer mu.Unlock()
				credit += b
				if reports == 0 {
					firstBefore = max(firstBefore, credit)
				}
			}}
		_, err := Run(context.Background(), opts, func(r Result) {
			mu.Lock()
			defer mu.Unlock()
			reports++
			done += r.Bytes
			// What is in flight is of the inputs not reported yet.
			if done+credit > total || credit < 0 {
				t.Errorf("%s: after %s, %d bytes done and %d in flight, of at most %d", to, r.Input, done, credit, total)
			}
		})
		if err != nil {
			t.Fatal(err)
		}
		if firstBefore <= 0 || firstBefore > total {
			t.Errorf("%s: %d bytes counted before the first report, want some of the inputs' %d", to, firstBefore, total)
		}
		if credit != 0 || reports != 2 {
			t.Errorf("%s: %d reports, %d bytes left in flight; want 2 and 0", to, reports, credit)
		}
	}
}

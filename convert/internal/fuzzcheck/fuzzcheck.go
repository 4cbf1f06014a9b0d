// Package fuzzcheck holds what the fuzz targets of the convert packages share: a check
// that reading an input stays within a bound of memory and time, and the committed seed
// corpora.
package fuzzcheck

import (
	"bytes"
	"fmt"
	"os"
	"path/filepath"
	"runtime"
	"sort"
	"testing"
	"time"
)

// MaxTime bounds the time one fuzz input may take, far above what any input needs on a
// loaded machine: more is a hang.
const MaxTime = 20 * time.Second

// Budget runs fn and fails t when it allocated more than most bytes (every goroutine's
// allocations, which a fuzz worker runs one input at a time) or took longer than MaxTime.
func Budget(t testing.TB, most uint64, fn func()) {
	t.Helper()
	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	start := time.Now()
	fn()
	d := time.Since(start)
	runtime.ReadMemStats(&after)
	if alloc := after.TotalAlloc - before.TotalAlloc; alloc > most {
		t.Fatalf("allocated %d bytes, more than the %d bytes allowed", alloc, most)
	}
	if d > MaxTime {
		t.Fatalf("took %v", d)
	}
}

// Seeds checks that testdata/fuzz/TARGET holds exactly a file seed-NAME for each of seeds,
// in the format of the go command's corpora; with PTPORT_WRITE_FUZZ_SEEDS=1 it writes
// them first.
func Seeds(t *testing.T, target string, seeds map[string][]byte) {
	dir := filepath.Join("testdata", "fuzz", target)
	write := os.Getenv("PTPORT_WRITE_FUZZ_SEEDS") != ""
	names := make([]string, 0, len(seeds))
	for name := range seeds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		file := filepath.Join(dir, "seed-"+name)
		want := []byte(fmt.Sprintf("go test fuzz v1\n[]byte(%q)\n", seeds[name]))
		if write {
			if err := os.MkdirAll(dir, 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(file, want, 0o644); err != nil {
				t.Fatal(err)
			}
		}
		if got, err := os.ReadFile(file); err != nil || !bytes.Equal(got, want) {
			t.Errorf("%s is missing or stale (rerun with PTPORT_WRITE_FUZZ_SEEDS=1): %v", file, err)
		}
	}
}

package parity_test

import (
	"bytes"
	"context"
	"os"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/convert/internal/fuzzcheck"
	"github.com/ptport/ptport/convert/parity"
	"github.com/ptport/ptport/pickle"
)

// referenceSeeds are the seeds of FuzzReference: the references PyTorch computed for
// two fixtures, and a reference whose input claims four million steps.
func referenceSeeds(t testing.TB) map[string][]byte {
	seeds := map[string][]byte{}
	for _, name := range []string{"rnn_tanh.ref.pt", "lstm_proj_bi.ref.pt"} {
		b, err := os.ReadFile(fixture.Convert(name))
		if err != nil {
			t.Fatal(err)
		}
		seeds[name] = b
	}
	b, err := os.ReadFile("../../testdata/hostile/run_steps.pt")
	if err != nil {
		t.Fatal(err)
	}
	seeds["run-steps"] = b
	return seeds
}

func TestFuzzSeeds(t *testing.T) { fuzzcheck.Seeds(t, "FuzzReference", referenceSeeds(t)) }

// FuzzReference reads arbitrary bytes as a reference file and checks a model against
// it: no reference may panic, hang or make the check allocate beyond 256 MiB + 256 × its
// size.
func FuzzReference(f *testing.F) {
	for _, b := range referenceSeeds(f) {
		f.Add(b)
	}
	models := map[string]*convert.Checkpoint{}
	for _, name := range []string{"rnn_tanh.pt", "lstm_proj_bi.pt"} {
		models[name] = fixture.Open(f, name)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		fuzzcheck.Budget(t, 256<<20+256*uint64(len(b)), func() {
			ref, err := convert.NewCheckpoint("fuzz.ref.pt", bytes.NewReader(b), int64(len(b)), &pickle.Options{AllowObjects: true})
			if err != nil {
				return
			}
			defer ref.Close()
			for _, m := range models {
				parity.Check(context.Background(), m, ref, parity.Options{})
			}
		})
	})
}

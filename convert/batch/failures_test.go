package batch

import (
	"context"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
)

// TestBatchOptionsChecked: options that no input could make usable are errors of Run
// and NewPlan, before any input is read, as an include pattern is.
func TestBatchOptionsChecked(t *testing.T) {
	root, _ := batchTree(t)
	base := Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.Safetensors}
	for _, c := range []struct {
		set  func(*Options)
		want string
	}{
		{func(o *Options) { o.Include = []string{"["} }, `include pattern "["`},
		{func(o *Options) { o.Select.Exclude = []string{"*.bias", "["} }, `exclude pattern "["`},
		{func(o *Options) { o.Select.StripPrefixes = []string{"."} }, "empty prefix"},
		{func(o *Options) { o.Select.Paths = []string{""} }, "empty path"},
		{func(o *Options) { o.To, o.MaxShardSize = convert.JSON, 5e6 }, "shards are written as safetensors only, not json"},
		{func(o *Options) { o.MaxShardSize = -1 }, "want a positive size"},
		{func(o *Options) { o.Check, o.MaxShardSize = true, 5e6 }, "a check writes no outputs"},
		{func(o *Options) { o.Check, o.Model.Nonlinearity = true, "sigmoid" }, `nonlinearity "sigmoid"`},
	} {
		opts := base
		c.set(&opts)
		if _, err := NewPlan(opts); err == nil || !strings.Contains(err.Error(), c.want) {
			t.Errorf("NewPlan: %v, want %q", err, c.want)
		}
		called := false
		if _, err := Run(context.Background(), opts, func(Result) { called = true }); err == nil || !strings.Contains(err.Error(), c.want) || called {
			t.Errorf("Run: %v (an input reported: %v), want %q before any input", err, called, c.want)
		}
	}
}

// TestBatchListGone: a listed file that does not exist fails alone: it writes no output
// and collides with no input; a line ended by CR LF names the file without the CR. A
// real collision names the other input.
func TestBatchListGone(t *testing.T) {
	root := t.TempDir()
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/lstm.pt")
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/gru.pt")
	copyInto(t, root, fixture.Convert("rnn_tanh.pt"), "zoo/gru.pth")
	t.Chdir(root)
	list := "zoo/lstm.pt\nzoo/lstm.pth\r\nzoo/lstm.ckpt\n\nzoo/gru.pt\r\nzoo/gru.pth\n"
	sum, results := runBatch(t, Options{List: strings.NewReader(list), OutDir: "out", To: convert.Safetensors})
	if r := results["zoo/lstm.pt"]; r.Status != StatusOK {
		t.Errorf("zoo/lstm.pt: %+v, want ok beside listed files that are gone", r)
	}
	for _, gone := range []string{"zoo/lstm.pth", "zoo/lstm.ckpt"} {
		if r := results[gone]; r.Status != StatusFailed || !strings.Contains(r.Error, "no such file") {
			t.Errorf("%s: %+v", gone, r)
		}
	}
	for in, other := range map[string]string{"zoo/gru.pt": "zoo/gru.pth", "zoo/gru.pth": "zoo/gru.pt"} {
		if r := results[in]; r.Status != StatusFailed || !strings.Contains(r.Error, "2 inputs would write the output out/zoo/gru.safetensors: this one and "+other+" ") {
			t.Errorf("%s: %+v, want a collision naming %s", in, r, other)
		}
	}
	if sum.Files != 5 || sum.OK != 1 || sum.Failed != 4 {
		t.Errorf("%+v", sum)
	}
}

// TestBatchSummaryBytes: the summary's bytes are those of the inputs converted, not of
// those that failed or were skipped.
func TestBatchSummaryBytes(t *testing.T) {
	root, bad := batchTree(t)
	sum, results := runBatch(t, Options{Inputs: []string{root}, OutDir: t.TempDir(), To: convert.Safetensors})
	var ok, failed int64
	for _, r := range results {
		switch r.Status {
		case StatusOK:
			ok += r.Bytes
		case StatusFailed:
			failed += r.Bytes
		}
	}
	if sum.Failed != len(bad) || failed == 0 || sum.Bytes != ok {
		t.Errorf("summary %+v: %d bytes, want the %d of the inputs converted (not the %d of those failed)", sum, sum.Bytes, ok, failed)
	}
}

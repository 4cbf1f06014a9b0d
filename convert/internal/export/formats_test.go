package export_test

import (
	"io"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/export"
	"github.com/ptport/ptport/pickle"
)

// TestFormatNames: each of convert's formats is one Write writes.
func TestFormatNames(t *testing.T) {
	for _, f := range convert.Formats {
		if err := export.Write(io.Discard, string(f), "out"+f.Ext(), &pickle.Dict{}, nil, nil); err != nil {
			t.Errorf("%s: %v", f, err)
		}
	}
	if err := export.Write(io.Discard, "onnx", "out.onnx", &pickle.Dict{}, nil, nil); err == nil {
		t.Error("an unknown format was written")
	}
}

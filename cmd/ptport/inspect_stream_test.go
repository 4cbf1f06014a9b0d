package main

import (
	"bytes"
	"encoding/json"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"text/tabwriter"

	"github.com/ptport/ptport/convert"
)

// oddInventory holds what takes writeInventoryJSON off its common path: names and
// strings that encoding/json escapes (quotes, backslashes, controls, bytes that are not
// UTF-8, the line separator) or that it would escape as HTML, nested values, parts,
// quantized tensors, names of several bytes a character.
func oddInventory() *convert.Inventory {
	axis := 1
	return &convert.Inventory{
		File: "odd\t\"file\".pt", Format: "zip", Globals: []string{"collections.OrderedDict"},
		Tensors: []convert.TensorInfo{
			{Name: "héllo.wéight", DType: "F32", Shape: []int{2, 3}, Bytes: 24, Storage: "0", Strides: []int{3, 1}, Contiguous: true, Device: "cpu"},
			{Name: "q\x1b[31m", DType: "I8", Shape: []int{4}, Bytes: 4, Storage: "1", Strides: []int{1}, Device: "cuda:0",
				Quantization: &convert.QuantizationInfo{DType: "qint8", Scheme: "per_tensor_affine", Scale: json.RawMessage(`0.5`), ZeroPoint: json.RawMessage(`[ 1 , {"a" : 2} ]`)},
				PartOf:       &convert.PartInfo{Name: "q", Kind: "quantized", Part: "int_repr"}},
			{Name: "c", DType: "F64", Shape: []int{}, Storage: "2", Strides: []int{}, Contiguous: true, Offset: 3, SharedBy: 2,
				Quantization: &convert.QuantizationInfo{DType: "quint8", Scheme: "per_channel_affine", Axis: &axis, Channels: 3, ScaleRange: json.RawMessage(`[0.1,0.2]`)}},
		},
		Values: []convert.ValueInfo{
			{Name: "epoch", Value: json.RawMessage(`3`)},
			{Name: "a<b>&c", Value: json.RawMessage(`"<&>"`)},
			{Name: `quote"back\slash`, Value: json.RawMessage(`null`)},
			{Name: "line\u2028sep\xff", Value: json.RawMessage(`"x\u2028"`)},
			{Name: "nested", Value: json.RawMessage(`[1,[2,{"k":[[],{}]}],[],{"b":"c"}]`)},
			{Name: "empty", Value: json.RawMessage(`[]`)},
			{Name: "spaced", Value: json.RawMessage(` {"a" : [ 1 ,2 ] } `)},
			{Name: "sp.layout", Value: json.RawMessage(`"sparse_coo"`), PartOf: &convert.PartInfo{Name: "sp", Kind: "sparse_coo", Part: "layout"}},
		},
		Bytes: 28, Models: []string{`"" LSTM`}, Shared: [][]string{{"a", "b"}},
	}
}

// TestInspectJSONRecords: the document inspect --json writes a record at a time is
// writeJSON's of the whole inventory, byte for byte, for every fixture that opens and
// for odd names and values; the tensor table is laid out as text/tabwriter lays it out.
func TestInspectJSONRecords(t *testing.T) {
	invs := map[string]*convert.Inventory{
		"odd":   oddInventory(),
		"empty": {File: "e", Format: "zip", Tensors: []convert.TensorInfo{}, Values: []convert.ValueInfo{}, Globals: []string{}},
	}
	var paths []string
	filepath.WalkDir("../../testdata", func(path string, d fs.DirEntry, err error) error {
		switch filepath.Ext(path) {
		case ".pt", ".pth", ".bin", ".safetensors", ".npz":
			paths = append(paths, path)
		}
		return err
	})
	for _, path := range paths {
		cp, err := convert.Open(path, nil)
		if err != nil {
			continue
		}
		invs[path] = convert.Inspect(cp)
		cp.Close()
	}
	if len(invs) < 200 {
		t.Fatalf("%d inventories, want 200 or more", len(invs))
	}
	values, odd := 0, 0
	for name, inv := range invs {
		var want, got bytes.Buffer
		if err := writeJSON(&want, inv); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if err := writeInventoryJSON(&got, inv); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		if got.String() != want.String() {
			t.Errorf("%s: written a record at a time:\n%s\nwant\n%s", name, got.String(), want.String())
		}
		for _, v := range inv.Values {
			values++
			if v.PartOf != nil || !plainJSON(v.Name) || !trimmed(v.Value) || v.Value[0] == '[' || v.Value[0] == '{' {
				odd++
			}
		}
		var text bytes.Buffer
		printInventory(&text, inv, nil)
		var table bytes.Buffer
		if len(inv.Tensors) > 0 {
			tw := tabwriter.NewWriter(&table, 0, 0, 2, ' ', 0)
			fmt.Fprintln(tw, "\nNAME\tDTYPE\tSHAPE\tBYTES\tSTORAGE\tLAYOUT")
			for _, ti := range inv.Tensors {
				row := tensorCells(ti)
				fmt.Fprintln(tw, strings.Join(row[:], "\t"))
			}
			tw.Flush()
		}
		if !strings.Contains(text.String(), "\n"+table.String()) {
			t.Errorf("%s: the table of\n%s\nis not text/tabwriter's\n%s", name, text.String(), table.String())
		}
	}
	if values < 1000 || odd < 100 {
		t.Errorf("%d values, %d off the common path: want 1000 and 100 or more", values, odd)
	}
}

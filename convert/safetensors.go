package convert

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"math/big"
	"sort"
	"strings"

	"github.com/ptport/ptport/pickle"
)

// maxHeader bounds the JSON header of a safetensors file, as the safetensors crate does.
const maxHeader = 100 << 20

// readSafetensors reads a safetensors file of size bytes from r, validating every dtype,
// shape and offset against the file before use. Tensors stay in the file and are read
// lazily; they are listed in the order of their data. Non-tensor values that ptport kept
// under "ptport.values" come back as the values they were; other __metadata__ entries
// (except "format") become string leaves named "__metadata__.KEY".
func readSafetensors(name string, r io.ReaderAt, size int64) ([]pickle.Leaf, error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "safetensors header", Msg: fmt.Sprintf(format, args...)}
	}
	raw, hlen, err := readSafetensorsHeader(name, r, size)
	if err != nil {
		return nil, err
	}
	type entry struct {
		name       string
		DType      pickle.DType `json:"dtype"`
		Shape      []int        `json:"shape"`
		Offsets    [2]int64     `json:"data_offsets"`
		begin, end int64
	}
	data := size - 8 - hlen
	var entries []entry
	var leaves []pickle.Leaf
	for key, v := range raw {
		if key == "__metadata__" {
			var meta map[string]string
			if err := json.Unmarshal(v, &meta); err != nil {
				return nil, bad("__metadata__ is not a map of strings: %v", err)
			}
			delete(meta, sourceKey)
			ml, err := metadataLeaves(meta)
			if err != nil {
				return nil, bad("%v", err)
			}
			leaves = append(leaves, ml...)
			continue
		}
		e := entry{name: key}
		dec := json.NewDecoder(bytes.NewReader(v))
		dec.DisallowUnknownFields()
		if err := dec.Decode(&e); err != nil {
			return nil, bad("tensor %q: %v", key, err)
		}
		if e.DType.Size() == 0 {
			return nil, bad("tensor %q: unknown dtype %q", key, e.DType)
		}
		count := int64(1)
		for _, d := range e.Shape {
			if d < 0 || (d > 0 && count > math.MaxInt64/int64(d)/8) {
				return nil, bad("tensor %q: invalid shape %v", key, e.Shape)
			}
			count *= int64(d)
		}
		e.begin, e.end = e.Offsets[0], e.Offsets[1]
		if e.begin < 0 || e.end < e.begin || e.end > data || e.end-e.begin != count*int64(e.DType.Size()) {
			return nil, bad("tensor %q: data_offsets %v do not hold %v %s in a %d-byte data section", key, e.Offsets, e.Shape, e.DType, data)
		}
		entries = append(entries, e)
	}
	sort.Slice(entries, func(i, j int) bool {
		if entries[i].begin != entries[j].begin {
			return entries[i].begin < entries[j].begin
		}
		return entries[i].name < entries[j].name
	})
	var tensors []pickle.Leaf
	for i, e := range entries {
		if i > 0 && e.begin < entries[i-1].end {
			return nil, bad("tensors %q and %q overlap", entries[i-1].name, e.name)
		}
		st, err := pickle.NewStorageAt(e.DType, r, 8+hlen+e.begin, e.end-e.begin)
		if err != nil {
			return nil, bad("tensor %q: %v", e.name, err)
		}
		t := &pickle.Tensor{DType: e.DType, Shape: e.Shape, Strides: contiguousStrides(e.Shape), Storage: st}
		tensors = append(tensors, pickle.Leaf{Name: e.name, Value: t})
	}
	return append(tensors, leaves...), nil
}

// readSafetensorsHeader reads and parses the JSON header; hlen is its length.
func readSafetensorsHeader(name string, r io.ReaderAt, size int64) (raw map[string]json.RawMessage, hlen int64, err error) {
	bad := func(format string, args ...any) error {
		return &pickle.FormatError{File: name, Where: "safetensors header", Msg: fmt.Sprintf(format, args...)}
	}
	var n [8]byte
	if _, err := r.ReadAt(n[:], 0); err != nil {
		return nil, 0, bad("file too short for a header size")
	}
	u := binary.LittleEndian.Uint64(n[:])
	if u > maxHeader || int64(u) > size-8 {
		return nil, 0, bad("header of %d bytes does not fit the %d-byte file", u, size)
	}
	hdr := make([]byte, u)
	if _, err := r.ReadAt(hdr, 8); err != nil {
		return nil, 0, bad("reading the header: %v", err)
	}
	if err := json.Unmarshal(hdr, &raw); err != nil {
		return nil, 0, bad("header is not a JSON object: %v", err)
	}
	return raw, int64(u), nil
}

// readSafetensorsMeta returns a safetensors file's __metadata__.
func readSafetensorsMeta(name string, r io.ReaderAt, size int64) (map[string]string, error) {
	raw, _, err := readSafetensorsHeader(name, r, size)
	if err != nil {
		return nil, err
	}
	var meta map[string]string
	if m, ok := raw["__metadata__"]; ok {
		if err := json.Unmarshal(m, &meta); err != nil {
			return nil, err
		}
	}
	return meta, nil
}

// contiguousStrides are the C-order strides of shape, in elements.
func contiguousStrides(shape []int) []int {
	s := make([]int, len(shape))
	n := 1
	for i := len(shape) - 1; i >= 0; i-- {
		s[i] = n
		n *= shape[i]
	}
	return s
}

// metadataLeaves turns safetensors metadata back into leaves.
func metadataLeaves(meta map[string]string) ([]pickle.Leaf, error) {
	var leaves []pickle.Leaf
	if v, ok := meta[metadataKey]; ok {
		dec := json.NewDecoder(strings.NewReader(v))
		dec.UseNumber()
		if tok, err := dec.Token(); err != nil || tok != json.Delim('{') {
			return nil, fmt.Errorf("%s is not a JSON object", metadataKey)
		}
		for dec.More() {
			tok, err := dec.Token()
			if err != nil {
				return nil, fmt.Errorf("%s: %v", metadataKey, err)
			}
			val, err := decodeValue(dec)
			if err != nil {
				return nil, fmt.Errorf("%s: %v", metadataKey, err)
			}
			leaves = append(leaves, pickle.Leaf{Name: tok.(string), Value: val})
		}
	}
	keys := make([]string, 0, len(meta))
	for k := range meta {
		if k != metadataKey && k != "format" {
			keys = append(keys, k)
		}
	}
	sort.Strings(keys)
	for _, k := range keys {
		leaves = append(leaves, pickle.Leaf{Name: "__metadata__." + k, Value: meta[k]})
	}
	return leaves, nil
}

// decodeValue reads one JSON value written by appendValue back into the value it was:
// integers as int64 (or *big.Int), numbers with a fraction or exponent as float64,
// arrays as pickle.List, objects as an ordered *pickle.Dict.
func decodeValue(dec *json.Decoder) (any, error) {
	tok, err := dec.Token()
	if err != nil {
		return nil, err
	}
	switch tok := tok.(type) {
	case json.Number:
		s := tok.String()
		if strings.ContainsAny(s, ".eE") {
			return tok.Float64()
		}
		if i, err := tok.Int64(); err == nil {
			return i, nil
		}
		b, ok := new(big.Int).SetString(s, 10)
		if !ok {
			return nil, fmt.Errorf("bad number %s", s)
		}
		return b, nil
	case json.Delim:
		switch tok {
		case '[':
			l := pickle.List{}
			for dec.More() {
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				l = append(l, v)
			}
			_, err := dec.Token()
			return l, err
		case '{':
			d := &pickle.Dict{Ordered: true}
			for dec.More() {
				k, err := dec.Token()
				if err != nil {
					return nil, err
				}
				v, err := decodeValue(dec)
				if err != nil {
					return nil, err
				}
				d.Entries = append(d.Entries, pickle.DictEntry{Key: k, Value: v})
			}
			_, err := dec.Token()
			return d, err
		}
	}
	return tok, nil // string, bool, nil
}

package safetensors

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"reflect"
	"strings"
	"testing"
)

// headerSeeds are JSON headers, well formed and not, that could tell parseHeader from
// json.Unmarshal: null, other values, data after the object, punctuation out of place,
// strings holding brackets, quotes and escapes, keys escaped or not UTF-8, duplicate
// keys, values nested about as deep as json allows.
func headerSeeds() []string {
	nest := func(n int) string { return strings.Repeat("[", n) + strings.Repeat("]", n) }
	seeds := []string{
		"", " ", "null", " null ", "nul", "{}", " { } ", "{} x", "{}{}", "[]", "[1]", `"s"`, "1", "true",
		`{"a":1}`, `{"a":1}x`, `{"a":1} `, `{"a":1,}`, `{"a" 1}`, `{"a":}`, `{"a":1 "b":2}`, `{,"a":1}`,
		`{"a":[1,2}`, `{"a":{"b":[1,{"c":"]}"}]}}`, `{"a":"x\"}y","b":"\\"}`, `{"a":1`, `{"a":"1`, `{"a`,
		`{"a":tru}`, `{"a":true,"b":false,"c":null}`, `{"a":-1.5e3,"b":0}`, `{"a":01}`, `{"a":1.}`,
		`{"\u00e9":1,"\ud800":2,"a\nb":3}`, "{\"\xff\":1}", "{\"a\xffb\":\"\xfe\"}", `{"a":1,"a":2}`,
		`{"":{}}`, "{\n\t\"a\" :\r [ 1 , 2 ] \n}", `{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]}}`,
		`{"__metadata__":{"k":"v"},"t":{"dtype":"U8","shape":[],"data_offsets":[0,1]}}`,
		"{\"a\":\x00}", "{\"a\":\"\x01\"}", `{"a":1}]`, `{"a":[}`, `{"a":]}`, `{"a":{]}`, `{"a":"\q"}`,
	}
	for _, n := range []int{999, 1000, 1001, 9999, 10000, 10001} {
		seeds = append(seeds, `{"a":`+nest(n)+`}`)
	}
	return seeds
}

// sameAsUnmarshal fails t unless parseHeader parses hdr as json.Unmarshal does: the
// same members, byte for byte, or the same error.
func sameAsUnmarshal(t *testing.T, hdr []byte) {
	var want map[string]json.RawMessage
	werr := json.Unmarshal(hdr, &want)
	got, err := parseHeader(context.Background(), hdr)
	if fmt.Sprint(err) != fmt.Sprint(werr) {
		t.Fatalf("%q: error %v, json.Unmarshal's %v", hdr, err, werr)
	}
	if werr == nil && (!reflect.DeepEqual(got, want) || (got == nil) != (want == nil)) {
		t.Fatalf("%q: %q, json.Unmarshal's %q", hdr, got, want)
	}
}

// TestParseHeader: parseHeader parses every header as json.Unmarshal does, and stops
// between members once its context is done.
func TestParseHeader(t *testing.T) {
	for _, s := range headerSeeds() {
		sameAsUnmarshal(t, []byte(s))
	}
	var b bytes.Buffer
	b.WriteString("{")
	for i := range 3 * pollEvery {
		fmt.Fprintf(&b, `"t%d":{"dtype":"U8","shape":[],"data_offsets":[%d,%d]},`, i, i, i+1)
	}
	b.WriteString(`"end":1}`)
	sameAsUnmarshal(t, b.Bytes())
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if raw, err := parseHeader(ctx, b.Bytes()); !errors.Is(err, context.Canceled) || raw != nil {
		t.Errorf("a context done: %d members, %v; want context.Canceled", len(raw), err)
	}
}

// FuzzParseHeader: parseHeader parses any bytes as json.Unmarshal does.
func FuzzParseHeader(f *testing.F) {
	for _, s := range headerSeeds() {
		f.Add([]byte(s))
	}
	f.Fuzz(func(t *testing.T, hdr []byte) { sameAsUnmarshal(t, hdr) })
}

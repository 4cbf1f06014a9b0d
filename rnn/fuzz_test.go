package rnn

import (
	"math/rand/v2"
	"slices"
	"testing"
)

// FuzzForward builds small networks and arguments (sometimes of the wrong shapes) from the
// fuzzer's bytes and checks that Forward never panics, that the fastest kernels and the Go
// kernels accept and refuse the same arguments, and that they agree on the results.
func FuzzForward(f *testing.F) {
	f.Add([]byte{0, 1, 0, 1, 0, 0, 3, 2, 3, 4, 0, 0, 0})
	f.Add([]byte{2, 2, 1, 1, 1, 0, 7, 3, 5, 9, 3, 1, 0})
	f.Add([]byte{3, 3, 1, 0, 0, 1, 1, 1, 1, 1, 0, 1, 1})
	f.Add([]byte{2, 1, 0, 1, 0, 1, 5, 0, 2, 6, 2, 2, 9})
	f.Add([]byte{1, 2, 1, 1, 1, 0, 9, 4, 8, 16, 0, 1, 2})
	f.Fuzz(func(t *testing.T, b []byte) {
		at := func(i int) int {
			if i < len(b) {
				return int(b[i])
			}
			return 0
		}
		c := Config{
			Mode:          Mode(at(0) % 4),
			NumLayers:     1 + at(1)%3,
			Bidirectional: at(2)%2 == 1,
			Bias:          at(3)%2 == 1,
			BatchFirst:    at(4)%2 == 1,
			InputSize:     1 + at(8)%9,
			HiddenSize:    1 + at(9)%17,
		}
		if c.Mode == LSTM && at(10)%3 > 0 && c.HiddenSize > 1 {
			c.ProjSize = 1 + at(10)%(c.HiddenSize-1)
		}
		unbatched := at(5)%2 == 1
		L, N := at(6)%10, at(7)%6
		bad := at(11) % 5 // 0..2 good shapes; 3: wrong h0; 4: wrong c0
		rng := rand.New(rand.NewPCG(uint64(at(12)), 1))
		params := randomParams[float32](c, rng)
		fast, err := New(c, params)
		if err != nil {
			t.Fatal(err)
		}
		slow := build(c, params, portableOps[float32]())
		D, P := c.directions(), c.outSize()
		var x, h0, c0 *Tensor[float32]
		switch {
		case unbatched:
			x = randomTensor[float32](rng, L, c.InputSize)
			h0 = randomTensor[float32](rng, D*c.NumLayers, P+boolInt(bad == 3))
			c0 = randomTensor[float32](rng, D*c.NumLayers, c.HiddenSize+boolInt(bad == 4))
		case c.BatchFirst:
			x = randomTensor[float32](rng, N, L, c.InputSize)
		default:
			x = randomTensor[float32](rng, L, N, c.InputSize)
		}
		if !unbatched {
			h0 = randomTensor[float32](rng, D*c.NumLayers, N+boolInt(bad == 3), P)
			c0 = randomTensor[float32](rng, D*c.NumLayers, N, c.HiddenSize+boolInt(bad == 4))
		}
		if at(11)%2 == 1 {
			h0 = nil
		}
		if c.Mode != LSTM && bad != 4 {
			c0 = nil
		}
		r1, err1 := fast.Forward(x, h0, c0)
		r2, err2 := slow.Forward(x, h0, c0)
		if (err1 == nil) != (err2 == nil) || err1 != nil && err1.Error() != err2.Error() {
			t.Fatalf("%+v: errors differ: %v / %v", c, err1, err2)
		}
		if err1 != nil {
			return
		}
		for _, pair := range [][2]*Tensor[float32]{{r1.Output, r2.Output}, {r1.H, r2.H}, {r1.C, r2.C}} {
			if pair[0] == nil && pair[1] == nil {
				continue
			}
			if !slices.Equal(pair[0].Shape, pair[1].Shape) {
				t.Fatalf("%+v: shapes differ: %v / %v", c, pair[0].Shape, pair[1].Shape)
			}
			if d := maxDiff(pair[0].Data, pair[1].Data); d > 1e-5 {
				t.Fatalf("%+v: kernels differ by %g", c, d)
			}
		}
	})
}

func boolInt(b bool) int {
	if b {
		return 1
	}
	return 0
}

package parity

import (
	"context"
	"fmt"
	"math"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"strings"
	"testing"

	"github.com/ptport/ptport/convert"
	"github.com/ptport/ptport/convert/internal/fixture"
	"github.com/ptport/ptport/rnn"
)

// rnnCase is a case file of testdata/rnn/gen.py (and of scripts/rnn_difftest.py): a
// safetensors file with the configuration in its metadata, the parameters, the
// arguments and PyTorch's results, and for a float32 case made with truth=True PyTorch's
// float64 truth (truth_output, truth_h_n, truth_c_n).
type rnnCase struct {
	name  string
	cfg   rnn.Config
	dtype string
	cp    *convert.Checkpoint
}

func readRNNCase(t *testing.T, path string) (*rnnCase, bool) {
	t.Helper()
	cp, err := convert.Open(path, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cp.Close() })
	meta := map[string]string{}
	for _, l := range cp.Leaves {
		if k, ok := strings.CutPrefix(l.Name, "__metadata__."); ok {
			meta[k], _ = l.Value.(string)
		}
	}
	if _, synth := meta["param_seed"]; synth {
		return nil, false // parameters not stored: package rnn's tests cover these
	}
	atoi := func(k string) int {
		v, err := strconv.Atoi(meta[k])
		if err != nil {
			t.Fatalf("%s: metadata %s = %q", path, k, meta[k])
		}
		return v
	}
	modes := map[string]rnn.Mode{"RNN_TANH": rnn.RNNTanh, "RNN_RELU": rnn.RNNReLU, "LSTM": rnn.LSTM, "GRU": rnn.GRU}
	mode, ok := modes[meta["mode"]]
	if !ok {
		return nil, false // a kind of case this test does not know
	}
	c := &rnnCase{name: strings.TrimSuffix(filepath.Base(path), ".safetensors"), dtype: meta["dtype"], cp: cp, cfg: rnn.Config{
		Mode: mode, InputSize: atoi("input_size"), HiddenSize: atoi("hidden_size"), NumLayers: atoi("num_layers"),
		Bias: meta["bias"] == "true", BatchFirst: meta["batch_first"] == "true",
		Bidirectional: meta["bidirectional"] == "true", ProjSize: atoi("proj_size")}}
	return c, true
}

func (c *rnnCase) values(t *testing.T, name string) []float64 {
	t.Helper()
	tn, ok := c.cp.Tensor(name)
	if !ok {
		return nil
	}
	v, err := tn.Float64s()
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// rnnCasesDir is the folder TestTruth reads: $PTPORT_RNN_CASES (scripts/rnn_difftest.py
// sets it), or the committed fixtures of package rnn.
func rnnCasesDir() string {
	if d := os.Getenv("PTPORT_RNN_CASES"); d != "" {
		return d
	}
	return fixture.Path("rnn")
}

// TestTruth computes the float64 truth of every case as Check does and checks it against
// PyTorch: against PyTorch's own float64 results (float64 cases, and the truth_* tensors of
// float32 cases) to 1e-12, in every mode, layout and direction. For float32 cases it
// judges Go's results by the check's rules (each must pass) and reports the ratio
// |go - truth| / |torch - truth| of every compared tensor: the worst overall, and the
// worst among tensors whose larger error is above the truth rule's floor, where the
// ratio is more than the last bit of a handful of values.
func TestTruth(t *testing.T) {
	dir := rnnCasesDir()
	files, err := filepath.Glob(filepath.Join(dir, "*.safetensors"))
	if err != nil || len(files) == 0 {
		t.Fatalf("no cases in %s (%v)", dir, err)
	}
	sort.Strings(files)
	type ratio struct {
		r     float64
		where string
	}
	var worst, worstAbove ratio
	var ratios, rmsRatios []float64
	ratioSpan, noiseSpan := [2]float64{math.Inf(1), 0}, [2]float64{math.Inf(1), 0}
	withoutNoise := 0
	largest := 0.0
	var worstRMS ratio
	var nullRatios, nullRMS, systematic []float64 // see relabelling
	byBatch := map[string][]float64{}             // systematic, by the batch's size
	relabellings := 0
	var f64Cases, f32Cases, truthChecked, tensors, above, byTruth, undecided int
	for _, path := range files {
		c, ok := readRNNCase(t, path)
		if !ok {
			continue
		}
		net := &network{cfg: c.cfg, params: map[string][]float64{}}
		for _, p := range c.cfg.Params() {
			net.params[p.Name] = c.values(t, p.Name)
		}
		x, _ := c.cp.Tensor(RefInput)
		xs := c.values(t, RefInput)
		h0, c0 := c.values(t, RefH0), c.values(t, RefC0)
		truth, err := net.forward(context.Background(), xs, x.Shape, h0, c0, nil)
		if err != nil {
			t.Fatalf("%s: %v", c.name, err)
		}
		// closeTo compares the truth with PyTorch's float64 within 1e-12, plus, where the
		// model amplifies rounding, 1e-6 of PyTorch's float32 error (amplified): float64
		// rounds 2^29 times finer than float32, and is amplified alike.
		closeTo := func(what string, a, b []float64, f32 []float64) {
			if len(a) != len(b) {
				t.Fatalf("%s: %s: %d values, PyTorch %d", c.name, what, len(a), len(b))
			}
			amplified := 0.0
			for i := range f32 {
				amplified = max(amplified, math.Abs(f32[i]-b[i]))
			}
			for i := range a {
				if d := math.Abs(a[i] - b[i]); d > 1e-12*max(1, math.Abs(b[i]))+1e-6*amplified {
					t.Fatalf("%s: %s[%d] = %v, PyTorch's float64 %v", c.name, what, i, a[i], b[i])
				}
			}
		}
		names := []string{RefOutput, RefHN, RefCN}
		switch c.dtype {
		case "F64":
			f64Cases++
			for _, n := range names {
				if want := c.values(t, n); want != nil {
					closeTo(n, pick(truth, n), want, nil)
				}
			}
			continue
		case "F32":
		default:
			continue
		}
		f32Cases++
		for _, n := range names {
			if want := c.values(t, "truth_"+n); want != nil {
				closeTo("truth "+n, pick(truth, n), want, c.values(t, n))
				truthChecked++
			}
		}
		// Go's float32 results, judged by the rules of Check.
		params := map[string][]float32{}
		for k, v := range net.params {
			params[k] = narrow(v)
		}
		m, err := rnn.New(c.cfg, params)
		if err != nil {
			t.Fatal(err)
		}
		tensor := func(v []float64, shape []int) *rnn.Tensor[float32] {
			if v == nil {
				return nil
			}
			return &rnn.Tensor[float32]{Data: narrow(v), Shape: shape}
		}
		var h0t, c0t *rnn.Tensor[float32]
		var h0Shape, c0Shape []int
		if h0 != nil {
			t0, _ := c.cp.Tensor(RefH0)
			h0t, h0Shape = tensor(h0, t0.Shape), t0.Shape
		}
		if c0 != nil {
			t0, _ := c.cp.Tensor(RefC0)
			c0t, c0Shape = tensor(c0, t0.Shape), t0.Shape
		}
		res, err := m.Forward(tensor(xs, x.Shape), h0t, c0t)
		if err != nil {
			t.Fatal(err)
		}
		// PyTorch's results of relabellings of the network, when the case has them, and as
		// many relabellings computed by Go.
		var refRel []map[string][]float64
		var goRel []map[string][]float32
		for k := 1; ; k++ {
			r := map[string][]float64{}
			for _, n := range names {
				if v := c.values(t, fmt.Sprintf("relabelled%d_%s", k, n)); v != nil {
					r[n] = v
				}
			}
			if len(r) == 0 {
				break
			}
			rl := newRelabelling(c.cfg, rand.New(rand.NewPCG(uint64(k), 0x72656c6162656c)))
			g, err := rl.forward(c.cfg, net.params, xs, x.Shape, h0, h0Shape, c0, c0Shape)
			if err != nil {
				t.Fatal(err)
			}
			refRel, goRel = append(refRel, r), append(goRel, g)
		}
		var noise map[string]float64
		for _, n := range names {
			want, ok := c.cp.Tensor(n)
			if !ok {
				continue
			}
			got := map[string]*rnn.Tensor[float32]{RefOutput: res.Output, RefHN: res.H, RefCN: res.C}[n]
			tr := Compare(n, got, want, &rnn.Tensor[float64]{Data: pick(truth, n), Shape: want.Shape}, nil)
			if !tr.Pass && tr.Rule == RuleTruth {
				// As Check does: judge again with the measured rounding noise.
				if noise == nil {
					if noise, err = net.noise(context.Background(), xs, x.Shape, h0, c0, truth); err != nil {
						t.Fatal(err)
					}
				}
				tr.Noise = noise[n]
				tr.judgeTruth()
			}
			switch {
			case tr.Pass && tr.Rule == RuleTruth:
				byTruth++
			case !tr.Pass && tr.Rule == RuleTruth && max(tr.GoTruth, tr.RefTruth) > tr.Cap && max(tr.GoTruth, tr.RefTruth) <= TruthFactor*max(min(tr.GoTruth, tr.RefTruth), tr.Floor, tr.Noise):
				// Beyond the cap: float32 cannot decide, and the check says so.
				undecided++
				t.Logf("%s: %s undecidable in float32: %s", c.name, n, tr.Reason)
			case !tr.Pass:
				t.Errorf("%s: %s fails: %s (|go - ref| %.3g)", c.name, n, tr.Reason, tr.MaxAbsErr)
			}
			tensors++
			largest = max(largest, tr.GoTruth, tr.RefTruth)
			where := fmt.Sprintf("%s %s: |go - truth| %.3g, |torch - truth| %.3g", c.name, n, tr.GoTruth, tr.RefTruth)
			if tr.RefTruth > 0 {
				r := tr.GoTruth / tr.RefTruth
				ratios = append(ratios, r)
				if r > worst.r {
					worst = ratio{r, where}
				}
				if hi := max(tr.GoTruth, tr.RefTruth); hi > tr.Floor && hi <= tr.Cap {
					// The calibration of the truth rule: how the two errors compare, and
					// how the larger compares with the measured noise.
					if noise == nil {
						if noise, err = net.noise(context.Background(), xs, x.Shape, h0, c0, truth); err != nil {
							t.Fatal(err)
						}
					}
					lo := min(tr.GoTruth, tr.RefTruth)
					ratioSpan = span(ratioSpan, r)
					noiseSpan = span(noiseSpan, hi/noise[n])
					if hi > TruthFactor*max(lo, tr.Floor) {
						withoutNoise++
					}
				}
				if max(tr.GoTruth, tr.RefTruth) > tr.Floor {
					above++
					// The ratio of root-mean-square errors, which weighs every element.
					var gs, rs float64
					for i := range tr.truth {
						gs += (tr.got[i] - tr.truth[i]) * (tr.got[i] - tr.truth[i])
						rs += (tr.want[i] - tr.truth[i]) * (tr.want[i] - tr.truth[i])
					}
					rr := math.Sqrt(gs / rs)
					rmsRatios = append(rmsRatios, rr)
					if len(refRel) > 0 {
						// PyTorch against itself: its first relabelling.
						r1 := refRel[0][n]
						nullRatios = append(nullRatios, maxErr(r1, tr.truth)/tr.RefTruth)
						nullRMS = append(nullRMS, rmsErr(r1, tr.truth)/rmsErr(tr.want, tr.truth))
					}
					if len(refRel) > 0 && max(tr.GoTruth, tr.RefTruth) <= tr.Cap {
						// Each side's log error, averaged over its relabellings.
						lg, lr := math.Log(rmsErr(tr.got, tr.truth)), math.Log(rmsErr(tr.want, tr.truth))
						for k := range refRel {
							lg += math.Log(rmsErr(widen(goRel[k][n]), tr.truth))
							lr += math.Log(rmsErr(refRel[k][n], tr.truth))
						}
						d := (lg - lr) / float64(len(refRel)+1)
						systematic = append(systematic, d)
						batch := "3 or more"
						if n := batchSize(x.Shape, c.cfg.BatchFirst); n < 3 {
							batch = strconv.Itoa(n)
						}
						byBatch[batch] = append(byBatch[batch], d)
						relabellings = len(refRel)
					}
					if rr > worstRMS.r {
						worstRMS = ratio{rr, where}
					}
					if r > worstAbove.r {
						worstAbove = ratio{r, where}
					}
				}
			}
		}
	}
	if f32Cases+f64Cases == 0 {
		t.Fatalf("no case with stored parameters in %s", dir)
	}
	t.Logf("%s: the truth matches PyTorch's float64 in %d float64 cases and %d float32 truths", dir, f64Cases, truthChecked)
	sort.Float64s(ratios)
	if len(ratios) > 0 {
		t.Logf("%d float32 cases, %d tensors: |go - truth| / |torch - truth| median %.3g, 90th percentile %.3g, worst %.3g (%s)",
			f32Cases, tensors, ratios[len(ratios)/2], ratios[len(ratios)*9/10], worst.r, worst.where)
	}
	t.Logf("%d tensors beyond atol/rtol passed by the truth rule, %d beyond its cap (undecidable in float32)", byTruth, undecided)
	if above > 0 {
		sort.Float64s(rmsRatios)
		t.Logf("%d tensors above the floor: worst ratio %.3g (%s)", above, worstAbove.r, worstAbove.where)
		t.Logf("ratio of root-mean-square errors above the floor: median %.3g, 90th percentile %.3g, worst %.3g (%s)",
			rmsRatios[len(rmsRatios)/2], rmsRatios[len(rmsRatios)*9/10], worstRMS.r, worstRMS.where)
		t.Logf("between floor and cap: G/R spans %.3g to %.3g, max(G, R)/noise %.3g to %.3g; %d would fail the rule without the noise",
			ratioSpan[0], ratioSpan[1], noiseSpan[0], noiseSpan[1], withoutNoise)
		if len(nullRatios) > 0 {
			// Two float32 results exactly as accurate as each other, PyTorch's and
			// PyTorch's of the relabelled network, spread as much: the spread of one run's
			// ratio is not Go's.
			sort.Float64s(nullRatios)
			sort.Float64s(nullRMS)
			t.Logf("PyTorch relabelled, on the same tensors: |relabelled - truth| / |torch - truth| median %.3g, 90th percentile %.3g, worst %.3g; ratio of root-mean-square errors median %.3g, 90th percentile %.3g, worst %.3g",
				nullRatios[len(nullRatios)/2], nullRatios[len(nullRatios)*9/10], nullRatios[len(nullRatios)-1],
				nullRMS[len(nullRMS)/2], nullRMS[len(nullRMS)*9/10], nullRMS[len(nullRMS)-1])
		}
		if n := len(systematic); n > 0 {
			mean, sd := meanSD(systematic)
			sort.Float64s(systematic)
			ratio, se := math.Exp(mean), math.Exp(mean)*sd/math.Sqrt(float64(n))
			t.Logf("over each side's network and %d relabellings, on %d tensors between floor and cap: Go's root-mean-square error is %.3g ± %.2g times PyTorch's (geometric mean; median %.3g, 10th to 90th percentile %.3g to %.3g)",
				relabellings, n, ratio, se, math.Exp(systematic[n/2]), math.Exp(systematic[n/10]), math.Exp(systematic[n*9/10]))
			for _, b := range []string{"1", "2", "3 or more"} {
				if v := byBatch[b]; len(v) > 0 {
					mean, sd := meanSD(v)
					t.Logf("  batches of %s: %.3g ± %.2g times (%d tensors)", b, math.Exp(mean), math.Exp(mean)*sd/math.Sqrt(float64(len(v))), len(v))
				}
			}
			// Go must round about as well as PyTorch does: a quarter worse, beyond the
			// sampling error of the difftest's default run, would be a kernel rounding
			// worse than ATen's.
			if n >= 20 && ratio > 1.25 {
				t.Errorf("Go's float32 error is %.3g times PyTorch's (± %.2g), above 1.25", ratio, se)
			}
		}
	} else {
		t.Logf("no tensor's error is above the floor (%.3g at scale 1): the largest is %.3g, a few roundings", TruthFloor, largest)
	}
}

// maxErr returns max |v - truth|; rmsErr the root-mean-square of v - truth.
func maxErr(v, truth []float64) float64 {
	m := 0.0
	for i, x := range v {
		m = max(m, absDiff(x, truth[i]))
	}
	return m
}

func rmsErr(v, truth []float64) float64 {
	s := 0.0
	for i, x := range v {
		s += (x - truth[i]) * (x - truth[i])
	}
	return math.Sqrt(s / float64(len(v)))
}

func widen(v []float32) []float64 {
	out := make([]float64, len(v))
	for i, x := range v {
		out[i] = float64(x)
	}
	return out
}

// batchSize returns the number of sequences of an input of shape xShape.
func batchSize(xShape []int, batchFirst bool) int {
	switch {
	case len(xShape) == 2:
		return 1
	case batchFirst:
		return xShape[0]
	}
	return xShape[1]
}

// meanSD returns the mean and the standard deviation of v.
func meanSD(v []float64) (mean, sd float64) {
	for _, x := range v {
		mean += x
	}
	mean /= float64(len(v))
	for _, x := range v {
		sd += (x - mean) * (x - mean)
	}
	return mean, math.Sqrt(sd / float64(max(1, len(v)-1)))
}

// span widens the range s to hold v.
func span(s [2]float64, v float64) [2]float64 { return [2]float64{min(s[0], v), max(s[1], v)} }

func narrow(v []float64) []float32 {
	out := make([]float32, len(v))
	for i, x := range v {
		out[i] = float32(x)
	}
	return out
}

// TestWithin: the comparison of the diagnosis takes atol + rtol·|want| as its bound,
// reports the largest error, and counts a NaN, or a length that differs, as out of it.
func TestWithin(t *testing.T) {
	tol := Tolerance{Atol: 0.1, Rtol: 0.1}
	for _, c := range []struct {
		got, want []float64
		e         float64
		ok        bool
	}{
		{[]float64{1, 2.25}, []float64{1, 2}, 0.25, true},
		{[]float64{1, 2.35}, []float64{1, 2}, 0.35, false},
		{[]float64{1}, []float64{1, 2}, 0, false},
	} {
		if e, ok := within(c.got, c.want, tol); math.Abs(e-c.e) > 1e-12 || ok != c.ok {
			t.Errorf("within(%v, %v): %v, %v; want %v, %v", c.got, c.want, e, ok, c.e, c.ok)
		}
	}
	if _, ok := within([]float64{math.NaN()}, []float64{1}, tol); ok {
		t.Error("a NaN is within the tolerance")
	}
}

// TestMulContext: the truth's input projection computed in parts, looking at its
// context between them, is the one product to the bit, and stops once the context is
// done.
func TestMulContext(t *testing.T) {
	rng := rand.New(rand.NewPCG(7, 8))
	const rows, k, n = 1000, 96, 1024 // parts of 128 rows, the last of 104
	a, w := make([]float64, rows*k), make([]float64, n*k)
	for i := range a {
		a[i] = rng.NormFloat64()
	}
	for i := range w {
		w[i] = rng.NormFloat64()
	}
	want, got := make([]float64, rows*n), make([]float64, rows*n)
	mul(a, rows, k, w, n, want)
	if err := mulContext(context.Background(), a, rows, k, w, n, got); err != nil {
		t.Fatal(err)
	}
	for i := range want {
		if math.Float64bits(got[i]) != math.Float64bits(want[i]) {
			t.Fatalf("element %d (row %d): %v in parts, %v in one product", i, i/n, got[i], want[i])
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if err := mulContext(ctx, a, rows, k, w, n, got); err != context.Canceled {
		t.Errorf("stopped: %v, want context.Canceled", err)
	}
}

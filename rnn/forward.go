package rnn

import (
	"runtime"
	"sync"
	"sync/atomic"
)

// job is one Forward call with checked arguments. Element (t, n, :) of x is at
// (t*N+n)*InputSize, or (n*L+t)*InputSize when batchFirst; out follows the same layout with
// rows of D*P. h0, c0, hn and cn are (D*NumLayers, N, P or H); h0 and c0 may be nil.
type job[T Float] struct {
	L, N       int
	batchFirst bool
	x, out     []T
	h0, c0     []T
	hn, cn     []T
	// done, when not nil, stops the pass once it is closed (see stopWork).
	done <-chan struct{}
}

// stopWork is about how many multiply-adds a forward pass with a done channel computes
// between two looks at it (a millisecond or less on one core): between time steps, every
// so many steps, and between parts of the input projection. A look is a receive that
// does not block; the kernels never look.
const stopWork = 1 << 24

// stopMinRows is the fewest rows of a part of an input projection computed between two
// looks at done, so that the parts stay large products.
const stopMinRows = 64

// stopped reports whether j's done channel is closed.
func (j *job[T]) stopped() bool {
	if j.done == nil {
		return false
	}
	select {
	case <-j.done:
		return true
	default:
		return false
	}
}

// workspace holds the scratch buffers of one worker. Buffers only grow; a workspace
// returns to the Model's pool after each call.
type workspace[T Float] struct {
	ybuf  [2][]T        // outputs of the layers below the last, used in turn
	sc    [2]scratch[T] // per direction
	zeros []T           // read-only zeros for a missing h0
	split stepSplit[T]  // the helpers of a call whose steps are split
	// kept, when not nil, holds helpers that outlive a call: a State's, so that its
	// steps start no goroutine and allocate nothing.
	kept *stepSplit[T]
}

// scratch holds the buffers of one direction's time loop.
type scratch[T Float] struct {
	xw    []T // the input projection of every step: L*nb rows of G*H (padded)
	gates []T // nb rows of G*H (padded)
	c     []T // LSTM cell state: nb rows of H
	hr    []T // LSTM o*tanh(c) before the projection: nb rows of H
	pout  []T // LSTM projection output: nb rows of P (padded)
	rows  rowScratch[T]
	split *stepSplit[T] // when not nil, the products of the steps are split by panels
	back  bool          // the next product on one goroutine takes its panels last to first
}

// gemm computes gemm(o, m, a, lda, b, c, ldc, bias, add, ldadd), split by panels over
// sc.split's goroutines when sc has them. On one goroutine, where b is larger than
// streamMinBytes, one product takes the panels of b first to last and the next last to
// first: the products of the steps read the same W_hh one after the other, and a W_hh
// larger than the L2 cache, read in the same order every time, would find none of itself
// there (each panel evicted before it comes round again), where read back and forth it
// finds there the panels it read last.
//
// ahead, when not nil, is memory read soon after the product, which it may prefetch (see
// gemmPanels). A split product's b streams, and its parts take none.
func (sc *scratch[T]) gemm(o *ops[T], m int, a []T, lda int, b *packed[T], c []T, ldc int, bias, add []T, ldadd int, ahead []T) {
	if sc.split != nil {
		sc.split.gemm(o, m, a, lda, b, c, ldc, bias, add, ldadd)
		return
	}
	if !streamed(b) {
		gemmPanels(o, m, a, lda, b, 0, b.np/b.nr, false, c, ldc, bias, add, ldadd, ahead)
		return
	}
	gemmPanels(o, m, a, lda, b, 0, b.np/b.nr, sc.back, c, ldc, bias, add, ldadd, nil)
	sc.back = !sc.back
}

func grow[T Float](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Work below which a Forward stays on one goroutine (multiply-adds).
const parallelMinWork = 1 << 20

// plan decides how a forward pass over L steps of N sequences is spread over goroutines:
// over the batch (workers > 1: each worker takes a contiguous range of sequences through
// every layer, independently of the others, see batchStart), or, for a bidirectional
// network whose batch does not split, over the two directions of each layer (dirPar).
// Work below parallelMinWork stays on the calling goroutine.
func (m *Model[T]) plan(L, N int) (workers int, dirPar bool) {
	procs := runtime.GOMAXPROCS(0)
	if procs < 2 || m.work(L, N) < parallelMinWork {
		return 1, false
	}
	workers = min(procs, m.maxParts(N))
	return workers, workers == 1 && m.cfg.Bidirectional
}

// The batch is split in parts of 3 sequences or more, so that every sequence gets the same
// result to the bit whatever the number of goroutines: a GEMM of 3 rows or more sums each
// row's products in the same order in every tile (see gemm), one of 1 or 2 rows does not.

// maxParts returns into how many parts a batch of N sequences splits.
func (m *Model[T]) maxParts(N int) int { return max(1, N/3) }

// batchStart returns the first sequence of part w of a batch of N split into parts
// (batchStart(parts, parts, N) = N).
func (m *Model[T]) batchStart(w, parts, N int) int { return N * w / parts }

// run computes j with the plan's goroutines. It returns false if j was stopped (see
// job.done) before its end, once every goroutine it started has returned; j's outputs
// are then incomplete.
func (m *Model[T]) run(j *job[T]) bool {
	workers, dirPar := m.plan(j.L, j.N)
	if workers == 1 {
		return m.worker(j, 0, j.N, dirPar)
	}
	var wg sync.WaitGroup
	var stopped atomic.Bool
	for w := 1; w < workers; w++ {
		n0, n1 := m.batchStart(w, workers, j.N), m.batchStart(w+1, workers, j.N)
		wg.Add(1)
		go func() {
			defer wg.Done()
			if !m.worker(j, n0, n1, false) {
				stopped.Store(true)
			}
		}()
	}
	ok := m.worker(j, 0, m.batchStart(1, workers, j.N), false)
	wg.Wait()
	return ok && !stopped.Load()
}

// work estimates the multiply-adds of a forward pass, in 64 bits: a pass of a few
// billion multiply-adds overflows an int of 32.
func (m *Model[T]) work(L, N int) int64 {
	c := m.cfg
	gh := int64(c.Mode.Gates() * c.HiddenSize)
	var w int64
	for k := 0; k < c.NumLayers; k++ {
		w += gh * int64(c.layerInput(k)+c.outSize())
		if c.ProjSize > 0 {
			w += int64(c.HiddenSize) * int64(c.ProjSize)
		}
	}
	return w * int64(c.directions()) * int64(L) * int64(N)
}

// worker computes batch rows [n0, n1) of j with a workspace from the pool, as compute.
func (m *Model[T]) worker(j *job[T], n0, n1 int, dirPar bool) bool {
	ws := m.pool.Get().(*workspace[T])
	defer m.pool.Put(ws)
	return m.compute(ws, j, n0, n1, dirPar)
}

// compute computes batch rows [n0, n1) of j in ws, layer after layer. Once ws has grown
// to the sizes j needs, it allocates nothing unless dirPar (which starts a goroutine per
// layer, outside the time loops). It returns false if j was stopped before its end (the
// helpers it started have then ended too).
func (m *Model[T]) compute(ws *workspace[T], j *job[T], n0, n1 int, dirPar bool) bool {
	c := m.cfg
	L, N, nb := j.L, j.N, n1-n0
	D, P, H := c.directions(), c.outSize(), c.HiddenSize
	DP := D * P

	// The worker's rows of x and out, where they are: no copy in or out.
	in := j.rows(j.x, c.InputSize, n0, nb)
	out := j.rows(j.out, DP, n0, nb)

	ghp := m.layers[0][0].whh.np
	for i := 0; i < D; i++ {
		sc := &ws.sc[i]
		sc.xw = grow(sc.xw, L*nb*ghp)
		sc.gates = grow(sc.gates, nb*ghp)
		if c.Mode == LSTM {
			sc.c = grow(sc.c, nb*H)
			if c.ProjSize > 0 {
				sc.hr = grow(sc.hr, nb*H)
				sc.pout = grow(sc.pout, nb*m.layers[0][0].whr.np)
			}
		}
	}
	for i := 0; i < min(2, c.NumLayers-1); i++ {
		ws.ybuf[i] = grow(ws.ybuf[i], L*nb*DP)
	}
	if j.h0 == nil {
		if cap(ws.zeros) < nb*P {
			ws.zeros = make([]T, nb*P)
		}
		ws.zeros = ws.zeros[:nb*P]
	}
	// A worker with the whole batch splits the products of its steps by panels when W_hh
	// outgrows a core's cache (see stepSplit); bidirectional layers whose directions run
	// at once already keep two cores busy.
	var split *stepSplit[T]
	if parts := splitParts(&m.layers[0][0].whh); parts > 1 && nb == N && !dirPar {
		switch split = ws.kept; {
		case split == nil:
			split = &ws.split
			split.start(parts)
			defer split.stop()
		case len(split.helpers)+1 != parts:
			split.stop()
			split.start(parts)
		}
	}
	for d := 0; d < D; d++ {
		ws.sc[d].split = split
	}
	for k := 0; k < c.NumLayers; k++ {
		lout := out
		if k < c.NumLayers-1 {
			lout = seqRows[T]{ws.ybuf[k%2], nb * DP, DP}
		}
		if dirPar && D == 2 {
			if !m.bothDirections(ws, j, k, in, lout, n0, nb) {
				return false
			}
		} else {
			for d := 0; d < D; d++ {
				if !m.direction(&ws.sc[d], ws, j, k, d, in, lout, n0, nb) {
					return false
				}
			}
		}
		in = lout
	}
	return true
}

// bothDirections runs the two directions of layer k at once, as direction.
func (m *Model[T]) bothDirections(ws *workspace[T], j *job[T], k int, in, out seqRows[T], n0, nb int) bool {
	var wg sync.WaitGroup
	var reverse bool
	wg.Add(1)
	go func() {
		defer wg.Done()
		reverse = m.direction(&ws.sc[1], ws, j, k, 1, in, out, n0, nb)
	}()
	forward := m.direction(&ws.sc[0], ws, j, k, 0, in, out, n0, nb)
	wg.Wait()
	return forward && reverse
}

// seqRows addresses the rows of a worker's nb sequences over the steps in a buffer: row
// i of step t (width values) starts at data[t*ts+i*ld].
type seqRows[T Float] struct {
	data   []T
	ts, ld int
}

// rows returns where the rows of sequences [n0, n0+nb) lie in buf, which is in j's input
// and output layout with rows of width values.
func (j *job[T]) rows(buf []T, width, n0, nb int) seqRows[T] {
	if j.batchFirst {
		return seqRows[T]{buf[n0*j.L*width:], width, j.L * width}
	}
	return seqRows[T]{buf[n0*width:], j.N * width, width}
}

// direction runs direction d of layer k over the worker's nb batch rows (global rows n0..)
// with the buffers of sc: in holds the L*nb rows of the layer's input; the direction writes its P
// columns of each of the L*nb rows of out (rows of D*P values). It returns false, its
// outputs incomplete, if j was stopped before its end.
func (m *Model[T]) direction(sc *scratch[T], ws *workspace[T], j *job[T], k, d int, in, out seqRows[T], n0, nb int) bool {
	c, o := m.cfg, m.o
	w := &m.layers[k][d]
	L, N := j.L, j.N
	D, P, H := c.directions(), c.outSize(), c.HiddenSize
	ghp := w.whh.np
	sl := k*D + d // index in h0/hn/c0/cn

	// Input projection of all steps: xw = x·W_ihᵀ + b_ih, in one product where the rows
	// lie evenly apart (step after step, or sequence after sequence), else step by step.
	// Each row's result is the same either way (gemmRows).
	xw := seqRows[T]{sc.xw[:L*nb*ghp], nb * ghp, ghp}
	switch {
	case in.ts == nb*in.ld || in.ld == L*in.ts:
		lda := in.ld
		if in.ts != nb*in.ld {
			lda, xw.ts, xw.ld = in.ts, ghp, L*ghp // sequence after sequence
		}
		// A pass that can be stopped computes the product in parts of rows, looking at
		// done between them; each row's result is the same (gemmRows).
		rows, part := L*nb, L*nb
		if j.done != nil {
			part = max(stopMinRows, stopWork/max(1, w.wih.k*w.wih.n))
		}
		for r0 := 0; r0 < rows; {
			r1 := min(rows, r0+part)
			if rows-r1 < 3 {
				r1 = rows // no last part of 1 or 2 rows, which the split does not take
			}
			a, c := in.data[r0*lda:], xw.data[r0*ghp:]
			if sc.split != nil && r1-r0 >= 3 {
				sc.gemm(o, r1-r0, a, lda, &w.wih, c, ghp, w.bih, nil, 0, nil) // gemmRows' result for 3 rows or more
			} else {
				gemmRows(o, &sc.rows, r1-r0, a, lda, &w.wih, c, ghp, w.bih)
			}
			if r0 = r1; r0 < rows && j.stopped() {
				return false
			}
		}
	default:
		every := max(1, stopWork/max(1, nb*w.wih.k*w.wih.n))
		for t := 0; t < L; t++ {
			if j.done != nil && t%every == every-1 && j.stopped() {
				return false
			}
			gemmRows(o, &sc.rows, nb, in.data[t*in.ts:], in.ld, &w.wih, xw.data[t*xw.ts:], ghp, w.bih)
		}
	}

	var h0 []T
	if j.h0 != nil {
		h0 = j.h0[(sl*N+n0)*P : (sl*N+n0+nb)*P]
	} else {
		h0 = ws.zeros[:nb*P]
	}
	var cs []T
	if c.Mode == LSTM {
		cs = sc.c[:nb*H]
		if j.c0 != nil {
			copy(cs, j.c0[(sl*N+n0)*H:(sl*N+n0+nb)*H])
		} else {
			clear(cs)
		}
	}

	// A pass that can be stopped looks at done every look steps.
	look, next := 0, -1
	if j.done != nil {
		look = max(1, stopWork/max(1, nb*ghp*(P+1)))
		next = look
	}
	tPrev := 0
	for s := 0; s < L; s++ {
		if s == next {
			if j.stopped() {
				return false
			}
			next += look
		}
		t := s
		if d == 1 {
			t = L - 1 - s
		}
		hp, ldh := h0, P
		if s > 0 {
			hp, ldh = out.data[tPrev*out.ts+d*P:], out.ld
		}
		// The next step's input projection, where its rows lie together, for this
		// step's product to prefetch.
		var ahead []T
		if s+1 < L && xw.ld == ghp {
			tn := t + 1
			if d == 1 {
				tn = t - 1
			}
			ahead = xw.data[tn*xw.ts : tn*xw.ts+nb*ghp]
		}
		m.step(w, sc, nb, hp, ldh, xw.data[t*xw.ts:], xw.ld, cs, out.data[t*out.ts+d*P:], out.ld, ahead)
		tPrev = t
	}

	// Final states.
	for i := 0; i < nb; i++ {
		copy(j.hn[(sl*N+n0+i)*P:][:P], out.data[tPrev*out.ts+i*out.ld+d*P:])
	}
	if c.Mode == LSTM {
		copy(j.cn[(sl*N+n0)*H:(sl*N+n0+nb)*H], cs)
	}
	return true
}

// step runs one time step of one direction of a layer over nb batch rows: from the
// previous output hp (nb rows, ldh apart) and this step's input projection xt (nb rows of
// w.whh.np values, ldx apart), it forms the recurrent product g = hp·W_hhᵀ + b_hh, applies the cell
// (updating the LSTM cell state cs, nb rows of H) and writes the new output, P values per
// row, to the nb rows of ot, ldo apart. hp may be the previous step's rows of ot. ahead,
// when not nil, is memory the next step reads (its input projection), which this step's
// product may prefetch (gemmPanels).
//
// Every time step of every layer, in Forward and in State.Step alike, runs through step:
// this is the one place where the work of a single step (a matrix-vector product when nb
// is 1) may be split further, for example over the panels of W_hh; whatever the split, each
// output must be summed in the order the kernels sum it, so that Forward and Step agree
// to the bit.
func (m *Model[T]) step(w *dirWeights[T], sc *scratch[T], nb int, hp []T, ldh int, xt []T, ldx int, cs, ot []T, ldo int, ahead []T) {
	c, o := m.cfg, m.o
	H, P := c.HiddenSize, c.outSize()
	ghp := w.whh.np
	gates := sc.gates[:nb*ghp]
	switch c.Mode {
	case RNNTanh, RNNReLU:
		sc.gemm(o, nb, hp, ldh, &w.whh, gates, ghp, w.bhh, xt, ldx, ahead)
		for i := 0; i < nb; i++ {
			if c.Mode == RNNTanh {
				o.tanh(ot[i*ldo:i*ldo+H], gates[i*ghp:])
			} else {
				reluRow(ot[i*ldo:i*ldo+H], gates[i*ghp:])
			}
		}
	case LSTM:
		sc.gemm(o, nb, hp, ldh, &w.whh, gates, ghp, w.bhh, xt, ldx, ahead)
		if c.ProjSize == 0 {
			for i := 0; i < nb; i++ {
				o.lstm(gates[i*ghp:i*ghp+4*H], cs[i*H:(i+1)*H], ot[i*ldo:i*ldo+H])
			}
			return
		}
		hr := sc.hr[:nb*H]
		for i := 0; i < nb; i++ {
			o.lstm(gates[i*ghp:i*ghp+4*H], cs[i*H:(i+1)*H], hr[i*H:(i+1)*H])
		}
		pnp := w.whr.np
		pout := sc.pout[:nb*pnp]
		gemm(o, nb, hr, H, &w.whr, pout, pnp, nil, nil, 0)
		for i := 0; i < nb; i++ {
			copy(ot[i*ldo:i*ldo+P], pout[i*pnp:])
		}
	case GRU:
		sc.gemm(o, nb, hp, ldh, &w.whh, gates, ghp, w.bhh, nil, 0, ahead)
		for i := 0; i < nb; i++ {
			o.gru(gates[i*ghp:i*ghp+3*H], xt[i*ldx:i*ldx+3*H], hp[i*ldh:i*ldh+H], ot[i*ldo:i*ldo+H])
		}
	}
}

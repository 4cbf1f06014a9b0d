package rnn

import (
	"runtime"
	"sync"
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
}

// workspace holds the scratch buffers of one worker. Buffers only grow; a workspace
// returns to the Model's pool after each call.
type workspace[T Float] struct {
	xin, yout []T
	ybuf      [2][]T
	xw        [2][]T // per direction: the input projection of every step, L*nb rows of G*H (padded)
	gates     [2][]T // per direction: nb rows of G*H (padded)
	c         [2][]T // per direction: LSTM cell state, nb rows of H
	hr        [2][]T // per direction: LSTM o*tanh(c) before the projection, nb rows of H
	pout      [2][]T // per direction: LSTM projection output, nb rows of P (padded)
	zeros     []T    // read-only zeros for a missing h0
}

func grow[T Float](s []T, n int) []T {
	if cap(s) < n {
		return make([]T, n)
	}
	return s[:n]
}

// Work below which a Forward stays on one goroutine (multiply-adds).
const parallelMinWork = 1 << 20

// run computes j, splitting the batch or the two directions over goroutines when the work
// is large enough to pay for it.
func (m *Model[T]) run(j *job[T]) {
	c := m.cfg
	procs := runtime.GOMAXPROCS(0)
	workers, dirPar := 1, false
	if procs > 1 && m.work(j.L, j.N) >= parallelMinWork {
		switch {
		case j.N >= 8:
			workers = min(procs, j.N/4)
		case c.Bidirectional:
			dirPar = true
		}
	}
	if workers == 1 {
		m.worker(j, 0, j.N, dirPar)
		return
	}
	var wg sync.WaitGroup
	for w := 1; w < workers; w++ {
		n0, n1 := j.N*w/workers, j.N*(w+1)/workers
		wg.Add(1)
		go func() {
			defer wg.Done()
			m.worker(j, n0, n1, false)
		}()
	}
	m.worker(j, 0, j.N/workers, false)
	wg.Wait()
}

// work estimates the multiply-adds of a forward pass.
func (m *Model[T]) work(L, N int) int {
	c := m.cfg
	gh := c.Mode.Gates() * c.HiddenSize
	w := 0
	for k := 0; k < c.NumLayers; k++ {
		w += gh * (c.layerInput(k) + c.outSize())
		if c.ProjSize > 0 {
			w += c.HiddenSize * c.ProjSize
		}
	}
	return w * c.directions() * L * N
}

// worker computes batch rows [n0, n1) of j.
func (m *Model[T]) worker(j *job[T], n0, n1 int, dirPar bool) {
	c := m.cfg
	ws := m.pool.Get().(*workspace[T])
	defer m.pool.Put(ws)

	L, N, nb := j.L, j.N, n1-n0
	D, P, H := c.directions(), c.outSize(), c.HiddenSize
	DP := D * P
	direct := !j.batchFirst && nb == N

	// The worker's input: L*nb rows of InputSize, step-major.
	in, inW := j.x, c.InputSize
	if !direct {
		ws.xin = grow(ws.xin, L*nb*inW)
		in = ws.xin
		for t := 0; t < L; t++ {
			for i := 0; i < nb; i++ {
				copy(in[(t*nb+i)*inW:(t*nb+i+1)*inW], j.x[j.rowOffset(t, n0+i)*inW:])
			}
		}
	}
	out := j.out
	if !direct {
		ws.yout = grow(ws.yout, L*nb*DP)
		out = ws.yout
	}

	// Per-direction scratch.
	ghp := m.layers[0][0].whh.np
	for d := 0; d < D; d++ {
		ws.xw[d] = grow(ws.xw[d], L*nb*ghp)
		ws.gates[d] = grow(ws.gates[d], nb*ghp)
		if c.Mode == LSTM {
			ws.c[d] = grow(ws.c[d], nb*H)
			if c.ProjSize > 0 {
				ws.hr[d] = grow(ws.hr[d], nb*H)
				ws.pout[d] = grow(ws.pout[d], nb*m.layers[0][0].whr.np)
			}
		}
	}
	if j.h0 == nil {
		if cap(ws.zeros) < nb*P {
			ws.zeros = make([]T, nb*P)
		}
		ws.zeros = ws.zeros[:nb*P]
	}

	for k := 0; k < c.NumLayers; k++ {
		lout := out
		if k < c.NumLayers-1 {
			ws.ybuf[k%2] = grow(ws.ybuf[k%2], L*nb*DP)
			lout = ws.ybuf[k%2]
		}
		if dirPar && D == 2 {
			var wg sync.WaitGroup
			wg.Add(1)
			go func() {
				defer wg.Done()
				m.direction(ws, j, k, 1, in, inW, lout, n0, nb)
			}()
			m.direction(ws, j, k, 0, in, inW, lout, n0, nb)
			wg.Wait()
		} else {
			for d := 0; d < D; d++ {
				m.direction(ws, j, k, d, in, inW, lout, n0, nb)
			}
		}
		in, inW = lout, DP
	}

	if !direct {
		for t := 0; t < L; t++ {
			for i := 0; i < nb; i++ {
				copy(j.out[j.rowOffset(t, n0+i)*DP:][:DP], out[(t*nb+i)*DP:])
			}
		}
	}
}

// rowOffset returns the row index of element (t, n) in j's input and output layout.
func (j *job[T]) rowOffset(t, n int) int {
	if j.batchFirst {
		return n*j.L + t
	}
	return t*j.N + n
}

// direction runs direction d of layer k over the worker's nb batch rows (global rows n0..):
// in holds L*nb rows of inW values, step-major; the direction writes its P columns of
// each of the L*nb rows of out (rows of D*P values).
func (m *Model[T]) direction(ws *workspace[T], j *job[T], k, d int, in []T, inW int, out []T, n0, nb int) {
	c, o := m.cfg, m.o
	w := &m.layers[k][d]
	L, N := j.L, j.N
	D, P, H := c.directions(), c.outSize(), c.HiddenSize
	DP := D * P
	ghp := w.whh.np
	sl := k*D + d // index in h0/hn/c0/cn

	// Input projection of all steps at once: xw = x·W_ihᵀ + b_ih.
	xw := ws.xw[d][:L*nb*ghp]
	gemm(o, L*nb, in, inW, &w.wih, xw, ghp, w.bih, nil, 0)

	gates := ws.gates[d][:nb*ghp]
	var h0 []T
	if j.h0 != nil {
		h0 = j.h0[(sl*N+n0)*P : (sl*N+n0+nb)*P]
	} else {
		h0 = ws.zeros[:nb*P]
	}
	var cs []T
	if c.Mode == LSTM {
		cs = ws.c[d][:nb*H]
		if j.c0 != nil {
			copy(cs, j.c0[(sl*N+n0)*H:(sl*N+n0+nb)*H])
		} else {
			clear(cs)
		}
	}

	tPrev := 0
	for s := 0; s < L; s++ {
		t := s
		if d == 1 {
			t = L - 1 - s
		}
		hp, ldh := h0, P
		if s > 0 {
			hp, ldh = out[tPrev*nb*DP+d*P:], DP
		}
		xt := xw[t*nb*ghp : (t+1)*nb*ghp]
		ot := out[t*nb*DP+d*P:]
		switch c.Mode {
		case RNNTanh, RNNReLU:
			gemm(o, nb, hp, ldh, &w.whh, gates, ghp, w.bhh, xt, ghp)
			for i := 0; i < nb; i++ {
				if c.Mode == RNNTanh {
					o.tanh(ot[i*DP:i*DP+H], gates[i*ghp:])
				} else {
					reluRow(ot[i*DP:i*DP+H], gates[i*ghp:])
				}
			}
		case LSTM:
			gemm(o, nb, hp, ldh, &w.whh, gates, ghp, w.bhh, xt, ghp)
			if c.ProjSize == 0 {
				for i := 0; i < nb; i++ {
					o.lstm(gates[i*ghp:i*ghp+4*H], cs[i*H:(i+1)*H], ot[i*DP:i*DP+H])
				}
			} else {
				hr := ws.hr[d][:nb*H]
				for i := 0; i < nb; i++ {
					o.lstm(gates[i*ghp:i*ghp+4*H], cs[i*H:(i+1)*H], hr[i*H:(i+1)*H])
				}
				pnp := w.whr.np
				pout := ws.pout[d][:nb*pnp]
				gemm(o, nb, hr, H, &w.whr, pout, pnp, nil, nil, 0)
				for i := 0; i < nb; i++ {
					copy(ot[i*DP:i*DP+P], pout[i*pnp:])
				}
			}
		case GRU:
			gemm(o, nb, hp, ldh, &w.whh, gates, ghp, w.bhh, nil, 0)
			for i := 0; i < nb; i++ {
				o.gru(gates[i*ghp:i*ghp+3*H], xt[i*ghp:i*ghp+3*H], hp[i*ldh:i*ldh+H], ot[i*DP:i*DP+H])
			}
		}
		tPrev = t
	}

	// Final states.
	for i := 0; i < nb; i++ {
		copy(j.hn[(sl*N+n0+i)*P:][:P], out[(tPrev*nb+i)*DP+d*P:])
	}
	if c.Mode == LSTM {
		copy(j.cn[(sl*N+n0)*H:(sl*N+n0+nb)*H], cs)
	}
}

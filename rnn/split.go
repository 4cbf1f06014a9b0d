package rnn

import (
	"runtime"
	"sync"
	"sync/atomic"
	"unsafe"
)

// A batch of a few sequences gives a step's recurrent product too few rows to split over
// goroutines, and a batch of one is a matrix-vector product that streams all of W_hh at
// every step: once W_hh outgrows a core's L2 cache, it streams from the shared L3 cache or
// memory, and the step runs at the speed of that stream. stepSplit spreads the panels of
// W_hh over the cores instead, each core reading its share of the panels at every step,
// a share small enough to stay in its own L2 cache: the calling goroutine computes the
// first share and helper goroutines, started for the call, the others, with a barrier at
// the end of each product. The cell then runs on the calling goroutine. Every element of
// the product is computed by the tile that computes it on one goroutine (gemmPanels), so
// the result is the same to the bit whatever the split.

// splitMinBytes is the size of W_hh above which the steps of a batch that is not split
// otherwise are split by panels: about half the L2 cache of a current x86 core (1-2 MiB),
// so that W_hh and the step's other data no longer fit one core's L2.
const splitMinBytes = 1 << 20

// splitPartBytes is the share of W_hh a core takes at most, in bytes, when more cores are
// at hand than W_hh needs.
const splitPartBytes = 1 << 20

// splitParts returns into how many goroutines the steps of a product with b should be
// split (1: not split), for a worker that computes the whole batch.
func splitParts[T Float](b *packed[T]) int {
	var z T
	bytes := len(b.data) * int(unsafe.Sizeof(z))
	if bytes <= splitMinBytes {
		return 1
	}
	procs := runtime.GOMAXPROCS(0)
	return max(1, min(procs, (bytes+splitPartBytes-1)/splitPartBytes, b.np/b.nr))
}

// stepSplit is the set of helpers of one worker's call.
type stepSplit[T Float] struct {
	helpers []*stepHelper[T]
	back    bool // the next product takes each part's panels last to first (see scratch.gemm)
}

// start starts parts-1 helpers.
func (s *stepSplit[T]) start(parts int) {
	s.helpers = s.helpers[:0]
	for i := 1; i < parts; i++ {
		h := &stepHelper[T]{}
		h.cond.L = &h.mu
		s.helpers = append(s.helpers, h)
		go h.run()
	}
}

// stop ends the helpers; they touch none of the products' data after it.
func (s *stepSplit[T]) stop() {
	for _, h := range s.helpers {
		h.quit.Store(true)
		h.post()
	}
	s.helpers = s.helpers[:0]
}

// gemm computes gemm(o, m, a, lda, b, c, ldc, bias, add, ldadd): part 0 of the panels on
// the calling goroutine, part p on helper p-1 unless the calling goroutine, done with its
// own part, finds the helper has not started it yet (the helper's thread may be waiting
// for a core), and takes it itself. It returns when all parts are done. Each part takes
// its panels first to last and last to first in turn, as scratch.gemm does.
func (s *stepSplit[T]) gemm(o *ops[T], m int, a []T, lda int, b *packed[T], c []T, ldc int, bias, add []T, ldadd int) {
	parts := len(s.helpers) + 1
	panels := b.np / b.nr
	for i, h := range s.helpers {
		h.o, h.m, h.a, h.lda, h.b = o, m, a, lda, b
		h.p0, h.p1 = panels*(i+1)/parts, panels*(i+2)/parts
		h.c, h.ldc, h.bias, h.add, h.ldadd = c, ldc, bias, add, ldadd
		h.back = s.back
		h.post()
	}
	gemmPanels(o, m, a, lda, b, 0, panels/parts, s.back, c, ldc, bias, add, ldadd, nil)
	s.back = !s.back
	for _, h := range s.helpers {
		n := h.posted.Load()
		if h.claimed.CompareAndSwap(n-1, n) {
			h.compute(n)
			continue
		}
		for i := 0; h.done.Load() != n; i++ {
			if i >= spinLoads {
				runtime.Gosched()
				i = 0
			}
		}
	}
}

// stepHelper is a goroutine that computes the panels [p0, p1) of the products posted to
// it. Products are numbered from 1; the one numbered n is computed by whoever moves
// claimed from n-1 to n, the helper or the poster.
type stepHelper[T Float] struct {
	posted  atomic.Uint64 // products posted
	claimed atomic.Uint64 // products taken by the helper or the poster
	done    atomic.Uint64 // products finished
	quit    atomic.Bool

	mu       sync.Mutex
	cond     sync.Cond
	sleeping bool // under mu

	// The product, written by the poster before it increments posted.
	o          *ops[T]
	m, lda     int
	a          []T
	b          *packed[T]
	p0, p1     int
	c          []T
	ldc, ldadd int
	bias, add  []T
	back       bool
}

// spinLoads is how many times a waiting goroutine polls before it sleeps (helper) or
// yields (poster): steps come a few microseconds apart, much less than the time taken
// to wake a sleeping goroutine, so a wait spins first.
const spinLoads = 1 << 16

// post hands the product in h's fields (or quit) to the helper.
func (h *stepHelper[T]) post() {
	h.mu.Lock()
	h.posted.Add(1)
	if h.sleeping {
		h.cond.Signal()
	}
	h.mu.Unlock()
}

// compute computes product n, claimed by the caller.
func (h *stepHelper[T]) compute(n uint64) {
	gemmPanels(h.o, h.m, h.a, h.lda, h.b, h.p0, h.p1, h.back, h.c, h.ldc, h.bias, h.add, h.ldadd, nil)
	h.done.Store(n)
}

func (h *stepHelper[T]) run() {
	var seen uint64
	for {
		seen = h.next(seen)
		if h.quit.Load() {
			return
		}
		if h.claimed.CompareAndSwap(seen-1, seen) {
			h.compute(seen)
		}
	}
}

// next waits for a product after the seen-th and returns the number posted.
func (h *stepHelper[T]) next(seen uint64) uint64 {
	for i := 0; i < spinLoads; i++ {
		if n := h.posted.Load(); n != seen {
			return n
		}
	}
	h.mu.Lock()
	defer h.mu.Unlock()
	for h.posted.Load() == seen {
		h.sleeping = true
		h.cond.Wait()
		h.sleeping = false
	}
	return h.posted.Load()
}

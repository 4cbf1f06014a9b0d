package pickle

import (
	"context"
	"fmt"
)

// pollEvery is how many steps of reading (opcodes, values converted, paths walked) pass
// between two looks at the reading's context. A step takes well under a microsecond and
// a look about as long as a step, so that a cancelled read stops within milliseconds at
// no measurable cost.
const pollEvery = 1 << 12

// poller looks at a context every pollEvery steps. Its zero value never stops.
type poller struct {
	ctx context.Context
	n   int
}

// step counts a step and, every pollEvery steps, returns the context's error.
func (p *poller) step() error {
	p.n++
	if p.n%pollEvery != 0 || p.ctx == nil {
		return nil
	}
	return p.ctx.Err()
}

// stopped returns nil when ctx is not done, and otherwise the error of a read that ctx
// stopped: ctx's error, after the file's name when it has one. It replaces the error the
// read stopped with, which says where in the file it stopped, of no use to a caller that
// cancelled it.
func stopped(ctx context.Context, name string) error {
	err := ctx.Err()
	if err == nil || name == "" {
		return err
	}
	return fmt.Errorf("%s: %w", name, err)
}

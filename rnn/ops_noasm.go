//go:build !amd64 || purego

package rnn

// asmOps returns nil: this build has no assembly kernels.
func asmOps[T Float]() *ops[T] { return nil }

// allAsmOps returns nil: this build has no assembly kernels.
func allAsmOps[T Float]() []*ops[T] { return nil }

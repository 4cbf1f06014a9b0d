package tileloop

//go:generate go run gen.go

// Each loop runs n iterations of 8 steps over k of an mr×(16·vecs) tile (see gen.go):
// rNvM has N rows and M vectors; r8v2NoBroadcast is r8v2 with its FMAs only.

//go:noescape
func r8v2(n int, a, b *float32)

//go:noescape
func r8v2NoBroadcast(n int, a, b *float32)

//go:noescape
func r6v4(n int, a, b *float32)

//go:noescape
func r8v3(n int, a, b *float32)

//go:noescape
func r12v2(n int, a, b *float32)

//go:noescape
func r4v4(n int, a, b *float32)

package pickle

import (
	"fmt"
	"math"
	"strconv"
)

// asInt returns n as an int, and false when an int cannot hold it (where int has 32
// bits: on 386, arm and wasm).
func asInt(n int64) (int, bool) {
	i := int(n)
	return i, int64(i) == n
}

// sliceLen returns n as the length of a slice of n values of size bytes, or an error
// when this platform's address space cannot hold them.
func sliceLen(n, size int64) (int, error) {
	if n < 0 || size <= 0 || n > math.MaxInt/size {
		return 0, fmt.Errorf("pickle: %d values of %d bytes do not fit in the memory of a %d-bit platform", n, size, strconv.IntSize)
	}
	return int(n), nil
}

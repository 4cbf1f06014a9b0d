package safetensors_test

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"log"
	"math"

	"github.com/ptport/ptport/convert/safetensors"
	"github.com/ptport/ptport/pickle"
)

// leaves are a weight and an epoch count, as a training checkpoint holds them.
func leaves() []pickle.Leaf {
	var data []byte
	for _, x := range []float32{1, 2, 3, 4, 5, 6} {
		data = binary.LittleEndian.AppendUint32(data, math.Float32bits(x))
	}
	w, err := pickle.NewTensor(pickle.F32, []int{2, 3}, data)
	if err != nil {
		log.Fatal(err)
	}
	return []pickle.Leaf{{Name: "fc.weight", Value: w}, {Name: "epoch", Value: int64(7)}}
}

func Example() {
	var buf bytes.Buffer
	if err := safetensors.Write(&buf, leaves(), map[string]string{"note": "an example"}); err != nil {
		log.Fatal(err)
	}
	file := bytes.NewReader(buf.Bytes())
	back, err := safetensors.Read("example.safetensors", file, file.Size())
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range back {
		if t, ok := l.Value.(*pickle.Tensor); ok {
			xs, _ := t.Float32s()
			fmt.Println(l.Name, t.DType, t.Shape, xs)
		} else {
			fmt.Printf("%s %T %v\n", l.Name, l.Value, l.Value)
		}
	}
	meta, err := safetensors.ReadMetadata("example.safetensors", file, file.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(meta)
	// Output:
	// fc.weight F32 [2 3] [1 2 3 4 5 6]
	// epoch int64 7
	// map[note:an example]
}

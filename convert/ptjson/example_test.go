package ptjson_test

import (
	"fmt"
	"log"
	"math"
	"os"
	"strings"

	"github.com/ptport/ptport/convert/ptjson"
	"github.com/ptport/ptport/pickle"
)

func ExampleWrite() {
	f16, err := pickle.NewTensor(pickle.F16, []int{4}, []byte{0x00, 0x3c, 0x00, 0x7e, 0x00, 0xfc, 0x00, 0xfe}) // 1, NaN, -Inf, -NaN
	if err != nil {
		log.Fatal(err)
	}
	ids, err := pickle.NewTensor(pickle.I64, []int{2}, []byte{5, 0, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	if err != nil {
		log.Fatal(err)
	}
	leaves := []pickle.Leaf{
		{Name: "scale", Value: f16},
		{Name: "ids", Value: ids},
		{Name: "lr", Value: 0.5},
		{Name: "steps", Value: int64(100)},
		{Name: "inf", Value: math.Inf(1)},
	}
	if err := ptjson.Write(os.Stdout, leaves, nil); err != nil {
		log.Fatal(err)
	}
	// Output:
	// {"tensors": [
	//   {"name": "scale", "dtype": "F16", "shape": [4], "data": [1.0, "NaN", "-Infinity", "NaN:0xfe00"]},
	//   {"name": "ids", "dtype": "I64", "shape": [2], "data": [5, -1]}
	// ],
	// "values": {"lr":0.5,"steps":100,"inf":{"builtins.float":"Infinity"}}}
}

func ExampleRead() {
	doc := `{"tensors": [{"name": "h0", "dtype": "F32", "shape": [1, 2], "data": [0.25, -1.0]}], "values": {"epoch": 3}}`
	leaves, err := ptjson.Read("example.json", strings.NewReader(doc), int64(len(doc)))
	if err != nil {
		log.Fatal(err)
	}
	t := leaves[0].Value.(*pickle.Tensor)
	xs, _ := t.Float32s()
	fmt.Println(leaves[0].Name, t.DType, t.Shape, xs)
	fmt.Printf("%s %T %v\n", leaves[1].Name, leaves[1].Value, leaves[1].Value)
	// Output:
	// h0 F32 [1 2] [0.25 -1]
	// epoch int64 3
}

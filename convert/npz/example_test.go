package npz_test

import (
	"archive/zip"
	"bytes"
	"fmt"
	"log"

	"github.com/ptport/ptport/convert/npz"
	"github.com/ptport/ptport/pickle"
)

// NumPy has no bfloat16: Write widens it exactly to float32 and records the dtype, which
// Read restores. The non-tensor values, the dtypes and the metadata become string arrays
// of their own.
func Example() {
	bf16, err := pickle.NewTensor(pickle.BF16, []int{2}, []byte{0x80, 0x3f, 0x40, 0xc0}) // 1, -3
	if err != nil {
		log.Fatal(err)
	}
	leaves := []pickle.Leaf{{Name: "emb.weight", Value: bf16}, {Name: "epoch", Value: int64(7)}}
	var buf bytes.Buffer
	if err := npz.Write(&buf, leaves, map[string]string{"note": "an example"}); err != nil {
		log.Fatal(err)
	}
	file := bytes.NewReader(buf.Bytes())
	zr, err := zip.NewReader(file, file.Size())
	if err != nil {
		log.Fatal(err)
	}
	for _, m := range zr.File {
		fmt.Println("member", m.Name)
	}

	back, err := npz.Read("example.npz", file, file.Size())
	if err != nil {
		log.Fatal(err)
	}
	t := back[0].Value.(*pickle.Tensor)
	xs, _ := t.Float32s()
	fmt.Println(back[0].Name, t.DType, t.Shape, xs)
	fmt.Printf("%s %T %v\n", back[1].Name, back[1].Value, back[1].Value)
	meta, err := npz.ReadMetadata("example.npz", file, file.Size())
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(meta)
	// Output:
	// member emb.weight.npy
	// member __metadata__.npy
	// member __dtypes__.npy
	// member __note__.npy
	// emb.weight BF16 [2] [1 -3]
	// epoch int64 7
	// map[note:an example]
}

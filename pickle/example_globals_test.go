package pickle_test

import (
	"errors"
	"fmt"

	"github.com/ptport/ptport/pickle"
)

// A global that would run code under torch.load is refused in every mode,
// named by the path it reaches and the module it reaches it through.
func ExampleUnsafeGlobalError() {
	_, err := pickle.Open("../testdata/pickle/globals/dotted_torch_os_system.pt", &pickle.Options{AllowObjects: true})
	var ue *pickle.UnsafeGlobalError
	if errors.As(err, &ue) {
		fmt.Println(ue.Module, "+", ue.Name, "reaches", ue.Resolved)
		fmt.Println("through", ue.Via+":", ue.Reason)
		fmt.Println("refused in every mode:", ue.Denied)
	}
	// Output:
	// torch + os.system reaches torch.os.system
	// through torch.os: runs programs or changes the system
	// refused in every mode: true
}

// Instances of user classes and numpy values are read by default; File
// says which globals torch.load(weights_only=True) would refuse.
func ExampleFile_GlobalInfo() {
	f, err := pickle.Open("../testdata/pickle/content/numpy_values.pt", nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	defer f.Close()
	for _, g := range f.GlobalInfo {
		if !g.WeightsOnly {
			fmt.Println("weights_only=True refuses", g.Name)
		}
	}
	lr, _ := f.Root.(*pickle.Dict).Get("scalars")
	v, _ := lr.(*pickle.Dict).Get("lr")
	fmt.Printf("lr = %v (%s)\n", v, v.(pickle.Scalar).DType)
	// Output:
	// weights_only=True refuses __builtin__.bytes
	// weights_only=True refuses numpy.core.multiarray._reconstruct
	// weights_only=True refuses numpy.core.multiarray.scalar
	// weights_only=True refuses numpy.dtype
	// weights_only=True refuses numpy.ndarray
	// lr = 0.1 (F32)
}

package pickle

import (
	"path/filepath"
	"reflect"
	"strings"
	"testing"
)

// moduleState emits the __dict__ of an nn.Module as torch pickles it:
// training, _parameters, _buffers, _non_persistent_buffers_set, _modules
// and the hook OrderedDicts. params, buffers and modules emit their
// entries (key, value pairs) inside a MARK ... SETITEMS.
func moduleState(p *pk, params, buffers, modules func(p *pk), nonPersistent ...string) *pk {
	p.op(opEMPTYDICT, opMARK).str("training").boolean(true)
	p.str("_parameters").orderedDict().op(opMARK)
	params(p)
	p.op(opSETITEMS)
	p.str("_buffers").orderedDict().op(opMARK)
	buffers(p)
	p.op(opSETITEMS)
	p.str("_non_persistent_buffers_set").global("__builtin__", "set").op(opMARK, opMARK)
	for _, n := range nonPersistent {
		p.str(n)
	}
	p.op(opLIST, opTUPLE, opREDUCE)
	p.str("_backward_hooks").orderedDict().str("_forward_hooks").orderedDict()
	p.str("_modules").orderedDict().op(opMARK)
	modules(p)
	p.op(opSETITEMS)
	return p.op(opSETITEMS)
}

func none(*pk) {}

// module emits cls.__new__(cls) with BUILD of a module state (protocol 2).
func module(p *pk, mod, name string, state func(p *pk)) *pk {
	p.global(mod, name).op(opEMPTYTUPLE, opNEWOBJ)
	state(p)
	return p.op(opBUILD)
}

func param(p *pk, numel int64) *pk {
	p.global("torch._utils", "_rebuild_parameter").op(opMARK)
	p.tensorV2("FloatStorage", "0", 6, 0, []int64{numel}, []int64{1})
	return p.boolean(true).orderedDict().op(opTUPLE, opREDUCE)
}

func TestModuleLeaves(t *testing.T) {
	linear := func(p *pk) *pk {
		return module(p, "torch.nn.modules.linear", "Linear", func(p *pk) {
			moduleState(p, func(p *pk) {
				param(p.str("weight"), 4)
				param(p.str("bias"), 2)
			}, none, none)
			p.op(opMARK).str("in_features").int(2).str("out_features").int(2).op(opSETITEMS)
		})
	}
	// A user class holding a parameter, a None parameter, buffers (one
	// non-persistent, one None), a Linear twice (shared), a None module
	// and a Sequential of a ReLU built the protocol-1 way.
	net := module(newPK(2), "__main__", "Net", func(p *pk) {
		moduleState(p, func(p *pk) {
			param(p.str("scale"), 1)
			p.str("unused").op(opNONE)
		}, func(p *pk) {
			p.str("steps").tensorV2("LongStorage", "1", 1, 0, nil, nil)
			p.str("cache").tensorV2("FloatStorage", "0", 6, 0, []int64{6}, []int64{1})
			p.str("gone").op(opNONE)
		}, func(p *pk) {
			linear(p.str("fc")).op(opBINPUT, 200)
			p.str("tied").op(opBINGET, 200)
			p.str("absent").op(opNONE)
			module(p.str("seq"), "torch.nn.modules.container", "Sequential", func(p *pk) {
				moduleState(p, none, none, func(p *pk) {
					p.str("0").global("copy_reg", "_reconstructor").op(opMARK).
						global("torch.nn.modules.activation", "ReLU").global("__builtin__", "object").op(opNONE, opTUPLE, opREDUCE)
					moduleState(p, none, none, none)
					p.op(opBUILD)
				})
			})
		}, "cache")
	})
	root := newPK(2).op(opEMPTYDICT, opMARK).str("model")
	root.b = append(root.b, net.b[2:]...)
	root.str("epoch").int(3).op(opSETITEMS)
	data := zipFile(t, "archive/", record{name: "data.pkl", data: root.stop()},
		record{name: "data/0", data: seq(6, 4)}, record{name: "data/1", data: seq(1, 8)})

	// A user class built the way pickles build instances is data: read by
	// default.
	f, err := load(t, data, nil)
	if err != nil {
		t.Fatal(err)
	}
	leaves, err := Leaves(f.Root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range leaves {
		names = append(names, l.Name)
	}
	want := []string{"model.scale", "model.steps", "model.fc.weight", "model.fc.bias",
		"model.tied.weight", "model.tied.bias", "epoch"}
	if !reflect.DeepEqual(names, want) {
		t.Errorf("leaves %q\nwant %q", names, want)
	}
	m, _ := f.Root.(*Dict).Get("model")
	o := m.(*Object)
	if o.Module != "__main__" || o.Name != "Net" {
		t.Errorf("model is %s.%s", o.Module, o.Name)
	}
	if tr, ok := o.Attr("training"); !ok || tr != true {
		t.Errorf("training = %v", tr)
	}
	mods, _ := o.Attr("_modules")
	fc, _ := mods.(*Dict).Get("fc")
	tied, _ := mods.(*Dict).Get("tied")
	if fc != tied {
		t.Error("the shared Linear is not one *Object")
	}
	if n, _ := fc.(*Object).Attr("out_features"); n != int64(2) {
		t.Errorf("fc.out_features = %v", n)
	}
	if leaves[2].Value.(*Tensor).RequiresGrad != true {
		t.Error("a parameter lost requires_grad")
	}
}

func TestModuleCycle(t *testing.T) {
	// A module listing itself in _modules.
	p := newPK(2).global("torch.nn.modules.container", "Sequential").op(opEMPTYTUPLE, opNEWOBJ, opBINPUT, 0)
	moduleState(p, none, none, func(p *pk) { p.str("self").op(opBINGET, 0) })
	p.op(opBUILD)
	f, err := load(t, dataPkl(t, p.stop()), nil)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Leaves(f.Root); err == nil || !strings.Contains(err.Error(), "cycle") {
		t.Errorf("Leaves error %v, want a cycle", err)
	}
}

// TestModuleFixtures checks the attributes of the whole pickled recurrent
// modules among the fixtures against their weights.
func TestModuleFixtures(t *testing.T) {
	for _, name := range []string{"module_rnn.pt", "module_lstm.pt", "module_gru.pt", "module_legacy.pt", "module_in_dict.pt"} {
		t.Run(name, func(t *testing.T) {
			f, err := Open(filepath.Join("..", "testdata", "pickle", name), nil)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			root := f.Root
			if d, ok := root.(*Dict); ok {
				root, _ = d.Get("model")
			}
			o, ok := root.(*Object)
			if !ok || !strings.HasPrefix(o.Module, "torch.nn.modules.") {
				t.Fatalf("root is %#v, want an nn.Module", root)
			}
			attrs := map[string]any{}
			for _, a := range []string{"training", "mode", "hidden_size", "num_layers", "batch_first", "bidirectional", "_parameters", "_buffers", "_modules"} {
				v, ok := o.Attr(a)
				if !ok {
					t.Errorf("attribute %s missing", a)
				}
				attrs[a] = v
			}
			if _, ok := attrs["training"].(bool); !ok {
				t.Errorf("training is %#v", attrs["training"])
			}
			if _, ok := attrs["batch_first"].(bool); !ok {
				t.Errorf("batch_first is %#v", attrs["batch_first"])
			}
			mode, _ := attrs["mode"].(string)
			if mode == "RNN_TANH" || mode == "RNN_RELU" {
				nl, _ := o.Attr("nonlinearity")
				if nl != strings.ToLower(mode[4:]) {
					t.Errorf("mode %s, nonlinearity %v", mode, nl)
				}
			} else if mode != "LSTM" && mode != "GRU" {
				t.Errorf("mode %#v", attrs["mode"])
			}
			params := attrs["_parameters"].(*Dict)
			w, ok := params.Get("weight_hh_l0")
			if !ok {
				t.Fatal("no weight_hh_l0 parameter")
			}
			hs, _ := attrs["hidden_size"].(int64)
			wt := w.(*Tensor)
			if len(wt.Shape) != 2 || int64(wt.Shape[0])%hs != 0 {
				t.Errorf("hidden_size %v does not divide weight_hh_l0's %v", attrs["hidden_size"], wt.Shape)
			}
			layers, _ := attrs["num_layers"].(int64)
			if _, ok := params.Get("weight_ih_l" + string(rune('0'+layers-1))); !ok {
				t.Errorf("num_layers %d but no weight_ih_l%d", layers, layers-1)
			}
			leaves, err := Leaves(f.Root)
			if err != nil {
				t.Fatal(err)
			}
			n := 0
			for _, l := range leaves {
				if _, ok := l.Value.(*Tensor); ok {
					n++
				}
			}
			if n < params.Len() {
				t.Errorf("%d tensor leaves for %d parameters", n, params.Len())
			}
		})
	}
}

// TestEmptyContainerLeaves checks that an empty dict, list or tuple below the root is
// a leaf of its own, as an optimizer's state before its first step is, and that an
// empty root has no leaves.
func TestEmptyContainerLeaves(t *testing.T) {
	empty := &Dict{}
	root := &Dict{Entries: []DictEntry{
		{Key: "e", Value: empty},
		{Key: "l", Value: List{}},
		{Key: "t", Value: Tuple{}},
		{Key: "opt", Value: &Dict{Entries: []DictEntry{{Key: "state", Value: &Dict{}}, {Key: "lr", Value: 0.1}}}},
	}}
	leaves, err := Leaves(root)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, l := range leaves {
		names = append(names, l.Name)
	}
	if want := []string{"e", "l", "t", "opt.state", "opt.lr"}; !reflect.DeepEqual(names, want) {
		t.Fatalf("leaves %v, want %v", names, want)
	}
	if leaves[0].Value != any(empty) || !reflect.DeepEqual(leaves[1].Value, List{}) || !reflect.DeepEqual(leaves[2].Value, Tuple{}) {
		t.Errorf("values %#v", leaves[:3])
	}
	for _, r := range []any{&Dict{}, List{}, Tuple{}} {
		if leaves, err := Leaves(r); err != nil || len(leaves) != 0 {
			t.Errorf("%#v: %d leaves, %v", r, len(leaves), err)
		}
	}
}

// TestEmptyKeyNames checks that the empty key is a key like any other, not the root: an
// empty container under it is a leaf of its own, at the root ("") and below ("a.",
// "."), and a tensor under it is named by its path, where only the tensor at the root
// is named "tensor".
func TestEmptyKeyNames(t *testing.T) {
	x := &Tensor{DType: U8, Shape: []int{1}, Strides: []int{1}}
	for _, tc := range []struct {
		root  any
		names []string
	}{
		{&Dict{Entries: []DictEntry{{Key: "", Value: &Dict{}}, {Key: "a", Value: &Dict{Entries: []DictEntry{{Key: "", Value: List{}}}}}}}, []string{"", "a."}},
		{&Dict{Entries: []DictEntry{{Key: "", Value: &Dict{Entries: []DictEntry{{Key: "", Value: Tuple{}}, {Key: "b", Value: int64(1)}}}}}}, []string{".", ".b"}},
		{&Dict{Entries: []DictEntry{{Key: "", Value: x}}}, []string{""}},
		{List{&Dict{Entries: []DictEntry{{Key: "", Value: x}}}}, []string{"0."}},
		{x, []string{"tensor"}},
	} {
		leaves, err := Leaves(tc.root)
		if err != nil {
			t.Fatal(err)
		}
		names := []string{}
		for _, l := range leaves {
			names = append(names, l.Name)
		}
		if !reflect.DeepEqual(names, tc.names) {
			t.Errorf("leaves %q, want %q", names, tc.names)
		}
	}
}

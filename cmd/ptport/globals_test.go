package main

import (
	"encoding/json"
	"os"
	"strings"
	"testing"
)

const content = "../../testdata/pickle/content/"
const globalsDir = "../../testdata/pickle/globals/"

// TestGlobalsModes runs the commands that read checkpoints in the three
// modes: the default, --allow-objects and --strict, which exclude each
// other; a refusal suggests --allow-objects only when it would read the
// file.
func TestGlobalsModes(t *testing.T) {
	const hint = "--allow-objects reads this file"
	for _, c := range []struct {
		args []string
		code int
		msg  string
		hint bool
	}{
		{[]string{"inspect", content + "objects.pt"}, 0, "", false},
		{[]string{"inspect", content + "objects.pt", "--strict"}, 2, "weights_only=True) refuses global argparse.Namespace", false},
		{[]string{"inspect", content + "calls.pt"}, 2, "refusing to call __main__.make_config", true},
		{[]string{"inspect", content + "calls.pt", "--allow-objects"}, 0, "", false},
		{[]string{"inspect", content + "calls.pt", "--strict"}, 2, "weights_only=True) refuses global __main__.make_config", false},
		{[]string{"inspect", content + "py2_state_dict.pt", "--strict"}, 0, "", false},
		{[]string{"inspect", globalsDir + "dotted_torch_os_system.pt"}, 2, "reaches torch.os", false},
		{[]string{"inspect", globalsDir + "dotted_torch_os_system.pt", "--allow-objects"}, 2, "reaches torch.os", false},
		{[]string{"inspect", globalsDir + "py2_cPickle_loads.pt", "--allow-objects"}, 2, "pickle.loads", false},
		{[]string{"inspect", globalsDir + "user_dotted.pt"}, 2, "model.os.system", false},
		{[]string{"inspect", content + "objects.pt", "--strict", "--allow-objects"}, 2, "--strict and --allow-objects exclude each other", false},
		{[]string{"inspect", globalsDir + "user_value_moduledict_add_module.pt"}, 2, "refusing ptport_standin.mark as a value", true},
		{[]string{"inspect", globalsDir + "user_value_moduledict_add_module.pt", "--allow-objects"}, 0, "", false},
		{[]string{"inspect", globalsDir + "slots_state_class.pt"}, 2, "sets __class__", false},
		{[]string{"inspect", globalsDir + "script_setstate_from_file.pt"}, 2, "refusing TorchScript class __torch__.ScriptWritesFile", false},
		{[]string{"inspect", globalsDir + "user_class_in_hparams.pt"}, 0, "", false},
		{[]string{"inspect", globalsDir + "user_call_then_denied.pt"}, 2, "refusing to call __main__.make_config", false},
		{[]string{"inspect", globalsDir + "user_call_then_denied.pt", "--allow-objects"}, 2, "refusing to call torch.optim.lr_scheduler.LambdaLR", false},
		{[]string{"convert", content + "calls.pt", "-o", t.TempDir() + "/x.safetensors"}, 2, "make_config", true},
		{[]string{"convert", content + "objects.pt", "-o", t.TempDir() + "/x.safetensors", "--strict"}, 2, "argparse.Namespace", false},
	} {
		code, out, errs := runCLI(t, c.args...)
		if code != c.code || !strings.Contains(errs, c.msg) {
			t.Errorf("%v: exit %d, stderr %q; want %d and %q\n%s", c.args, code, errs, c.code, c.msg, out)
		}
		if strings.Contains(errs, hint) != c.hint {
			t.Errorf("%v: hint shown %v, want %v: %q", c.args, !c.hint, c.hint, errs)
		}
	}
}

// TestAllowObjectsHintStdin: the refusal of a file read from standard input
// advises --allow-objects when it reads the file, and not otherwise.
func TestAllowObjectsHintStdin(t *testing.T) {
	for name, hint := range map[string]bool{"user_value_moduledict_add_module.pt": true, "user_call_then_denied.pt": false} {
		b, err := os.ReadFile(globalsDir + name)
		if err != nil {
			t.Fatal(err)
		}
		code, _, errs := child(t, b, "inspect", "-")
		if code != 2 || strings.Contains(string(errs), "--allow-objects reads this file") != hint || !strings.Contains(string(errs), "<stdin>") {
			t.Errorf("%s: exit %d, hint %v wanted: %s", name, code, hint, errs)
		}
	}
}

// TestInspectWeightsOnly lists what torch.load(weights_only=True) would refuse.
func TestInspectWeightsOnly(t *testing.T) {
	code, out, errs := runCLI(t, "inspect", content+"objects.pt")
	if code != 0 || !strings.Contains(out, "weights_only=True would refuse: __main__.AttributeDict, __main__.Config,") ||
		!strings.Contains(out, "argparse.Namespace") {
		t.Errorf("exit %d: %s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "inspect", content+"py2_state_dict.pt")
	if code != 0 || !strings.Contains(out, "torch.load(weights_only=True) loads it") {
		t.Errorf("exit %d: %s%s", code, out, errs)
	}
	code, out, errs = runCLI(t, "inspect", globalsDir+"state_dict_proto4.pt", "--json")
	if code != 0 {
		t.Fatalf("exit %d: %s", code, errs)
	}
	var inv struct {
		WeightsOnly struct {
			Loads   bool     `json:"loads"`
			Refuses []string `json:"refuses"`
			Refusal string   `json:"refusal"`
		} `json:"weights_only"`
	}
	if err := json.Unmarshal([]byte(out), &inv); err != nil {
		t.Fatal(err)
	}
	if inv.WeightsOnly.Loads || len(inv.WeightsOnly.Refuses) != 0 || !strings.Contains(inv.WeightsOnly.Refusal, "opcode FRAME") {
		t.Errorf("weights_only %+v", inv.WeightsOnly)
	}
	code, out, _ = runCLI(t, "inspect", content+"numpy_values.pt", "--json")
	if code != 0 || !strings.Contains(out, `"refuses": [`) || !strings.Contains(out, `"numpy.core.multiarray.scalar"`) ||
		!strings.Contains(out, `"numpy.float32": 0.1`) {
		t.Errorf("exit %d: %s", code, out)
	}
}

package pickle

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// globalsManifest is testdata/pickle/globals/MANIFEST.json, which
// gen_hostile_globals.py wrote (see it for the meaning of each field).
type globalsManifest map[string]struct {
	Expect         map[string]string `json:"expect"` // mode -> denied, refused, weights_only, error, ok
	Reason         string            `json:"reason"`
	Resolved       string            `json:"resolved"`
	StrictResolved string            `json:"strict_resolved"` // what strict mode refuses, where it is not Resolved
	// What AllowObjects refuses, where it is not Reason and Resolved.
	AllowObjectsReason   string    `json:"allow_objects_reason"`
	AllowObjectsResolved string    `json:"allow_objects_resolved"`
	Via                  string    `json:"via"`
	Rule                 string    `json:"rule"` // of a *WeightsOnlyError
	TorchWeightsOnly     string    `json:"torch_weights_only"`
	TorchRuns            bool      `json:"torch_runs"`
	Marker               string    `json:"marker"`
	Values               []float64 `json:"values"`            // of the tensor torch.load reads, where the file is one
	RequiresGrad         bool      `json:"requires_grad"`     // of that tensor
	UserCode             bool      `json:"user_code"`         // the marker is code of ptport_standin, not of torch, numpy or the standard library
	TorchRequirement     bool      `json:"torch_requirement"` // it calls code of a package pip installs with torch
	Differs              string    `json:"differs"`
}

// TestGlobalsFixtures reads the hostile and benign globals fixtures in
// every mode. Whatever torch.load(weights_only=False) ran the marker twin
// of is refused in every mode, and the error names what the global
// reaches, how, and where.
func TestGlobalsFixtures(t *testing.T) {
	dir := filepath.Join("..", "testdata", "pickle", "globals")
	b, err := os.ReadFile(filepath.Join(dir, "MANIFEST.json"))
	if err != nil {
		t.Fatal(err)
	}
	var m globalsManifest
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	ran := 0
	for name, want := range m {
		switch {
		case want.TorchRuns && want.UserCode:
			// What torch runs is code of ptport_standin, a stand-in for any
			// installed package: only AllowObjects, which reads calls of user
			// code, may read it.
			for _, mode := range []string{"default", "strict"} {
				if want.Expect[mode] == "ok" {
					t.Errorf("%s: torch runs code of ptport_standin, but %s expects ok", name, mode)
				}
			}
		case want.TorchRuns && want.TorchRequirement:
			// Code of a package pip installs with torch: no mode reads it, and
			// strict mode refuses its global as weights_only does.
			ran++
			if want.Expect["default"] != "denied" || want.Expect["allow_objects"] != "denied" || want.Expect["strict"] == "ok" {
				t.Errorf("%s: torch runs its marker, but expects %v", name, want.Expect)
			}
		case want.TorchRuns:
			ran++
			for _, mode := range []string{"default", "allow_objects", "strict"} {
				if want.Expect[mode] != "denied" {
					t.Errorf("%s: torch runs its marker, but %s expects %s", name, mode, want.Expect[mode])
				}
			}
		}
		// Where torch 1.13's weights_only refuses a file that the strict
		// mode (torch 2.6's rules) reads, the manifest says why.
		if want.Expect["strict"] == "ok" && want.TorchWeightsOnly != "ok" && want.Differs == "" {
			t.Errorf("%s: torch 1.13's weights_only refuses it (%s) and strict mode reads it, without a reason", name, want.TorchWeightsOnly)
		}
		if want.Expect["strict"] != "ok" && want.TorchWeightsOnly == "ok" && want.Differs == "" {
			t.Errorf("%s: strict mode refuses what torch 1.13's weights_only loads, without a reason", name)
		}
		for mode, expect := range want.Expect {
			t.Run(name+"/"+mode, func(t *testing.T) {
				f, err := Open(filepath.Join(dir, name), contentModes[mode])
				if err == nil {
					defer f.Close()
					_, err = Leaves(f.Root)
				}
				if expect == "ok" {
					if err != nil {
						t.Fatal(err)
					}
					if want.Values != nil {
						checkTensorValues(t, f.Root, want.Values, want.RequiresGrad)
					}
					return
				}
				if err == nil {
					t.Fatalf("read; want %s", expect)
				}
				if !strings.Contains(err.Error(), name) || !strings.Contains(err.Error(), "offset") {
					t.Errorf("error %q does not name the file and the offset", err)
				}
				if strings.Contains(err.Error(), "internal error") || strings.Contains(err.Error(), "runtime error") {
					t.Errorf("error %q is an internal error", err)
				}
				var ue *UnsafeGlobalError
				var we *WeightsOnlyError
				var fe *FormatError
				switch expect {
				case "denied", "refused":
					if !errors.As(err, &ue) {
						t.Fatalf("error %v (%T), want an *UnsafeGlobalError", err, err)
					}
					if ue.Denied != (expect == "denied") {
						t.Errorf("Denied = %v, want %s: %v", ue.Denied, expect, err)
					}
					reason, resolved := want.Reason, want.Resolved
					switch {
					case mode == "strict" && want.StrictResolved != "":
						resolved = want.StrictResolved
					case mode == "allow_objects" && want.AllowObjectsReason != "":
						reason, resolved = want.AllowObjectsReason, want.AllowObjectsResolved
					}
					switch {
					case mode == "strict" && expect == "refused":
						if ue.Reason != ReasonStrict {
							t.Errorf("reason %q in strict mode", ue.Reason)
						}
					case reason != "" && ue.Reason.String() != reason:
						t.Errorf("reason %q, want %q", ue.Reason, reason)
					}
					if resolved != "" && (ue.Resolved != resolved || !strings.Contains(err.Error(), resolved)) {
						t.Errorf("resolved %q, want %q: %v", ue.Resolved, resolved, err)
					}
					if want.Via != "" && (ue.Via != want.Via || !strings.Contains(err.Error(), want.Via)) {
						t.Errorf("via %q, want %q: %v", ue.Via, want.Via, err)
					}
					// A refusal that AllowObjects lifts is a call of user code or
					// user code as a value, never a Denied one; whether the
					// whole file then reads is the manifest's allow_objects.
					lifted := expect == "refused" && mode == "default"
					if ue.AllowObjectsReads() != lifted || lifted && ue.Reason != ReasonUserCall && ue.Reason != ReasonUserValue {
						t.Errorf("reason %s in mode %s: AllowObjectsReads %v", ue.Reason, mode, ue.AllowObjectsReads())
					}
				case "weights_only":
					if !errors.As(err, &we) {
						t.Fatalf("error %v (%T), want a *WeightsOnlyError", err, err)
					}
					if !strings.Contains(we.Rule, want.Rule) || want.Rule == "" {
						t.Errorf("rule %q does not say %q", we.Rule, want.Rule)
					}
				case "error":
					if !errors.As(err, &fe) || errors.As(err, &ue) {
						t.Fatalf("error %v (%T), want a *FormatError", err, err)
					}
					if want.Reason != "" && !strings.Contains(err.Error(), want.Reason) {
						t.Errorf("error %q does not say %q", err, want.Reason)
					}
				default:
					t.Fatalf("unknown expectation %q", expect)
				}
			})
		}
	}
	if ran < 10 {
		t.Errorf("torch ran the markers of %d fixtures; the generator made more", ran)
	}
}

// checkTensorValues checks that root is the tensor torch.load read.
func checkTensorValues(t *testing.T, root any, values []float64, requiresGrad bool) {
	t.Helper()
	tt, ok := root.(*Tensor)
	if !ok {
		t.Fatalf("root is %T, not a tensor", root)
	}
	var got []float64
	switch tt.DType {
	case F32:
		v, err := tt.Float32s()
		if err != nil {
			t.Fatal(err)
		}
		for _, x := range v {
			got = append(got, float64(x))
		}
	case F64:
		v, err := tt.Float64s()
		if err != nil {
			t.Fatal(err)
		}
		got = v
	default:
		t.Fatalf("dtype %s", tt.DType)
	}
	if fmt.Sprint(got) != fmt.Sprint(values) || tt.RequiresGrad != requiresGrad {
		t.Errorf("tensor %v, requires_grad %v; torch.load reads %v, %v", got, tt.RequiresGrad, values, requiresGrad)
	}
}

#!/usr/bin/python3
"""Fixtures of the parity check (package convert/parity and `ptport check`), made by real
PyTorch. Run from anywhere with Debian's python3-torch:

    /usr/bin/python3 testdata/parity/gen.py

Each case writes a model file (a state_dict or a whole pickled module, as a user's code
saves it) and a reference file (the dict a notebook exports with torch.save), both named
in cases.json with what the check must conclude:

  outcome      "pass", "fail" (exit status 1) or "error" (unusable input, exit status 2)
  rule         for pass and fail: "tolerance" (every element within atol + rtol*|ref|),
               "truth" (decided against the float64 truth: for a model computed below
               float64, every tensor beyond its tolerance is judged by it) or "shape"
               (the shapes differ: nothing compared)
  compared     the compared tensors and the reference entries they come from
  initial      where each initial state came from: a reference entry, or "zeros"
  diagnosis    the porting mistakes that explain a failure: every mistake whose emulation
               in PyTorch (below) reproduces the reference within the tolerance
  error        for errors: words the message must hold (what the schema and the strict
               loading rules state: the offending names, the closest known name)
  torch_error  what PyTorch itself says when it is given the same thing
  measured     numbers measured here, with PyTorch, that the expectations rest on
  truth        NAME.truth.pt: PyTorch's own float64 results of the model as checked (the
               model and its inputs in float64), which parity.Truth must reproduce

Nothing in an expectation is typed by hand except what a rule states (an entry that is not
in the schema is an error; a missing key is named). Numbers and diagnoses come from the
computations below: each mistake is made on purpose, and every known mistake is then
emulated in PyTorch on the case to find which ones explain the reference.

The float64 truth of a float32 model is the same module widened to float64 (weights and
inputs converted exactly) run in float64. Cells (a sequence stepped through, or one step)
and whole models (an Embedding -> recurrent module -> [LayerNorm] -> Linear state_dict
checked with --whole; pickled Sequentials, which run whole as they are) are made the
same way; their mistakes are emulated on the recurrent module inside the whole model
(Whole), and on a square Linear weight.
"""
import collections
import copy
import json
import os
import sys

import torch

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "rnn"))
from torchcell import make_cell, step_cell  # noqa: E402  (testdata/rnn/torchcell.py)

# torch.testing.assert_close's default (rtol, atol) by dtype (torch/testing/_comparison.py,
# _DTYPE_PRECISIONS); for two tensors of different dtypes it takes the larger of each.
PRECISION = {torch.float16: (1e-3, 1e-5), torch.bfloat16: (1.6e-2, 1e-5),
             torch.float32: (1.3e-6, 1e-5), torch.float64: (1e-7, 1e-7)}

cases = collections.OrderedDict()


def save(obj, name):
    torch.save(obj, os.path.join(HERE, name))


# ---------------------------------------------------------------------------------------
# Modules and how they run.

class Spec:
    """A recurrent module's configuration, as its constructor takes it; with cell=True, a
    cell's (nn.RNNCell, LSTMCell, GRUCell: one layer, one direction)."""

    def __init__(self, mode, inp, hidden, layers=1, bias=True, batch_first=False,
                 bidirectional=False, proj=0, cell=False):
        self.mode, self.inp, self.hidden, self.layers = mode, inp, hidden, layers
        self.bias, self.batch_first, self.bidirectional, self.proj = bias, batch_first, bidirectional, proj
        self.cell = cell

    def module(self, **change):
        s = Spec(**{**self.__dict__, **change})
        if s.cell:
            return make_cell(s.mode, s.inp, s.hidden, s.bias)
        kw = dict(num_layers=s.layers, bias=s.bias, batch_first=s.batch_first, bidirectional=s.bidirectional)
        if s.mode in ("tanh", "relu"):
            return torch.nn.RNN(s.inp, s.hidden, nonlinearity=s.mode, **kw)
        if s.mode == "gru":
            return torch.nn.GRU(s.inp, s.hidden, **kw)
        return torch.nn.LSTM(s.inp, s.hidden, proj_size=s.proj, **kw)

    @property
    def lstm(self):
        return self.mode == "lstm"

    @property
    def dirs(self):
        return 2 if self.bidirectional else 1

    @property
    def out(self):
        return self.proj or self.hidden

    def states(self, batch, scale=0.5):
        """Random initial states (h0, c0) for a batch (None: unbatched)."""
        shape = () if self.cell else (self.dirs * self.layers,)
        shape += () if batch is None else (batch,)
        h0 = scale * torch.randn(*shape, self.out)
        c0 = scale * torch.randn(*shape, self.hidden) if self.lstm else None
        return h0, c0


def run(m, x, h0=None, c0=None):
    """m's output, h_n and c_n (LSTM) on x from h0, c0, in eval mode without gradients. A
    cell runs as the check runs it: a sequence (steps, batch, features) stepped through,
    the output h after every step, h_n and c_n the last; or one step, (batch, features) or
    (features), the output and h_n both h'."""
    m.eval()
    with torch.no_grad():
        if isinstance(m, torch.nn.RNNCellBase):
            return step_cell(m, x, h0, c0)
        if isinstance(m, torch.nn.LSTM):
            y, (hn, cn) = m(x, None if h0 is None else (h0, c0))
            return collections.OrderedDict(output=y, h_n=hn, c_n=cn)
        y, hn = m(x, h0)
        return collections.OrderedDict(output=y, h_n=hn)


def module_with(spec, sd, dtype=torch.float32, **change):
    m = spec.module(**change).to(dtype)
    m.load_state_dict({k: v.to(dtype) for k, v in sd.items()})
    return m.eval()


def run_layers(spec, sd, x, h0=None, c0=None, reverse="right", nonlinearity=None):
    """Runs spec with the weights sd layer by layer, direction by direction, each direction
    a one-layer unidirectional module of PyTorch's. reverse says how the reverse direction
    runs: "right" as PyTorch does (over the sequence from its end, its outputs put back in
    time order), "unflipped" (its outputs left in the order it made them), "forward" (over
    the sequence from its start, as if it were a forward direction)."""
    mode = nonlinearity or spec.mode
    batch_first = spec.batch_first and x.dim() == 3
    seq = x.transpose(0, 1) if batch_first else x
    unbatched = seq.dim() == 2
    if unbatched:
        seq = seq.unsqueeze(1)
        h0 = None if h0 is None else h0.unsqueeze(1)
        c0 = None if c0 is None else c0.unsqueeze(1)
    hs, cs = [], []
    for k in range(spec.layers):
        outs = []
        for d in range(spec.dirs):
            sfx = "_l%d%s" % (k, "_reverse" if d else "")
            one = Spec(mode, seq.shape[-1], spec.hidden, bias=spec.bias, proj=spec.proj).module()
            one.load_state_dict({n.replace(sfx, "_l0"): v for n, v in sd.items() if n.endswith(sfx)})
            i = k * spec.dirs + d
            hi = None if h0 is None else h0[i:i + 1]
            ci = None if c0 is None else c0[i:i + 1]
            xin = seq.flip(0) if d and reverse != "forward" else seq
            r = run(one, xin, hi, ci)
            y = r["output"].flip(0) if d and reverse == "right" else r["output"]
            outs.append(y)
            hs.append(r["h_n"])
            if spec.lstm:
                cs.append(r["c_n"])
        seq = torch.cat(outs, dim=-1)
    res = collections.OrderedDict(output=seq, h_n=torch.cat(hs), c_n=torch.cat(cs) if spec.lstm else None)
    if unbatched:
        res = collections.OrderedDict((n, None if t is None else t.squeeze(1)) for n, t in res.items())
    if batch_first:
        res["output"] = res["output"].transpose(0, 1)
    if not spec.lstm:
        del res["c_n"]
    return res


# ---------------------------------------------------------------------------------------
# The usual porting mistakes, each a change of the checkpoint's model; a mistake explains
# a reference when the model changed so reproduces every compared tensor of the reference.

GATE_ORDERS = {"lstm": ("i f o g", [0, 1, 3, 2]), "gru": ("z r n", [1, 0, 2])}


def permute_gates(spec, sd):
    _, order = GATE_ORDERS[spec.mode]
    out = collections.OrderedDict()
    for n, v in sd.items():
        if n.startswith(("weight_ih", "weight_hh", "bias_ih", "bias_hh")):
            v = torch.cat([v.chunk(len(order))[i] for i in order])
        out[n] = v
    return out


def mistakes(spec, sd, inputs, whole=None):
    """Every mistake that applies to the case: (name, the model's results with it). spec and
    sd are the recurrent module's (or cell's); whole, when given, is the whole model around
    it (a Whole), through which every changed module runs, and whose square Linear weights
    may be transposed too."""
    x, h0, c0 = inputs["input"], inputs.get("h0"), inputs.get("c0")
    through = (lambda f, **kw: f(x)) if whole is None else (lambda f, **kw: whole.run(x, f, **kw))
    core_in = x if whole is None else whole.core_input(x)
    out = []

    def attempt(name, f, **kw):
        """f runs the changed recurrent module on its input."""
        try:
            out.append((name, through(f, **kw)))
        except (RuntimeError, ValueError, IndexError):
            pass  # the changed model does not run on these inputs: it explains nothing

    if core_in.dim() == 3 and not spec.cell:
        attempt("batch_first", lambda y: run(module_with(spec, sd, batch_first=not spec.batch_first), y, h0, c0))
    if spec.mode in ("tanh", "relu"):
        other = "relu" if spec.mode == "tanh" else "tanh"
        attempt("nonlinearity", lambda y: run(module_with(spec, sd, mode=other), y, h0, c0))
    square = collections.OrderedDict(
        (n, v.t().contiguous() if v.dim() == 2 and v.shape[0] == v.shape[1] else v) for n, v in sd.items())
    if any(v.dim() == 2 and v.shape[0] == v.shape[1] for v in sd.values()):
        attempt("transposed", lambda y: run(module_with(spec, square), y, h0, c0))
    if spec.mode in GATE_ORDERS:
        attempt("gate_order", lambda y: run(module_with(spec, permute_gates(spec, sd)), y, h0, c0))
    if spec.bias:
        # Missing: the reference's model had none. Doubled: either side has twice the
        # other's (a combined b_ih + b_hh added as both).
        for name, f in (("bias_missing", 0.0), ("bias_doubled", 2.0), ("bias_doubled", 0.5)):
            scaled = collections.OrderedDict((n, v * f if n.startswith("bias") else v) for n, v in sd.items())
            attempt(name, lambda y: run(module_with(spec, scaled), y, h0, c0))
    if h0 is not None:
        attempt("h0_ignored", lambda y: run(module_with(spec, sd), y))
    if spec.bidirectional:
        attempt("reverse_unflipped", lambda y: run_layers(spec, sd, y, h0, c0, reverse="unflipped"))
        attempt("reverse_forward", lambda y: run_layers(spec, sd, y, h0, c0, reverse="forward"))
    if whole is not None and whole.square_linear():
        attempt("transposed", lambda y: run(module_with(spec, sd), y), transposed_linear=True)
    return out


def tolerance(*tensors):
    rtol = max(PRECISION[t.dtype][0] for t in tensors)
    atol = max(PRECISION[t.dtype][1] for t in tensors)
    return rtol, atol


def within(got, want):
    """assert_close's test, in float64, on every tensor want holds."""
    for n, w in want.items():
        g = got.get(n)
        if g is None or tuple(g.shape) != tuple(w.shape):
            return False
        rtol, atol = tolerance(g, w)
        if not bool(((g.double() - w.double()).abs() <= atol + rtol * w.double().abs()).all()):
            return False
    return True


def max_err(got, want):
    errs = [(got[n].double() - w.double()).abs().max().item() for n, w in want.items()
            if got.get(n) is not None and tuple(got[n].shape) == tuple(w.shape)]
    return max(errs) if errs else None


def explains(spec, sd, inputs, expected, whole=None):
    """The mistakes whose emulation reproduces expected (name -> tensor), with the largest
    error each leaves."""
    found = collections.OrderedDict()
    for name, res in mistakes(spec, sd, inputs, whole):
        if within(res, expected) and (name not in found or max_err(res, expected) < found[name]):
            found[name] = max_err(res, expected)
    return found


def diagnose(spec, sd, inputs, expected, whole=None):
    return list(explains(spec, sd, inputs, expected, whole))


def passes(got, want, rtol, atol):
    """Whether every element of every tensor of want is within atol + rtol*|want| of got."""
    return all(bool(((got[n].double() - w.double()).abs() <= atol + rtol * w.double().abs()).all())
               for n, w in want.items())


def last_step(res, ref):
    """["output_last_step"] when the reference's output is the model's last time step
    (along axis 0, or 1 for batch_first) within the tolerance, as PyTorch computes them."""
    out, want = res["output"], ref["output"]
    for d in (0, 1):
        if out.dim() > d and out.select(d, -1).shape == want.shape and \
                passes(dict(o=out.select(d, -1)), dict(o=want), *PRECISION[want.dtype]):
            return ["output_last_step"]
    return []


# ---------------------------------------------------------------------------------------
# Cases.

def case(name, model, ref, outcome, model_file=None, ref_file=None, **facts):
    mf = model_file or name + ".pt"
    rf = ref_file or name + ".ref.pt"
    if model is not None:
        save(model, mf)
    if ref is not None:
        save(ref, rf)
    entry = collections.OrderedDict(model=mf, ref=rf, outcome=outcome)
    entry.update((k, v) for k, v in facts.items() if v is not None)
    entry.setdefault("flags", [])
    cases[name] = entry


def save_truth(name, res):
    """Writes the float64 truth of a case, as PyTorch computes it (the model and inputs in
    float64), to NAME.truth.pt, which the Go tests compare parity.Truth with."""
    save(collections.OrderedDict((n, t.double()) for n, t in res.items()), name + ".truth.pt")
    cases[name]["truth"] = name + ".truth.pt"


def reference(res, inputs, hn_tuple=False, state_key=None, state_tuple=False):
    """The dict a notebook saves: inputs, then results."""
    d = collections.OrderedDict(input=inputs["input"])
    if "h0" in inputs:
        key = state_key or "h0"
        if state_tuple:
            d[key] = (inputs["h0"], inputs["c0"])
        else:
            d[key] = inputs["h0"]
            if "c0" in inputs:
                d["c0"] = inputs["c0"]
    d["output"] = res["output"]
    if hn_tuple:
        d["h_n"] = (res["h_n"], res["c_n"])
    else:
        d["h_n"] = res["h_n"]
        if "c_n" in res:
            d["c_n"] = res["c_n"]
    return d


def compared(res, hn_tuple=False):
    names = collections.OrderedDict(output="output")
    if hn_tuple:
        names.update(h_n="h_n.0", c_n="h_n.1")
    else:
        names["h_n"] = "h_n"
        if "c_n" in res:
            names["c_n"] = "c_n"
    return names


def torch_error(f):
    try:
        f()
    except Exception as e:  # what PyTorch says, recorded for the reader
        return "%s: %s" % (type(e).__name__, str(e).strip())
    return None


def mistake_case(name, spec, sd, inputs, ref_res, made, flags=(), ref_extra=None):
    """A failing check whose reference ref_res (results) the mistake `made` explains."""
    ref = reference(ref_res, inputs)
    if ref_extra:
        ref.update(ref_extra)
    expected = collections.OrderedDict((n, t) for n, t in ref_res.items())
    found = explains(spec, sd, inputs, expected)
    assert made in found, (name, made, list(found))
    plain = run(module_with(spec, sd), inputs["input"], inputs.get("h0"), inputs.get("c0"))
    case(name, sd, ref, "fail", rule="truth", flags=list(flags), compared=compared(ref_res),
         diagnosis=list(found),
         measured=dict(max_abs_err=max_err(plain, expected), with_mistake_undone=found))


torch.manual_seed(15)

# -- The reference schema -----------------------------------------------------------------

lstm = Spec("lstm", 3, 4, layers=2)
m = lstm.module()
sd = lstm_sd = m.state_dict()
x = torch.randn(6, 2, 3)
h0, c0 = lstm.states(2)
res = run(m, x, h0, c0)
inputs = collections.OrderedDict(input=x, h0=h0, c0=c0)
save(sd, "lstm.pt")

# Misspelled keys holding wrong values: an error naming each, with the closest known name.
case("misspelled", None, collections.OrderedDict(input=x, h0=h0, c0=c0, output=res["output"],
                                                 hn=res["h_n"] + 1, cn=res["c_n"] + 1),
     "error", model_file="lstm.pt", error=["hn", "h_n", "cn", "c_n"],
     measured=dict(hn_off_by=1.0, cn_off_by=1.0))
# ... which the user may ignore: then only the output is compared.
case("misspelled_ignored", None, None, "pass", model_file="lstm.pt", ref_file="misspelled.ref.pt",
     ignore=["hn", "cn"], rule="tolerance", compared=dict(output="output"),
     initial=dict(h0="h0", c0="c0"))

# h_n as nn.LSTM returns it: the tuple (h, c). Both are compared.
case("hn_tuple", None, reference(res, inputs, hn_tuple=True), "pass", model_file="lstm.pt",
     rule="tolerance", compared=compared(res, hn_tuple=True), initial=dict(h0="h0", c0="c0"))
# ... and a wrong c in the tuple fails on c_n alone.
bad = collections.OrderedDict(res, c_n=res["c_n"] + 1e-3)
case("hn_tuple_wrong_c", None, reference(bad, inputs, hn_tuple=True), "fail", model_file="lstm.pt",
     rule="truth", compared=compared(res, hn_tuple=True), failing=["c_n"],
     diagnosis=diagnose(lstm, lstm_sd, inputs, bad),
     measured=dict(c_n_off_by=1e-3))

# h0 as nn.LSTM takes it: the tuple (h0, c0), under h0, hx or hidden.
zero_start = run(m, x)
case("h0_tuple", None, reference(res, inputs, state_tuple=True), "pass", model_file="lstm.pt",
     rule="tolerance", compared=compared(res), initial=dict(h0="h0.0", c0="h0.1"),
     measured=dict(from_zeros_max_abs_err=max_err(zero_start, res)))
case("hx_tuple", None, reference(res, inputs, state_key="hx", state_tuple=True, hn_tuple=True), "pass",
     model_file="lstm.pt", rule="tolerance", compared=compared(res, hn_tuple=True),
     initial=dict(h0="hx.0", c0="hx.1"))
no_c0 = collections.OrderedDict(input=x, h0=h0, output=res["output"], h_n=res["h_n"], c_n=res["c_n"])
case("h0_without_c0", None, no_c0, "error", model_file="lstm.pt", error=["h0", "c0"],
     torch_error=torch_error(lambda: m(x, h0)))
no_h0 = collections.OrderedDict(input=x, c0=c0, output=res["output"], h_n=res["h_n"], c_n=res["c_n"])
case("c0_without_h0", None, no_h0, "error", model_file="lstm.pt", error=["c0", "h0"])
# A flag that does not apply to the model.
case("lstm_nonlinearity_flag", None, reference(res, inputs), "error", model_file="lstm.pt",
     flags=["--nonlinearity", "relu"], error=["nonlinearity", "LSTM"])
# An entry that is no part of the schema, with no close name.
case("unknown_entry", None, collections.OrderedDict(reference(res, inputs), epoch=3), "error",
     model_file="lstm.pt", error=["epoch"])

gru = Spec("gru", 3, 5)
m = gru.module()
sd = m.state_dict()
x = torch.randn(7, 2, 3)
h0, _ = gru.states(2)
res = run(m, x, h0)
case("hidden_gru", sd, reference(res, dict(input=x, h0=h0), state_key="hidden"), "pass",
     rule="tolerance", compared=compared(res), initial=dict(h0="hidden"),
     measured=dict(from_zeros_max_abs_err=max_err(run(m, x), res)))

# An integer input: PyTorch refuses it.
rnn = Spec("tanh", 3, 4)
m = rnn.module()
xi = torch.randint(-3, 4, (5, 2, 3))
case("int_input", m.state_dict(), collections.OrderedDict(input=xi, output=run(m, xi.float())["output"]),
     "error", error=["input", "I64", "float"], torch_error=torch_error(lambda: m(xi)))

# The configuration travels in the reference: batch_first and nonlinearity as values.
relu_bf = Spec("relu", 3, 5, batch_first=True)
m = relu_bf.module()
x = torch.randn(2, 6, 3)
res = run(m, x)
ref = reference(res, dict(input=x))
ref.update(batch_first=True, nonlinearity="relu")
case("config_in_ref", m.state_dict(), ref, "pass", rule="tolerance", compared=compared(res),
     initial=dict(h0="zeros"),
     measured=dict(without_config_max_abs_err=max_err(run(module_with(relu_bf, m.state_dict(), mode="tanh",
                                                                      batch_first=False), x), res)))
# A whole pickled module says batch_first=False; a reference that says True contradicts it.
tanh = Spec("tanh", 3, 5)
m = tanh.module()
x = torch.randn(6, 2, 3)
ref = reference(run(m, x), dict(input=x))
ref["batch_first"] = True
case("config_conflict", m, ref, "error", error=["batch_first"])

# -- Strict structure ---------------------------------------------------------------------

# A two-layer LSTM saved without its second layer (one shard of two): the reference's h_n
# says 2 layers x 1 direction, the names say no _reverse: layer 1's keys are missing.
two = Spec("lstm", 3, 4, layers=2)
m = two.module()
x = torch.randn(5, 2, 3)
res = run(m, x)
sd = m.state_dict()
missing = [n for n in sd if n.endswith("_l1")]
for n in missing:
    del sd[n]
case("missing_layer", sd, reference(res, dict(input=x)), "error", error=missing,
     torch_error=torch_error(lambda: two.module().load_state_dict(sd)))

# A bidirectional two-layer GRU without layer 1's reverse direction: the names alone show it.
bigru = Spec("gru", 3, 4, layers=2, bidirectional=True)
m = bigru.module()
x = torch.randn(5, 2, 3)
res = run(m, x)
sd = m.state_dict()
missing = [n for n in sd if n.endswith("_l1_reverse")]
for n in missing:
    del sd[n]
case("missing_reverse", sd, reference(res, dict(input=x)), "error", error=missing,
     torch_error=torch_error(lambda: bigru.module().load_state_dict(sd)))

# A reference from a one-layer model checked against a two-layer checkpoint.
one = Spec("lstm", 3, 4)
x = torch.randn(5, 2, 3)
case("ref_fewer_layers", two.module().state_dict(), reference(run(one.module(), x), dict(input=x)),
     "error", error=["h_n", "2"])


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.lstm = torch.nn.LSTM(3, 4)
        self.fc = torch.nn.Linear(4, 2)


# An unexpected key under the module's prefix, as load_state_dict(strict=True) reports it.
net = Net()
sd = net.state_dict()
sd["lstm.extra_param"] = torch.zeros(3)
x = torch.randn(5, 2, 3)
case("unexpected_key", sd, reference(run(net.lstm, x), dict(input=x)), "error",
     error=["lstm.extra_param"], torch_error=torch_error(lambda: Net().load_state_dict(sd)))

# -- The usual porting mistakes, made on purpose --------------------------------------------

# batch_first forgotten: the model was batch_first; no flag says so.
spec = Spec("gru", 3, 5, batch_first=True)
m = spec.module()
sd = m.state_dict()
x = torch.randn(2, 8, 3)
res = run(m, x)
seq_first = Spec("gru", 3, 5)
mistake_case("forgot_batch_first", seq_first, sd, dict(input=x), res, "batch_first")
cases["forgot_batch_first"]["fixed_by"] = ["--batch-first"]
# ... with h0, whose shape then does not fit: an error that names batch_first.
h0, _ = spec.states(2)
res = run(m, x, h0)
case("forgot_batch_first_h0", sd, reference(res, dict(input=x, h0=h0)), "error", error=["batch_first"],
     torch_error=torch_error(lambda: run(module_with(seq_first, sd), x, h0)))

# tanh vs relu: a relu RNN checked as tanh.
spec = Spec("relu", 3, 5, layers=2)
m = spec.module()
x = torch.randn(6, 2, 3)
mistake_case("forgot_relu", Spec("tanh", 3, 5, layers=2), m.state_dict(), dict(input=x), run(m, x), "nonlinearity")
cases["forgot_relu"]["fixed_by"] = ["--nonlinearity", "relu"]

# Weights transposed: square ones load and compute something else...
spec = Spec("tanh", 4, 4)
m = spec.module()
x = torch.randn(6, 2, 4)
res = run(m, x)
sd = collections.OrderedDict((n, v.t().contiguous() if v.dim() == 2 else v) for n, v in m.state_dict().items())
mistake_case("transposed_square", spec, sd, dict(input=x), res, "transposed")
# ... others do not fit their shapes: an error that says they are transposed.
spec = Spec("lstm", 3, 4)
m = spec.module()
x = torch.randn(6, 2, 3)
sd = collections.OrderedDict((n, v.t().contiguous() if v.dim() == 2 else v) for n, v in m.state_dict().items())
case("transposed_lstm", sd, reference(run(m, x), dict(input=x)), "error",
     error=["weight_ih_l0", "weight_hh_l0", "transposed"],
     torch_error=torch_error(lambda: spec.module().load_state_dict(sd)))

# Gates in another order: an LSTM in i f o g, a GRU in z r n.
for name, spec in (("gates_ifog", Spec("lstm", 3, 4)), ("gates_zrn", Spec("gru", 3, 4))):
    m = spec.module()
    x = torch.randn(6, 2, 3)
    mistake_case(name, spec, permute_gates(spec, m.state_dict()), dict(input=x), run(m, x), "gate_order")
    cases[name]["gate_order"] = GATE_ORDERS[spec.mode][0]

# Biases missing (the reference's model had none) and doubled.
spec = Spec("lstm", 3, 4)
m = spec.module()
sd = m.state_dict()
x = torch.randn(6, 2, 3)
nobias = collections.OrderedDict((n, v * 0 if n.startswith("bias") else v) for n, v in sd.items())
mistake_case("bias_missing", spec, sd, dict(input=x), run(module_with(spec, nobias), x), "bias_missing")
spec = Spec("tanh", 3, 4)
m = spec.module()
sd = m.state_dict()
x = torch.randn(6, 2, 3)
twice = collections.OrderedDict((n, v * 2 if n.startswith("bias") else v) for n, v in sd.items())
mistake_case("bias_doubled", spec, sd, dict(input=x), run(module_with(spec, twice), x), "bias_doubled")

# h0 ignored: the reference holds h0, but its output was computed from zeros.
spec = Spec("gru", 3, 5)
m = spec.module()
x = torch.randn(6, 2, 3)
h0, _ = spec.states(2)
mistake_case("h0_ignored", spec, m.state_dict(), dict(input=x, h0=h0), run(m, x), "h0_ignored")

# The reverse direction misread: its outputs left in the order it made them...
spec = Spec("lstm", 3, 4, bidirectional=True)
m = spec.module()
sd = m.state_dict()
x = torch.randn(6, 2, 3)
mistake_case("reverse_unflipped", spec, sd, dict(input=x), run_layers(spec, sd, x, reverse="unflipped"),
             "reverse_unflipped")
# ... or run over the sequence from its start.
spec = Spec("gru", 3, 4, bidirectional=True)
m = spec.module()
sd = m.state_dict()
x = torch.randn(6, 2, 3)
mistake_case("reverse_forward", spec, sd, dict(input=x), run_layers(spec, sd, x, reverse="forward"),
             "reverse_forward")

# The layer-by-layer runner that emulates these mistakes computes, done right, what
# PyTorch computes: it is a fair emulation.
for spec in (Spec("lstm", 3, 4, layers=2, bidirectional=True, proj=2), Spec("gru", 3, 4, layers=2, bidirectional=True),
             Spec("relu", 3, 4, bidirectional=True, batch_first=True)):
    m = spec.module()
    x = torch.randn(2, 5, 3) if spec.batch_first else torch.randn(5, 2, 3)
    h0, c0 = spec.states(2)
    assert within(run_layers(spec, m.state_dict(), x, h0, c0), run(m, x, h0, c0)), spec.__dict__

# A changed weight that no mistake explains: a failure without a diagnosis.
spec = Spec("gru", 3, 5)
m = spec.module()
x = torch.randn(6, 2, 3)
res = run(m, x)
sd = m.state_dict()
sd["weight_hh_l0"][0, 0] += 0.5
found = explains(spec, sd, dict(input=x), res)
case("drifted", sd, reference(res, dict(input=x)), "fail", rule="truth", compared=compared(res),
     diagnosis=list(found), measured=dict(max_abs_err=max_err(run(module_with(spec, sd), x), res)))

# The output saved as its last step only: a shape mismatch, nothing of it compared.
spec = Spec("gru", 3, 5)
m = spec.module()
x = torch.randn(6, 2, 3)
res = run(m, x)
ref = reference(res, dict(input=x))
ref["output"] = res["output"][-1]
case("output_last_step", m.state_dict(), ref, "fail", rule="shape", compared=compared(res), failing=["output"],
     diagnosis=last_step(res, ref))

# -- Judged against the float64 truth ---------------------------------------------------------


def truth_of(spec, sd, x, h0=None, c0=None):
    wide = lambda t: None if t is None else t.double()
    return run(module_with(spec, sd, torch.float64), x.double(), wide(h0), wide(c0))


def scaled_sd(sd, f):
    return collections.OrderedDict((n, v * f) for n, v in sd.items())


def worst(a, b):
    return max((a[n].double() - b[n].double()).abs().max().item() for n in b)


def port_gru(sd, x, seed):
    """A second float32 GRU, written out step by step as a port would be, summing each
    product in another order (a permutation of the inner dimension, drawn from seed)."""
    g = torch.Generator().manual_seed(seed)
    wih, whh, bih, bhh = (sd[n] for n in ("weight_ih_l0", "weight_hh_l0", "bias_ih_l0", "bias_hh_l0"))
    pi, ph = torch.randperm(wih.shape[1], generator=g), torch.randperm(whh.shape[1], generator=g)
    H = whh.shape[1]
    h = torch.zeros(x.shape[1], H)
    steps = []
    with torch.no_grad():
        for t in range(x.shape[0]):
            xg = x[t][:, pi] @ wih[:, pi].t() + bih
            hg = h[:, ph] @ whh[:, ph].t() + bhh
            r = torch.sigmoid(xg[:, :H] + hg[:, :H])
            z = torch.sigmoid(xg[:, H:2 * H] + hg[:, H:2 * H])
            n = torch.tanh(xg[:, 2 * H:] + r * hg[:, 2 * H:])
            h = (1 - z) * n + z * h
            steps.append(h)
    return collections.OrderedDict(output=torch.stack(steps), h_n=h.unsqueeze(0))


# A GRU whose weights are scaled until PyTorch's own float32 result is more than 1e-5 away
# from the float64 truth, and a second float32 port of it (port_gru, just as right) is more
# than twice the tolerance away from PyTorch's: atol and rtol alone would fail a right port.
rtol, atol = PRECISION[torch.float32]
spec = Spec("gru", 8, 32)
base = spec.module().state_dict()
x = torch.randn(50, 3, 8)
scale = 4.0
while True:
    sd = collections.OrderedDict((n, v * scale) for n, v in base.items())
    res, tru = run(module_with(spec, sd), x), truth_of(spec, sd, x)
    port = port_gru(sd, x, 1)
    if worst(res, tru) > 1e-5 and not passes(port, res, rtol, 2 * atol):
        break
    scale *= 1.02
torch_truth = worst(res, tru)
case("gru_large", sd, reference(res, dict(input=x)), "pass", rule="truth", compared=compared(res),
     measured=dict(weight_scale=scale, torch_truth=torch_truth, port_truth=worst(port, tru),
                   port_torch=worst(port, res), port_within_tolerance=within(port, res)))


def perturbed(sd, name, delta):
    out = collections.OrderedDict((n, v.clone()) for n, v in sd.items())
    out[name][0, 0] += delta
    return out


def change_for(target):
    """The change of weight_hh_l0[0, 0] whose float32 result lies target times farther from
    the truth than PyTorch's own float32 rounding does."""
    lo, hi = 0.0, 1e-2
    for _ in range(60):
        mid = (lo + hi) / 2
        if worst(run(module_with(spec, perturbed(sd, "weight_hh_l0", mid)), x), tru) < target * torch_truth:
            lo = mid
        else:
            hi = mid
    return hi


# A reference made from other weights: one recurrent weight changed so little that the
# reference is only 10 times PyTorch's float32 rounding away from the truth.
delta = change_for(10)
other = run(module_with(spec, perturbed(sd, "weight_hh_l0", delta)), x)
case("gru_large_other_ref", None, reference(other, dict(input=x)), "fail", model_file="gru_large.pt",
     rule="truth", compared=compared(res), diagnosis=diagnose(spec, sd, dict(input=x), other),
     measured=dict(weight_change=delta, ref_truth=worst(other, tru), torch_truth=torch_truth))
# Wrong weights in the checkpoint: the same change made to the checkpoint instead.
wrong = perturbed(sd, "weight_hh_l0", delta)
case("gru_large_wrong_weights", wrong, None, "fail", ref_file="gru_large.ref.pt", rule="truth",
     compared=compared(res), diagnosis=diagnose(spec, wrong, dict(input=x), res),
     measured=dict(weight_change=delta, ref_truth=worst(res, truth_of(spec, wrong, x)), torch_truth=torch_truth))
# Ports' results for the Go-side comparison of any result with a reference: the second
# float32 port above (right), a wrong port that adds b_hn outside r, as some ports of the
# GRU do (it computes the GRU whose n-gate bias moved from bias_hh to bias_ih).
moved = collections.OrderedDict((n, v.clone()) for n, v in sd.items())
H = spec.hidden
moved["bias_ih_l0"][2 * H:] += moved["bias_hh_l0"][2 * H:]
moved["bias_hh_l0"][2 * H:] = 0
wrong_port = run(module_with(spec, moved), x)
save(collections.OrderedDict(output=wrong_port["output"], h_n=wrong_port["h_n"]), "gru_large.wrong_port.pt")
# ... and a port that misreads one weight by the change above.
misread = port_gru(perturbed(sd, "weight_hh_l0", delta), x, 1)
save(collections.OrderedDict(output=misread["output"], h_n=misread["h_n"]), "gru_large.misread_port.pt")
cases["gru_large"]["ports"] = collections.OrderedDict([
    ("gru_large.port.pt", dict(outcome="pass", rule="truth",
                               measured=dict(port_truth=worst(port, tru), torch_truth=torch_truth))),
    ("gru_large.wrong_port.pt", dict(outcome="fail", rule="truth",
                                     measured=dict(port_truth=worst(wrong_port, tru), torch_truth=torch_truth))),
    ("gru_large.misread_port.pt", dict(outcome="fail", rule="truth",
                                       measured=dict(port_truth=worst(misread, tru), torch_truth=torch_truth))),
])
save(collections.OrderedDict(output=port["output"], h_n=port["h_n"]), "gru_large.port.pt")

# -- Precision by dtype ---------------------------------------------------------------------

# A float64 model is judged by float64's tolerance only: a reference 1e-6 off fails.
spec = Spec("lstm", 3, 4, layers=2)
m = spec.module().double()
x = torch.randn(6, 2, 3, dtype=torch.float64)
res = run(m, x)
case("f64", m.state_dict(), reference(res, dict(input=x)), "pass", rule="tolerance", compared=compared(res))
off = collections.OrderedDict(res, output=res["output"].clone())
off["output"][3, 1, 2] += 1e-6
case("f64_off", None, reference(off, dict(input=x)), "fail", model_file="f64.pt", rule="tolerance",
     compared=compared(res), failing=["output"], diagnosis=diagnose(spec, m.state_dict(), dict(input=x), off),
     measured=dict(off_by=1e-6, float64_tolerance_passes=passes(res, off, *PRECISION[torch.float64]),
                   float32_tolerance_passes=passes(res, off, *PRECISION[torch.float32])))

# Half and bfloat16 weights: PyTorch runs them after .float(), as the check does; the
# reference is float32, so float32's tolerance applies.
for name, dtype in (("f16_weights", torch.float16), ("bf16_weights", torch.bfloat16)):
    spec = Spec("gru", 3, 5)
    m = spec.module().to(dtype)
    sd = m.state_dict()
    x = torch.randn(6, 2, 3)
    res = run(module_with(spec, sd), x)
    case(name, sd, reference(res, dict(input=x)), "pass", rule="tolerance", compared=compared(res))
# A reference saved in half precision: its dtype sets the tolerance, as assert_close's does.
spec = Spec("gru", 3, 5)
m = spec.module()
x = torch.randn(6, 2, 3)
res = run(m, x)
half = collections.OrderedDict((n, t.half()) for n, t in res.items())
case("f16_ref", m.state_dict(), reference(half, dict(input=x)), "pass", rule="tolerance", compared=compared(res),
     measured=dict(max_abs_err=worst(half, res), float16_tolerance_passes=passes(res, half, *PRECISION[torch.float16]),
                   float32_tolerance_passes=passes(res, half, *PRECISION[torch.float32])))

# -- Cells ------------------------------------------------------------------------------------
# A cell's reference is a sequence (steps, batch, features) stepped through by the cell, or
# one step; its truth is the same cell in float64. The usual mistakes that apply to a
# cell (all but batch_first and the reverse direction) are diagnosed as for the modules.


def cell_reference(res, inputs, state_tuple=False):
    """A cell's reference: its input, initial states (h0 and c0, or LSTMCell's tuple hx),
    then its results."""
    d = collections.OrderedDict(input=inputs["input"])
    if "h0" in inputs:
        if state_tuple:
            d["hx"] = (inputs["h0"], inputs["c0"])
        else:
            d["h0"] = inputs["h0"]
            if "c0" in inputs:
                d["c0"] = inputs["c0"]
    d.update(res)
    return d


def first_scale(results_at, lo=1.5e-5, hi=1e-4, start=2.0, step=1.01, stop=12.0):
    """The first weight scale, from start up by step, at which float32 rounding is beyond
    float32's atol but the same size however it happens: PyTorch's float32 result lies
    between lo and hi from the float64 truth; the float32 results of PORTS second
    computations (relabeled: the hidden units relabeled, the same function summed in
    other orders) and the float64 results from weights rounded at random (the rounding
    noise, as the check measures it) lie within a factor of 3 of that and below hi; and
    none of the ports lies within the tolerance of PyTorch's (a right float32 port differs
    from PyTorch beyond atol, as Go does: with one port only, one in eight of them would
    not). Near the weights where a
    model turns chaotic, these errors jump from one scale to the next; the search takes
    the first scale that fits. results_at(scale) returns PyTorch's float32 results, the
    truth, the ports' results and the noisy results. Returns the scale, PyTorch's
    results, the truth and the largest error of the ports and the noisy results: the
    float32 rounding of the model."""
    rtol, atol = PRECISION[torch.float32]
    scale = start
    while scale < stop:
        res, tru, ports, noisy = results_at(scale)
        a = worst(res, tru)
        rounding = max(worst(r, tru) for r in ports + noisy)
        if lo < a < hi and rounding < min(hi, 3 * a) and not any(passes(p, res, rtol, atol) for p in ports):
            return scale, res, tru, rounding
        scale *= step
    raise AssertionError("no weight scale in [%g, %g) puts the float32 rounding between %g and %g" % (start, stop, lo, hi))


PORTS = 8


def noisy_sds(sd, runs=4, u=2.0 ** -23):
    """sd in float64, each weight rounded at random as the check's rounding noise does:
    x(1 + δ), δ uniform in ±u, for each of runs seeded draws."""
    out = []
    for run_ in range(runs):
        g = torch.Generator().manual_seed(run_ + 1)
        out.append(collections.OrderedDict(
            (n, v.double() * (1 + u * (2 * torch.rand(v.shape, generator=g, dtype=torch.float64) - 1))) for n, v in sd.items()))
    return out


def relabeled(spec, sd, x, h0=None, c0=None, seed=1):
    """A one-layer module or cell computed with its hidden units relabeled by a random
    permutation (the rows of each gate block, the columns of the recurrent weights, the
    states), its results put back in order: the same function, its sums of products taken
    in another order, as a second float32 port computes it."""
    g = torch.Generator().manual_seed(seed)
    H = spec.hidden
    perm = torch.randperm(H, generator=g)
    inv = torch.argsort(perm)
    out = collections.OrderedDict()
    for n, v in sd.items():
        blocks = v.shape[0] // H
        rows = torch.cat([b * H + perm for b in range(blocks)])
        v = v[rows]
        if n.startswith("weight_hh"):
            v = v[:, perm]
        out[n] = v.contiguous()
    state = (lambda t: None if t is None else t[..., perm].contiguous())
    r = run(module_with(spec, out), x, state(h0), state(c0))
    return collections.OrderedDict((n, t[..., inv]) for n, t in r.items())


def change_to(results_with, tru, target):
    """The change delta of one weight at which results_with(delta) lies target from the
    truth tru (bisection)."""
    lo, hi = 0.0, 1e-2
    for _ in range(60):
        mid = (lo + hi) / 2
        if worst(results_with(mid), tru) < target:
            lo = mid
        else:
            hi = mid
    return hi


def perturbed_at(sd, name, delta, at=(0, 0)):
    out = collections.OrderedDict((n, v.clone()) for n, v in sd.items())
    out[name][at] += delta
    return out


# An LSTMCell whose weights are scaled until PyTorch's own float32 result, stepped over 50
# steps from the initial state hx = (h0, c0), lies more than 2e-5 from the float64 truth:
# a right Go result is then beyond atol of PyTorch's, and passes by the truth rule.
spec = Spec("lstm", 8, 32, cell=True)
base = spec.module().state_dict()
x = torch.randn(50, 3, 8)
h0, c0 = spec.states(3)
cell_in = collections.OrderedDict(input=x, h0=h0, c0=c0)


def cell_results(sd, dtype=torch.float32):
    wide = (lambda t: t.to(dtype))
    return run(module_with(spec, sd, dtype), wide(x), wide(h0), wide(c0))


def cell_rounding(f):
    sd = scaled_sd(base, f)
    return (cell_results(sd), cell_results(sd, torch.float64),
            [relabeled(spec, sd, x, h0, c0, seed) for seed in range(1, PORTS + 1)],
            [cell_results(n, torch.float64) for n in noisy_sds(sd)])


scale, res, tru, rounding = first_scale(cell_rounding)
sd = scaled_sd(base, scale)
cell_truth = worst(res, tru)
case("cell_large", sd, cell_reference(res, cell_in, state_tuple=True), "pass", rule="truth",
     compared=collections.OrderedDict(output="output", h_n="h_n", c_n="c_n"), initial=dict(h0="hx.0", c0="hx.1"),
     measured=dict(weight_scale=scale, torch_truth=cell_truth, float32_rounding=rounding))
save_truth("cell_large", tru)
# ... and a reference made from other weights: one recurrent weight changed until the
# reference lies 10 times the float32 rounding from the truth. It fails, by the truth rule.
delta = change_to(lambda d: cell_results(perturbed_at(sd, "weight_hh", d)), tru, 10 * rounding)
other = cell_results(perturbed_at(sd, "weight_hh", delta))
case("cell_large_other_ref", None, cell_reference(other, cell_in, state_tuple=True), "fail", model_file="cell_large.pt",
     rule="truth", compared=collections.OrderedDict(output="output", h_n="h_n", c_n="c_n"),
     diagnosis=diagnose(spec, sd, cell_in, other),
     measured=dict(weight_change=delta, ref_truth=worst(other, tru), torch_truth=cell_truth, float32_rounding=rounding))


def cell_mistake(name, spec, sd, inputs, ref_res, made, flags=()):
    """A failing check of a cell whose reference ref_res the mistake `made` explains."""
    found = explains(spec, sd, inputs, ref_res)
    assert made in found, (name, made, list(found))
    plain = run(module_with(spec, sd), inputs["input"], inputs.get("h0"), inputs.get("c0"))
    case(name, sd, cell_reference(ref_res, inputs), "fail", rule="truth", flags=list(flags),
         compared=collections.OrderedDict((n, n) for n in ref_res), diagnosis=list(found),
         measured=dict(max_abs_err=max_err(plain, ref_res), with_mistake_undone=found))


# An LSTMCell's gate rows in i f o g, stepped through a sequence.
spec = Spec("lstm", 3, 4, cell=True)
m = spec.module()
x = torch.randn(6, 2, 3)
cell_mistake("cell_gates_ifog", spec, permute_gates(spec, m.state_dict()), dict(input=x), run(m, x), "gate_order")
# A relu RNNCell's state_dict checked as tanh, one batched step.
spec = Spec("relu", 3, 5, cell=True)
m = spec.module()
x = torch.randn(4, 3)
cell_mistake("cell_forgot_relu", Spec("tanh", 3, 5, cell=True), m.state_dict(), dict(input=x), run(m, x), "nonlinearity")
cases["cell_forgot_relu"]["fixed_by"] = ["--nonlinearity", "relu"]
# A GRUCell's reference computed from zeros although it holds h0, one unbatched step.
spec = Spec("gru", 3, 5, cell=True)
m = spec.module()
x = torch.randn(3)
h0, _ = spec.states(None)
cell_mistake("cell_h0_ignored", spec, m.state_dict(), dict(input=x, h0=h0), run(m, x), "h0_ignored")
# A square RNNCell stored transposed.
spec = Spec("tanh", 4, 4, cell=True)
m = spec.module()
x = torch.randn(5, 2, 4)
sd = collections.OrderedDict((n, v.t().contiguous() if v.dim() == 2 else v) for n, v in m.state_dict().items())
cell_mistake("cell_transposed", spec, sd, dict(input=x), run(m, x), "transposed")
# An LSTMCell's h0 without its c0: PyTorch refuses it; so does the check.
spec = Spec("lstm", 3, 4, cell=True)
m = spec.module()
x = torch.randn(5, 2, 3)
h0, c0 = spec.states(2)
res = run(m, x, h0, c0)
case("cell_h0_without_c0", m.state_dict(), collections.OrderedDict(input=x, h0=h0, output=res["output"], h_n=res["h_n"]),
     "error", error=["h0 without c0"], torch_error=torch_error(lambda: m(x[0], h0)))

# -- Whole models -----------------------------------------------------------------------------
# The model around the recurrent module (--whole; a pickled Sequential runs whole as it
# is), from token ids to its output, judged against the float64 truth of every layer.


class Whole:
    """A whole model as the check runs it: the layers before the recurrent module, the
    module, the layers after it (torch modules, in eval mode). The module passes on its
    output; when it is the last layer, its h_n (and c_n) are results too."""

    def __init__(self, before, after):
        self.before, self.after = list(before), list(after)
        for l in self.before + self.after:
            l.eval()

    def square_linear(self):
        return any(isinstance(l, torch.nn.Linear) and l.in_features == l.out_features for l in self.before + self.after)

    @staticmethod
    def apply(layers, y, transposed_linear=False):
        with torch.no_grad():
            for l in layers:
                if transposed_linear and isinstance(l, torch.nn.Linear) and l.in_features == l.out_features:
                    y = torch.nn.functional.linear(y, l.weight.t(), l.bias)  # x·W for x·Wᵀ
                else:
                    y = l(y)
        return y

    def core_input(self, x, transposed_linear=False):
        return self.apply(self.before, x, transposed_linear)

    def run(self, x, rec=None, transposed_linear=False):
        """The model's results on x, the recurrent module computed by rec (its input ->
        results; None: a model without one)."""
        y = self.core_input(x, transposed_linear)
        if rec is None:
            return collections.OrderedDict(output=y)
        r = rec(y)
        if not self.after:
            return r
        return collections.OrderedDict(output=self.apply(self.after, r["output"], transposed_linear))

    def double(self):
        return Whole([copy.deepcopy(l).double() for l in self.before], [copy.deepcopy(l).double() for l in self.after])


class CharModel(torch.nn.Module):
    """A char-level model as training scripts define it: Embedding -> recurrent module ->
    [LayerNorm] -> Linear; its state_dict is what the check loads."""

    def __init__(self, vocab, spec, norm=False, head=None):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, spec.inp)
        self.rnn = spec.module()
        if norm:
            self.norm = torch.nn.LayerNorm(spec.out)
        self.fc = torch.nn.Linear(spec.out, head or vocab)

    def whole(self):
        return Whole([self.embedding], ([self.norm] if hasattr(self, "norm") else []) + [self.fc])

    def rec_sd(self):
        return collections.OrderedDict((n, v.clone()) for n, v in self.rnn.state_dict().items())

    def with_rec(self, sd):
        net = copy.deepcopy(self)
        net.rnn.load_state_dict(sd)
        return net.eval()


def whole_results(net, spec, ids, dtype=torch.float32):
    w = net.whole() if dtype == torch.float32 else net.whole().double()
    return w.run(ids, lambda y: run(module_with(spec, net.rec_sd(), dtype), y))


def whole_case(name, net, ids, res, outcome, **facts):
    case(name, net.state_dict(), collections.OrderedDict(input=ids, output=res["output"]), outcome,
         flags=["--whole"] + facts.pop("flags", []), compared=dict(output="output"), **facts)


# Embedding -> GRU -> Linear, the GRU's weights scaled until PyTorch's own float32 logits
# lie more than 2e-5 from the float64 truth: a right Go result passes by the truth rule.
spec = Spec("gru", 8, 32)
net = CharModel(20, spec).eval()
base = net.rec_sd()
ids = torch.randint(0, 20, (50, 3))


def whole_rounding(f):
    sd = scaled_sd(base, f)
    at = net.with_rec(sd)
    return (whole_results(at, spec, ids), whole_results(at, spec, ids, torch.float64),
            [net.whole().run(ids, lambda y: relabeled(spec, sd, y, seed=seed)) for seed in range(1, PORTS + 1)],
            [net.whole().double().run(ids, lambda y: run(module_with(spec, n, torch.float64), y)) for n in noisy_sds(sd)])


scale, res, tru, rounding = first_scale(whole_rounding)
large = net.with_rec(scaled_sd(base, scale))
whole_truth = worst(res, tru)
whole_case("whole_large", large, ids, res, "pass", rule="truth",
           measured=dict(weight_scale=scale, torch_truth=whole_truth, float32_rounding=rounding))
save_truth("whole_large", tru)
# ... a reference from other weights (a recurrent weight changed until the logits lie 10
# times the float32 rounding from the truth) fails by the truth rule...
rsd = large.rec_sd()
delta = change_to(lambda d: whole_results(large.with_rec(perturbed_at(rsd, "weight_hh_l0", d)), spec, ids), tru, 10 * rounding)
other = whole_results(large.with_rec(perturbed_at(rsd, "weight_hh_l0", delta)), spec, ids)
case("whole_large_other_ref", None, collections.OrderedDict(input=ids, output=other["output"]), "fail",
     model_file="whole_large.pt", flags=["--whole"], rule="truth", compared=dict(output="output"),
     diagnosis=diagnose(spec, rsd, dict(input=ids), other, large.whole()),
     measured=dict(weight_change=delta, ref_truth=worst(other, tru), torch_truth=whole_truth, float32_rounding=rounding))


# ... and so does a checkpoint whose head holds a wrong weight (the same 10 times), where
# the recurrent module alone is right.
def with_head(net, delta):
    out = copy.deepcopy(net)
    with torch.no_grad():
        out.fc.weight[0, 0] += delta
    return out.eval()


delta = change_to(lambda d: whole_results(with_head(large, d), spec, ids), tru, 10 * rounding)
wrong = with_head(large, delta)
case("whole_large_wrong_head", wrong.state_dict(), None, "fail", ref_file="whole_large.ref.pt", flags=["--whole"],
     rule="truth", compared=dict(output="output"),
     diagnosis=diagnose(spec, rsd, dict(input=ids), res, wrong.whole()),
     measured=dict(weight_change=delta, ref_truth=worst(res, whole_results(wrong, spec, ids, torch.float64)),
                   torch_truth=whole_truth, float32_rounding=rounding))

# batch_first forgotten in a whole model: Embedding -> LSTM(batch_first=True) -> LayerNorm
# -> Linear, token ids (batch, steps), checked without saying batch_first.
spec = Spec("lstm", 6, 10, batch_first=True)
net = CharModel(12, spec, norm=True).eval()
ids = torch.randint(0, 12, (2, 9))
res = whole_results(net, spec, ids)
checked = Spec("lstm", 6, 10)
found = explains(checked, net.rec_sd(), dict(input=ids), res, net.whole())
assert "batch_first" in found, list(found)
whole_case("whole_forgot_batch_first", net, ids, res, "fail", rule="truth", diagnosis=list(found),
           measured=dict(max_abs_err=max_err(whole_results(net, checked, ids), res), with_mistake_undone=found))
cases["whole_forgot_batch_first"]["fixed_by"] = ["--batch-first"]
save_truth("whole_forgot_batch_first", whole_results(net, checked, ids, torch.float64))  # the model as checked

# A square head exported transposed (x·W computed for x·Wᵀ): Embedding -> RNN -> Linear(10, 10).
spec = Spec("tanh", 6, 10)
net = CharModel(12, spec, head=10).eval()
ids = torch.randint(0, 12, (7, 2))
res = whole_results(net, spec, ids)
exported = copy.deepcopy(net)
with torch.no_grad():
    exported.fc.weight.copy_(net.fc.weight.t())
found = explains(spec, exported.rec_sd(), dict(input=ids), res, exported.whole())
assert "transposed" in found, list(found)
whole_case("whole_head_transposed", exported, ids, res, "fail", rule="truth", diagnosis=list(found),
           measured=dict(max_abs_err=max_err(whole_results(exported, spec, ids), res), with_mistake_undone=found))

# A pickled Sequential, Embedding -> Tanh -> GRU, saved whole with its GRU's gate rows in
# z r n: it runs as it is, returns the GRU's output and h_n, and the diagnosis names the
# gate order.
spec = Spec("gru", 5, 7)
seq = torch.nn.Sequential(torch.nn.Embedding(16, 5), torch.nn.Tanh(), spec.module()).eval()
ids = torch.randint(0, 16, (6, 2))
with torch.no_grad():
    y, hn = seq(ids)
res = collections.OrderedDict(output=y, h_n=hn)
saved = copy.deepcopy(seq)
saved[2].load_state_dict(permute_gates(spec, seq[2].state_dict()))
found = explains(spec, saved[2].state_dict(), dict(input=ids), res, Whole([saved[0], saved[1]], []))
assert "gate_order" in found, list(found)
case("whole_seq_gates", saved, collections.OrderedDict(input=ids, output=y, h_n=hn), "fail", rule="truth",
     flags=["--whole"], compared=dict(output="output", h_n="h_n"), diagnosis=list(found), gate_order="z r n")
with torch.no_grad():
    y64, hn64 = copy.deepcopy(saved).double()(ids)
save_truth("whole_seq_gates", collections.OrderedDict(output=y64, h_n=hn64))

# A pickled Sequential without a recurrent module, Linear(6, 6) -> ReLU -> LayerNorm ->
# Linear -> LogSoftmax, its first weight saved transposed.
seq = torch.nn.Sequential(torch.nn.Linear(6, 6), torch.nn.ReLU(), torch.nn.LayerNorm(6), torch.nn.Linear(6, 4),
                          torch.nn.LogSoftmax(dim=-1)).eval()
x = torch.randn(5, 6)
with torch.no_grad():
    y = seq(x)
saved = copy.deepcopy(seq)
with torch.no_grad():
    saved[0].weight.copy_(seq[0].weight.t())
found = collections.OrderedDict((n, max_err(r, dict(output=y))) for n, r in
                                [("transposed", Whole(list(saved), []).run(x, transposed_linear=True))]
                                if within(r, dict(output=y)))
assert "transposed" in found
case("whole_seq_mlp_transposed", saved, collections.OrderedDict(input=x, output=y), "fail", rule="truth",
     compared=dict(output="output"), diagnosis=list(found),
     measured=dict(max_abs_err=max_err(Whole(list(saved), []).run(x), dict(output=y))))
with torch.no_grad():
    save_truth("whole_seq_mlp_transposed", dict(output=copy.deepcopy(saved).double()(x.double())))

# A pickled Sequential of every activation and a LayerNorm, the Softmax over the first
# dimension: its truth is every layer's in float64.
seq = torch.nn.Sequential(torch.nn.Linear(5, 8), torch.nn.Sigmoid(), torch.nn.Dropout(0.1), torch.nn.LayerNorm(8),
                          torch.nn.Linear(8, 6), torch.nn.ReLU(), torch.nn.Linear(6, 6), torch.nn.Tanh(),
                          torch.nn.Softmax(dim=0)).eval()
x = torch.randn(4, 3, 5)
with torch.no_grad():
    y, y64 = seq(x), copy.deepcopy(seq).double()(x.double())
case("whole_seq_act", seq, collections.OrderedDict(input=x, output=y), "pass", rule="tolerance",
     compared=dict(output="output"), initial=dict())  # no recurrent layer: no state
save_truth("whole_seq_act", dict(output=y64))
# ... which, starting with a Linear, refuses integers as PyTorch does.
xi = torch.randint(-3, 4, (4, 3, 5))
with torch.no_grad():
    yi = seq(xi.float())
case("whole_int_input", None, collections.OrderedDict(input=xi, output=yi), "error", model_file="whole_seq_act.pt",
     error=["input is I64"], torch_error=torch_error(lambda: seq(xi)))

# An Embedding with max_norm before a GRU, pickled whole: PyTorch renormalizes the rows it
# looks up in place, so the module is saved before it runs.
seq = torch.nn.Sequential(torch.nn.Embedding(10, 4, max_norm=1.0, padding_idx=0), torch.nn.GRU(4, 6)).eval()
saved = copy.deepcopy(seq)
ids = torch.randint(0, 10, (5, 2))
with torch.no_grad():
    y, hn = copy.deepcopy(seq)(ids)
    y64, hn64 = copy.deepcopy(seq).double()(ids)
case("whole_seq_max_norm", saved, collections.OrderedDict(input=ids, output=y, h_n=hn), "pass", rule="tolerance",
     flags=["--whole"], compared=dict(output="output", h_n="h_n"))
save_truth("whole_seq_max_norm", collections.OrderedDict(output=y64, h_n=hn64))


# The char-level model of testdata/charlstm (trained by PyTorch), whole: the text it
# generated, as token ids, and the logits PyTorch computes for it; a port's Go test
# checks its logits against these with parity.Truth (the parity package's ExampleTruth).
def charlstm():
    import importlib.util
    spec_ = importlib.util.spec_from_file_location("charlstm_gen", os.path.join(HERE, "..", "charlstm", "gen.py"))
    mod = importlib.util.module_from_spec(spec_)
    spec_.loader.exec_module(mod)
    ckpt = torch.load(os.path.join(HERE, "..", "charlstm", "checkpoint.pt"))
    net = mod.CharLSTM(len(ckpt["chars"]))
    net.load_state_dict(ckpt["model"])
    with open(os.path.join(HERE, "..", "charlstm", "generated.txt")) as f:
        text = f.read()
    return net.eval(), torch.tensor([ckpt["chars"].index(c) for c in text[:-1]])


net, ids = charlstm()
with torch.no_grad():
    logits, _ = net(ids)
    logits64, _ = copy.deepcopy(net).double()(ids)
case("charlstm", None, collections.OrderedDict(input=ids, output=logits), "pass", model_file="../charlstm/checkpoint.pt",
     flags=["--whole"], rule="tolerance", compared=dict(output="output"))
save_truth("charlstm", dict(output=logits64))

# -- What the reference saved, rather than how the model was ported ----------------------
torch.manual_seed(1500)

# The output saved as its last step of a batch_first module, output[:, -1].
spec = Spec("lstm", 3, 4, batch_first=True)
m = spec.module()
x = torch.randn(2, 6, 3)
res = run(m, x)
ref = reference(res, dict(input=x))
ref["output"] = res["output"][:, -1]
case("output_last_step_bf", m.state_dict(), ref, "fail", flags=["--batch-first"], rule="shape",
     compared=compared(res), failing=["output"], diagnosis=last_step(res, ref))

# A reference computed in train mode: dropout between the layers changes every layer but
# the first, whose final state is the eval-mode one.
m = torch.nn.LSTM(4, 6, num_layers=3, dropout=0.5)
x = torch.randn(7, 2, 4)
res = run(m, x)  # in eval mode
m.train()
with torch.no_grad():
    y, (h, c) = m(x)
m.eval()
rtol, atol = PRECISION[torch.float32]
first = passes(dict(h=res["h_n"][:1]), dict(h=h[:1]), rtol, atol)
above = passes(dict(h=res["h_n"][1:]), dict(h=h[1:]), rtol, atol)
case("train_mode", m.state_dict(), collections.OrderedDict(input=x, output=y, h_n=h, c_n=c), "fail",
     rule="truth", compared=compared(res), diagnosis=["train_mode"] if first and not above else [],
     measured=dict(layer0_within=first, above_within=above))

# A reference saved as a tuple, torch.save((x, y), ...): an error saying to save a dict.
spec = Spec("gru", 3, 5)
m = spec.module()
x = torch.randn(4, 2, 3)
res = run(m, x)
case("tuple_ref", m.state_dict(), (x, res["output"]), "error", error=["a tuple of 2", "save a dict"])

# Ignoring an entry that the reference does not hold: an error naming it, with the
# reference's entry nearest to it.
case("ignore_missing", None, None, "error", model_file="lstm.pt", ref_file="misspelled.ref.pt",
     ignore=["hn", "cn", "outptu"], error=["outptu is to be ignored, but the reference has no such entry", "did you mean output?"])

# Values that are not finite, judged as torch.testing.assert_close judges them (with
# equal_nan=True): an infinity in the reference where PyTorch computed a number fails, by
# either rule; a NaN in the input, which makes the same outputs NaN in PyTorch and in Go,
# passes.
torch.manual_seed(16)
spec = Spec("lstm", 3, 5, layers=2)
m = spec.module()
x = torch.randn(7, 2, 3)
res = run(m, x)
bad = collections.OrderedDict(res, output=res["output"].clone())
bad["output"][0, 0, 0] = float("inf")


def assert_close(got, want):
    try:
        for n, w in want.items():
            torch.testing.assert_close(got[n], w, equal_nan=True)
    except AssertionError:
        return False
    return True


ok = assert_close(res, bad)
case("ref_inf", m.state_dict(), reference(bad, dict(input=x)), "pass" if ok else "fail",
     rule="truth", compared=compared(res), failing=["output"], measured=dict(assert_close=ok))
spec = Spec("gru", 2, 3)
m = spec.module()
x = torch.randn(4, 2, 2)
x[1, 0, 0] = float("nan")
res = run(m, x)
ok = assert_close(res, res)
case("nan_input", m.state_dict(), reference(res, dict(input=x)), "pass" if ok else "fail",
     rule="tolerance", compared=compared(res),
     measured=dict(assert_close=ok, nan_outputs=int(res["output"].isnan().sum())))

# The whole tuple an LSTM returns saved as the output, (y, (h_n, c_n)): an error saying so.
torch.manual_seed(17)
spec = Spec("lstm", 3, 4)
m = spec.module()
x = torch.randn(5, 2, 3)
with torch.no_grad():
    returned = m(x)
case("output_tuple", m.state_dict(), collections.OrderedDict(input=x, output=returned), "error",
     error=["output: want a tensor", "the whole tuple the module returns"])

# A reference PyTorch computed with the module in bfloat16 (its arithmetic rounding to 8
# bits): a failure whose reason says so, as assert_close against Go's float32 result fails.
torch.manual_seed(18)
spec = Spec("gru", 4, 6)
m = spec.module().bfloat16()
x = torch.randn(5, 3, 4).bfloat16()
with torch.no_grad():
    y, h = m(x)
wide = run(module_with(spec, m.state_dict()), x.float())
ok = assert_close(dict(output=wide["output"].bfloat16()), dict(output=y))
case("bf16_computed", m.state_dict(), collections.OrderedDict(input=x, output=y, h_n=h), "pass" if ok else "fail",
     rule="truth", reason=["probably computed in bfloat16", "model.float()"], measured=dict(assert_close=ok))

# A NaN in the checkpoint's weights, the reference made from the weights without it: a
# failure whose reason says the model computes NaN.
torch.manual_seed(19)
spec = Spec("lstm", 3, 5)
m = spec.module()
x = torch.randn(4, 2, 3)
res = run(m, x)
sd = copy.deepcopy(m.state_dict())
sd["weight_hh_l0"][0, 0] = float("nan")
nan_res = run(module_with(spec, sd), x)
case("nan_weights", sd, reference(res, dict(input=x)), "fail", rule="truth",
     reason=["float64 truth of this model is NaN", "weights hold NaN"],
     measured=dict(nan_outputs=int(nan_res["output"].isnan().sum())))

# A pickled Sequential(Linear, ReLU, RNN) checked as its recurrent module alone, on the
# whole model's input: an error saying to run it whole, as PyTorch's module refuses it.
torch.manual_seed(20)
spec = Spec("tanh", 4, 5)
inner = spec.module()
seq = torch.nn.Sequential(torch.nn.Linear(3, 4), torch.nn.ReLU(), inner).eval()
x = torch.randn(6, 2, 3)
with torch.no_grad():
    y, h = seq(x)
case("seq_not_whole", seq, collections.OrderedDict(input=x, output=y, h_n=h), "error",
     error=["inside a whole model", "run it whole"], torch_error=torch_error(lambda: inner(x)))

with open(os.path.join(HERE, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1)
    f.write("\n")
print("wrote %d cases to %s" % (len(cases), HERE))

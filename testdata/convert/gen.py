"""Fixtures of package convert and of the ptport command, made by real PyTorch.

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 testdata/convert/gen.py

Each case NAME writes NAME.pt (the model, as a user's code would save it) and, where the
model can run, NAME.ref.pt (the reference tensors a notebook exports: input, h0, c0,
output, h_n, c_n, computed by torch in eval mode without gradients). cases.json lists
every case with what the Go side must do with it: the flags it needs, and the outcome
("pass", "mismatch" without the flags, "ambiguous", "invalid").
"""
import collections
import json
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))
torch.manual_seed(7)
cases = {}


def save(obj, name, **kw):
    torch.save(obj, os.path.join(here, name), **kw)


def reference(module, x, h0=None, c0=None, compute=None):
    """The reference dict of module on x; compute, if given, is the module to run."""
    m = compute or module
    m.eval()
    with torch.no_grad():
        if isinstance(m, torch.nn.LSTM):
            state = None if h0 is None else (h0, c0)
            y, (hn, cn) = m(x, state)
        else:
            y, hn = m(x, h0)
            cn = None
    ref = collections.OrderedDict(input=x)
    if h0 is not None:
        ref["h0"] = h0
    if c0 is not None:
        ref["c0"] = c0
    ref["output"] = y
    ref["h_n"] = hn
    if cn is not None:
        ref["c_n"] = cn
    return ref


def case(name, model_obj, ref=None, flags=(), outcome="pass", **facts):
    save(model_obj, name + ".pt")
    if ref is not None:
        save(ref, name + ".ref.pt")
    cases[name] = dict(flags=list(flags), outcome=outcome, **facts)


def states(m, batch, lstm=False):
    d = 2 if m.bidirectional else 1
    hout = m.proj_size if getattr(m, "proj_size", 0) else m.hidden_size
    h0 = torch.randn(d * m.num_layers, batch, hout)
    c0 = torch.randn(d * m.num_layers, batch, m.hidden_size) if lstm else None
    return h0, c0


# A two-layer tanh RNN, bare state_dict, with h0.
m = torch.nn.RNN(3, 5, 2)
x = torch.randn(7, 2, 3)
h0, _ = states(m, 2)
case("rnn_tanh", m.state_dict(), reference(m, x, h0), config="RNN(3, 5, num_layers=2)")

# relu needs --nonlinearity relu; without it the check fails.
m = torch.nn.RNN(3, 5, 1, nonlinearity="relu")
x = torch.randn(6, 2, 3)
case("rnn_relu", m.state_dict(), reference(m, x), flags=["--nonlinearity", "relu"],
     config="RNN(3, 5, nonlinearity='relu')")

# Bidirectional LSTM with proj_size, h0 and c0.
m = torch.nn.LSTM(4, 6, 2, proj_size=3, bidirectional=True)
x = torch.randn(5, 3, 4)
h0, c0 = states(m, 3, lstm=True)
case("lstm_proj_bi", m.state_dict(), reference(m, x, h0, c0),
     config="LSTM(4, 6, num_layers=2, bidirectional=True, proj_size=3)")

# batch_first GRU: needs --batch-first.
m = torch.nn.GRU(3, 5, 1, batch_first=True, bias=False)
x = torch.randn(2, 8, 3)
case("gru_batch_first", m.state_dict(), reference(m, x), flags=["--batch-first"],
     config="GRU(3, 5, bias=False, batch_first=True)")

# Unbatched input (seq, feature).
m = torch.nn.GRU(3, 4, 2, bidirectional=True)
x = torch.randn(6, 3)
case("gru_unbatched", m.state_dict(), reference(m, x),
     config="GRU(3, 4, num_layers=2, bidirectional=True)")


class Net(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Module()
        self.encoder.rnn = torch.nn.GRU(3, 5, 1)
        self.head = torch.nn.Linear(5, 2)


# A training checkpoint: the model's state_dict nested under model_state_dict.
net = Net()
opt = torch.optim.SGD(net.parameters(), lr=0.1, momentum=0.9)
net.head(net.encoder.rnn(torch.randn(4, 2, 3))[0]).sum().backward()
opt.step()
x = torch.randn(4, 2, 3)
case("nested_checkpoint", {"epoch": 3, "loss": 0.25, "model_state_dict": net.state_dict(),
                           "optimizer_state_dict": opt.state_dict()},
     reference(net.encoder.rnn, x), prefix="model_state_dict.encoder.rnn.", config="GRU(3, 5)")

# DataParallel's "module." prefix, in the legacy (pre-1.6) format.
m = torch.nn.LSTM(3, 4, 1)
sd = collections.OrderedDict(("module." + k, v) for k, v in m.state_dict().items())
x = torch.randn(5, 2, 3)
case("dataparallel_legacy", sd, reference(m, x), prefix="module.", config="LSTM(3, 4)")
save(sd, "dataparallel_legacy.pt", _use_new_zipfile_serialization=False)

# A whole pickled module: nonlinearity and batch_first come from its attributes.
m = torch.nn.RNN(3, 5, 2, nonlinearity="relu", batch_first=True)
x = torch.randn(2, 6, 3)
case("module_rnn", m, reference(m, x), config="RNN(3, 5, num_layers=2, nonlinearity='relu', batch_first=True)")

# A whole pickled container of modules.
seq = torch.nn.Sequential(torch.nn.LSTM(3, 4, 1, batch_first=True), torch.nn.Linear(4, 2))
x = torch.randn(2, 5, 3)
case("module_sequential", seq, reference(seq[0], x), prefix="0.", config="LSTM(3, 4, batch_first=True)")

# Two recurrent modules: ambiguous without --prefix.
enc, dec = torch.nn.LSTM(3, 4, 1), torch.nn.GRU(4, 6, 1)
x = torch.randn(5, 2, 3)
case("two_modules", {"enc": enc.state_dict(), "dec": dec.state_dict()}, reference(enc, x),
     flags=["--prefix", "enc"], outcome="ambiguous", prefixes=["enc.", "dec."])

# Strict validation: a missing key, an unexpected key and a size mismatch together.
m = torch.nn.RNN(3, 5, 2)
sd = m.state_dict()
del sd["bias_hh_l1"]
sd["weight_hh_l1"] = torch.randn(5, 4)
sd["weight_hr_l1"] = torch.randn(2, 5)
case("invalid_keys", sd, outcome="invalid", missing=["bias_hh_l1"], unexpected=["weight_hr_l1"],
     mismatched=["weight_hh_l1"])

# Half, bfloat16 and double weights. PyTorch runs half weights after .float().
for name, dtype in [("rnn_f16", torch.float16), ("rnn_bf16", torch.bfloat16), ("rnn_f64", torch.float64)]:
    m = torch.nn.RNN(3, 4, 1).to(dtype)
    run = torch.nn.RNN(3, 4, 1).to(torch.float64 if dtype == torch.float64 else torch.float32)
    run.load_state_dict({k: v.to(run.weight_ih_l0.dtype) for k, v in m.state_dict().items()})
    x = torch.randn(5, 2, 3, dtype=run.weight_ih_l0.dtype)
    case(name, m.state_dict(), reference(run, x), config="RNN(3, 4)",
         dtype="F64" if dtype == torch.float64 else "F32")

# A model that does not match its reference: the weights changed after export.
m = torch.nn.GRU(3, 5, 1)
x = torch.randn(6, 2, 3)
ref = reference(m, x)
with torch.no_grad():
    m.weight_hh_l0[0, 0] += 0.5
case("drifted", m.state_dict(), ref, outcome="mismatch", config="GRU(3, 5)")

with open(os.path.join(here, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1, sort_keys=True)
    f.write("\n")

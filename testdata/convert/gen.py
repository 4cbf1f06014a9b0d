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
import copy
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

# DataParallel's "module." prefix, in the legacy (pre-1.6) format. Its bytes differ from run
# to run, its tensors do not: the legacy writer names each storage by its address in memory
# (torch/serialization.py, _legacy_save: storage_key = str(storage._cdata)).
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



# Cells: a sequence stepped by the cell (input (steps, batch, features); output h after
# every step, h_n and c_n the last), or one step as the cell's forward takes it (output
# and h_n both h').
def cell_reference(cell, x, h0=None, c0=None, stepped=True):
    cell.eval()
    with torch.no_grad():
        h, c, hs = h0, c0, []
        for xt in (x if stepped else [x]):
            if isinstance(cell, torch.nn.LSTMCell):
                h, c = cell(xt, None if h is None else (h, c))
            else:
                h = cell(xt, h)
            hs.append(h)
    ref = collections.OrderedDict(input=x)
    if h0 is not None:
        ref["h0"] = h0
    if c0 is not None:
        ref["c0"] = c0
    ref["output"] = torch.stack(hs) if stepped else h
    ref["h_n"] = h
    if c is not None:
        ref["c_n"] = c
    return ref


class Decoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.cell = torch.nn.LSTMCell(3, 5)


# An LSTMCell under a prefix, stepped through a sequence from h0 and c0.
net = Decoder()
x = torch.randn(6, 2, 3)
case("cell_lstm_steps", net.state_dict(), cell_reference(net.cell, x, torch.randn(2, 5), torch.randn(2, 5)),
     prefix="cell.", config="LSTMCell(3, 5)")

# A bare GRUCell without biases, one batched step.
m = torch.nn.GRUCell(4, 6, bias=False)
case("cell_gru_step", m.state_dict(), cell_reference(m, torch.randn(3, 4), torch.randn(3, 6), stepped=False),
     config="GRUCell(4, 6, bias=False)")

# A whole pickled RNNCell: its nonlinearity comes from its attributes. One unbatched step.
m = torch.nn.RNNCell(3, 4, nonlinearity="relu")
case("cell_rnn_module", m, cell_reference(m, torch.randn(3), torch.randn(4), stepped=False),
     config="RNNCell(3, 4, nonlinearity=relu)")

# A relu RNNCell's state_dict needs --nonlinearity relu.
m = torch.nn.RNNCell(3, 4, nonlinearity="relu")
case("cell_rnn_relu", m.state_dict(), cell_reference(m, torch.randn(5, 2, 3)), flags=["--nonlinearity", "relu"],
     config="RNNCell(3, 4, nonlinearity=relu)")


# Whole models. A char-level model's state_dict: Embedding -> LSTM -> Linear, found by
# their shapes; checked as the LSTM alone, and whole (--whole) from token ids to logits.
class CharLSTM(torch.nn.Module):
    def __init__(self, vocab=12, dim=6, hidden=10):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, dim)
        self.lstm = torch.nn.LSTM(dim, hidden, num_layers=2)
        self.fc = torch.nn.Linear(hidden, vocab)

    def forward(self, ids):
        out, _ = self.lstm(self.embedding(ids))
        return self.fc(out)


net = CharLSTM().eval()
ids = torch.randint(0, 12, (7, 2))
with torch.no_grad():
    emb = net.embedding(ids)
    logits = net(ids)
char_layers = ['"embedding." Embedding(12, 6)', '"lstm." LSTM(6, 10, num_layers=2)',
               '"fc." Linear(in_features=10, out_features=12, bias=True)']
case("char_lstm", net.state_dict(), reference(net.lstm, emb), prefix="lstm.", config="LSTM(6, 10, num_layers=2)",
     layers=char_layers)
case("char_lstm_whole", net.state_dict(), collections.OrderedDict(input=ids, output=logits), flags=["--whole"],
     prefix="lstm.", config="LSTM(6, 10, num_layers=2)", layers=char_layers, tensors=1)

# Two heads after the GRU: the whole model is not known; --whole says so.
class TwoHeads(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(3, 4)
        self.fc_mu = torch.nn.Linear(4, 2)
        self.fc_sigma = torch.nn.Linear(4, 2)


net = TwoHeads()
x = torch.randn(5, 1, 3)
case("two_heads", net.state_dict(), reference(net.gru, x), prefix="gru.", config="GRU(3, 4)")
case("two_heads_whole", net.state_dict(), flags=["--whole"], outcome="no_whole", error="several modules fit one place")

# A whole pickled Sequential of layers alone runs as it is.
seq = torch.nn.Sequential(torch.nn.Linear(6, 16), torch.nn.ReLU(), torch.nn.Dropout(0.25), torch.nn.LayerNorm(16),
                          torch.nn.Linear(16, 4), torch.nn.LogSoftmax(dim=-1)).eval()
x = torch.randn(5, 6)
with torch.no_grad():
    y = seq(x)
case("module_seq_mlp", seq, collections.OrderedDict(input=x, output=y), tensors=1,
     config="Sequential(Linear(in_features=6, out_features=16, bias=True), ReLU(), Dropout(p=0.25), "
            "LayerNorm((16,), eps=1e-05, elementwise_affine=True), Linear(in_features=16, out_features=4, bias=True), "
            "LogSoftmax(dim=-1))")

# A pickled Sequential ending in a GRU returns the GRU's (output, h_n), as PyTorch does.
seq = torch.nn.Sequential(torch.nn.Embedding(20, 8, padding_idx=0), torch.nn.Tanh(), torch.nn.GRU(8, 12)).eval()
ids = torch.randint(0, 20, (7, 2))
with torch.no_grad():
    y, hn = seq(ids)
case("module_seq_embed_gru", seq, collections.OrderedDict(input=ids, output=y, h_n=hn), flags=["--whole"],
     prefix="2.", config="GRU(8, 12)",
     layers=['"0." Embedding(20, 8, padding_idx=0)', '"1." Tanh()', '"2." GRU(8, 12)'])


# A whole pickled custom module: its forward is not in the file, but its modules fit
# around the GRU by their shapes, with the Embedding's and Dropout's attributes.
class CharRNN(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.encoder = torch.nn.Embedding(15, 5, max_norm=1.0)
        self.rnn = torch.nn.GRU(5, 7, batch_first=True)
        self.drop = torch.nn.Dropout(0.3)
        self.decoder = torch.nn.Linear(7, 15)

    def forward(self, ids):
        out, _ = self.rnn(self.encoder(ids))
        return self.decoder(self.drop(out))


net = CharRNN().eval()
ids = torch.randint(0, 15, (2, 9))
with torch.no_grad():
    logits = copy.deepcopy(net)(ids)  # max_norm renormalizes the copy's rows in place, not net's
case("module_custom_charrnn", net, collections.OrderedDict(input=ids, output=logits), flags=["--whole"],
     prefix="rnn.", config="GRU(5, 7, batch_first=True)", tensors=1,
     layers=['"encoder." Embedding(15, 5, max_norm=1.0)', '"rnn." GRU(5, 7, batch_first=True)',
             '"decoder." Linear(in_features=7, out_features=15, bias=True)'])

# The training checkpoint's model around its GRU: the head one level up.
cases["nested_checkpoint"]["layers"] = ['"model_state_dict.encoder.rnn." GRU(3, 5)',
                                        '"model_state_dict.head." Linear(in_features=5, out_features=2, bias=True)']

# A Linear without bias that fits nowhere: its weight alone could be an Embedding too,
# and the error says both.
class StrayProjection(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.gru = torch.nn.GRU(3, 4)
        self.linear_out = torch.nn.Linear(5, 7, bias=False)


case("stray_projection_whole", StrayProjection().state_dict(), flags=["--whole"], outcome="no_whole",
     error='"linear_out.", a weight 7x5 alone (Embedding(7, 5) or Linear(in_features=5, out_features=7, bias=False)), '
           'does not fit before or after GRU(3, 4)')

with open(os.path.join(here, "cases.json"), "w") as f:
    json.dump(cases, f, indent=1, sort_keys=True)
    f.write("\n")

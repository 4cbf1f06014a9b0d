"""Training checkpoints as training code saves them, made by real PyTorch.

Run from the repository root with Debian's python3-torch:

    /usr/bin/python3 testdata/training/gen.py

It writes, beside itself:

- adam.pt: {"epoch", "loss", "model_state_dict", "optimizer_state_dict"} of a Tagger
  (Embedding, 2-layer LSTM, Linear) after three Adam steps: the moments (exp_avg,
  exp_avg_sq) and step of every parameter come along with the weights.
- dataparallel.pt: the state_dict of nn.DataParallel(Tagger), every name under "module.".
- lightning.ckpt: the layout PyTorch Lightning saves: "state_dict" with the LightningModule's
  "model." prefix, "optimizer_states" (a list of Adam states), "epoch", "global_step",
  "hyper_parameters".
- tied.pt: the state_dict of a language model whose decoder weight is its embedding's
  (decoder.weight = encoder.weight: one storage, two names), and a second buffer that
  views part of the same storage as a third name.
- sharded_bin/: a sharded checkpoint as transformers' save_pretrained(safe_serialization=
  False) lays it out: pytorch_model-0000K-of-00003.bin (torch.save of each shard's dict)
  and pytorch_model.bin.index.json ({"metadata": {"total_size"}, "weight_map"}).
- sharded_st/: the same in safetensors (model-0000K-of-00003.safetensors and
  model.safetensors.index.json). torch 1.13 has no safetensors writer, so this script
  writes the files by the format's rules: an 8-byte little-endian header size, the JSON
  header ({name: {"dtype", "shape", "data_offsets": [begin, end]}}, "__metadata__":
  {"format": "pt"}), padded with spaces to a multiple of 8, then the tensors' bytes back to
  back in header order.
- cases.json: for each file and each selection a test makes (--select, --strip-prefix,
  --exclude), the names and shapes the result must hold: the keys of the state_dict the
  original module gives, as torch computed them; and, for tied.pt, which names share a
  storage.

scripts/check_training.py loads ptport's conversions of these files back into the
modules with load_state_dict(strict=True).
"""
import collections
import json
import os
import shutil

import torch

here = os.path.dirname(os.path.abspath(__file__))


class Tagger(torch.nn.Module):
    def __init__(self, vocab=20, emb=6, hidden=8, tags=5):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, emb)
        self.lstm = torch.nn.LSTM(emb, hidden, num_layers=2, batch_first=True)
        self.head = torch.nn.Linear(hidden, tags)

    def forward(self, x):
        return self.head(self.lstm(self.embedding(x))[0])


class TiedLM(torch.nn.Module):
    def __init__(self, vocab=16, hidden=8):
        super().__init__()
        self.encoder = torch.nn.Embedding(vocab, hidden)
        self.rnn = torch.nn.GRU(hidden, hidden)
        self.decoder = torch.nn.Linear(hidden, vocab)
        self.decoder.weight = self.encoder.weight
        # a buffer viewing the first row of the tied storage: a third name on it
        self.register_buffer("first_row", self.encoder.weight.data[0])


class LitTagger(torch.nn.Module):
    """A LightningModule holds the network as self.model."""

    def __init__(self):
        super().__init__()
        self.model = Tagger()


def trained(model):
    opt = torch.optim.Adam(model.parameters(), lr=1e-3)
    for _ in range(3):
        opt.zero_grad()
        model(torch.randint(0, 20, (4, 7))).sum().backward()
        opt.step()
    return opt


def shapes(sd):
    return {k: list(v.shape) for k, v in sd.items()}


def main():
    torch.manual_seed(14)
    cases = {}

    tagger = Tagger()
    opt = trained(tagger)
    torch.save({"epoch": 3, "loss": 0.5,
                "model_state_dict": tagger.state_dict(),
                "optimizer_state_dict": opt.state_dict()}, os.path.join(here, "adam.pt"))
    cases["adam.pt"] = {
        "module": "Tagger",
        "select": ["model_state_dict"],
        "state_dict": shapes(tagger.state_dict()),
        # what convert writes with no selection: the weights, the moments and step of
        # each parameter
        "all_tensors": len(tagger.state_dict()) + 3 * len(list(tagger.parameters())),
    }

    dp = torch.nn.DataParallel(tagger)
    torch.save(dp.state_dict(), os.path.join(here, "dataparallel.pt"))
    cases["dataparallel.pt"] = {"module": "Tagger", "strip": ["module."],
                                "state_dict": shapes(tagger.state_dict()),
                                "names": sorted(dp.state_dict())}

    lit = LitTagger()
    lit_opt = trained(lit.model)
    torch.save({"epoch": 9, "global_step": 90, "pytorch-lightning_version": "2.0.0",
                "state_dict": lit.state_dict(),
                "optimizer_states": [lit_opt.state_dict()],
                "lr_schedulers": [],
                "hyper_parameters": {"vocab": 20, "hidden": 8}},
               os.path.join(here, "lightning.ckpt"))
    cases["lightning.ckpt"] = {"module": "Tagger", "select": ["state_dict"], "strip": ["model."],
                               "state_dict": shapes(lit.model.state_dict()),
                               # --exclude of the embedding leaves the rest
                               "exclude": ["embedding.*"],
                               "excluded": sorted(k for k in lit.model.state_dict() if k.startswith("embedding."))}

    lm = TiedLM()
    sd = lm.state_dict()
    assert sd["decoder.weight"].data_ptr() == sd["encoder.weight"].data_ptr()
    torch.save(sd, os.path.join(here, "tied.pt"))
    groups = collections.defaultdict(list)
    for k, v in sd.items():
        groups[v.untyped_storage().data_ptr() if hasattr(v, "untyped_storage") else v.storage().data_ptr()].append(k)
    cases["tied.pt"] = {"module": "TiedLM", "state_dict": shapes(sd),
                        "shared": [sorted(g) for g in groups.values() if len(g) > 1],
                        "tied": {"decoder.weight": "encoder.weight"}}

    # Sharded inputs, three shards of a Tagger's state_dict, split as Hugging Face does:
    # in key order, a new shard when the next tensor would pass the limit.
    big = Tagger(vocab=200, emb=32, hidden=32)
    sd = big.state_dict()
    limit = 35_000
    shards, cur, size, total = [], collections.OrderedDict(), 0, 0
    for k, v in sd.items():
        n = v.numel() * v.element_size()
        if cur and size + n > limit:
            shards.append(cur)
            cur, size = collections.OrderedDict(), 0
        cur[k] = v
        size += n
        total += n
    shards.append(cur)
    assert len(shards) == 3, len(shards)
    for d, pattern, index in (("sharded_bin", "pytorch_model-{:05d}-of-{:05d}.bin", "pytorch_model.bin.index.json"),
                              ("sharded_st", "model-{:05d}-of-{:05d}.safetensors", "model.safetensors.index.json")):
        folder = os.path.join(here, d)
        shutil.rmtree(folder, ignore_errors=True)
        os.makedirs(folder)
        weight_map = {}
        for i, shard in enumerate(shards):
            name = pattern.format(i + 1, len(shards))
            if name.endswith(".bin"):
                torch.save(shard, os.path.join(folder, name))
            else:
                write_safetensors(os.path.join(folder, name), shard)
            for k in shard:
                weight_map[k] = name
        with open(os.path.join(folder, index), "w") as f:
            json.dump({"metadata": {"total_size": total}, "weight_map": weight_map}, f, indent=2)
        cases[f"{d}/{index}"] = {"module": "Tagger", "kwargs": {"vocab": 200, "emb": 32, "hidden": 32},
                                 "state_dict": shapes(sd), "shards": len(shards),
                                 "total_size": total}
    with open(os.path.join(here, "cases.json"), "w") as f:
        json.dump(cases, f, indent=1, sort_keys=True)
        f.write("\n")


ST_DTYPE = {torch.float32: "F32", torch.float64: "F64", torch.int64: "I64", torch.float16: "F16"}


def write_safetensors(path, tensors):
    header, offset, blobs = {}, 0, []
    for k, v in tensors.items():
        b = v.contiguous().numpy().tobytes()
        header[k] = {"dtype": ST_DTYPE[v.dtype], "shape": list(v.shape),
                     "data_offsets": [offset, offset + len(b)]}
        offset += len(b)
        blobs.append(b)
    header["__metadata__"] = {"format": "pt"}
    h = json.dumps(header, separators=(",", ":")).encode()
    h += b" " * (-len(h) % 8)
    with open(path, "wb") as f:
        f.write(len(h).to_bytes(8, "little"))
        f.write(h)
        for b in blobs:
            f.write(b)


if __name__ == "__main__":
    main()

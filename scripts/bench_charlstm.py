#!/usr/bin/python3
"""The char-level model of the whole-model benchmark, in PyTorch: Embedding(65, 64) ->
LSTM(64, 512, num_layers=2) -> Linear(512, 65), the shape of the classic char-rnn.

    bench_charlstm.py export DIR     writes DIR/char.pt (the state_dict, seeded) and
                                     DIR/char.ref.pt (token ids (100, 1) and PyTorch's
                                     logits), for ptport check --whole
    bench_charlstm.py time BUDGET    prints one JSON object of PyTorch's medians, in ms:
                                     "forward_b1" (ids (100, 1) -> logits), "forward_b32"
                                     (ids (100, 32)), "step" (one token through the
                                     model, from the state the last step left, as a
                                     greedy generator runs), each the best of 1 and 2
                                     threads, in eval mode under no_grad

scripts/bench_charlstm.sh times ptport on the same model in the same run.
"""
import json
import os
import sys

import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from bench_torch import median_ms  # noqa: E402

VOCAB, EMBED, HIDDEN, LAYERS, SEQ = 65, 64, 512, 2, 100


class CharLSTM(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.embedding = torch.nn.Embedding(VOCAB, EMBED)
        self.lstm = torch.nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS)
        self.fc = torch.nn.Linear(HIDDEN, VOCAB)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embedding(ids), state)
        return self.fc(out), state


def model():
    torch.manual_seed(65)
    return CharLSTM().eval()


def main():
    torch.set_grad_enabled(False)
    m = model()
    g = torch.Generator().manual_seed(66)
    if sys.argv[1] == "export":
        d = sys.argv[2]
        ids = torch.randint(0, VOCAB, (SEQ, 1), generator=g)
        torch.save(m.state_dict(), os.path.join(d, "char.pt"))
        torch.save({"input": ids, "output": m(ids)[0]}, os.path.join(d, "char.ref.pt"))
        return
    budget = float(sys.argv[2])
    ids1 = torch.randint(0, VOCAB, (SEQ, 1), generator=g)
    ids32 = torch.randint(0, VOCAB, (SEQ, 32), generator=g)
    tok = torch.tensor([3])
    res = {"torch": torch.__version__}
    for name, fn in [("forward_b1", lambda: m(ids1)), ("forward_b32", lambda: m(ids32))]:
        best = None
        for threads in (1, 2):
            torch.set_num_threads(threads)
            ms, _ = median_ms(fn, budget)  # wall time
            best = ms if best is None else min(best, ms)
        res[name] = best
    state = [None]

    def step():
        logits, state[0] = m(tok, state[0])
        return logits

    best = None
    for threads in (1, 2):
        torch.set_num_threads(threads)
        state[0] = None
        ms, _ = median_ms(step, budget)  # wall time
        best = ms if best is None else min(best, ms)
    res["step"] = best
    print(json.dumps(res))


if __name__ == "__main__":
    main()

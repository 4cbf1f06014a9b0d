#!/usr/bin/python3
"""Computes with PyTorch what the Example functions of package rnn (rnn/example_test.go)
print, so that their // Output: lines are PyTorch's:

    /usr/bin/python3 testdata/rnn/examples.py

The parameters come from the same formula as the examples' values and params helpers.
"""
import torch


def values(n, seed, div):
    return torch.tensor([(((j * j * 7 + j * 3 + seed * 11) % 17) - 8) / div for j in range(n)])


def set_params(module, seed):
    with torch.no_grad():
        for i, name in enumerate(module._flat_weights_names):
            p = getattr(module, name)
            p.copy_(values(p.numel(), seed + i + 1, 8).reshape(p.shape))


def fmt(v):
    return "[" + " ".join("%.4f" % x for x in v) + "]"


def main():
    torch.set_grad_enabled(False)

    print("ExampleModel_Forward")
    m = torch.nn.RNN(2, 4)
    m.weight_ih_l0.copy_(torch.tensor([[1.0, 5], [2, 6], [3, 7], [4, 8]]))
    m.weight_hh_l0.copy_(torch.eye(4))
    m.bias_ih_l0.copy_(torch.tensor([0.1, 0, 0, 0]))
    m.bias_hh_l0.zero_()
    y, h = m(torch.zeros(2, 3, 2))
    print(list(y.shape), list(h.shape))
    print("%.4f %.4f" % (y[0, 0, 0], y[1, 0, 0]))

    print("ExampleState_Step")
    m = torch.nn.LSTM(3, 4, num_layers=2)
    set_params(m, 0)
    x = torch.tensor([0.5, -1, 2, 0, 1, 1, -0.5, 0.25, 0]).reshape(3, 3)
    y, (h, c) = m(x)
    print(fmt(h[1].tolist()))

    print("ExampleCell_Forward")
    g = torch.nn.GRUCell(2, 2, bias=False)
    g.weight_ih.copy_(torch.tensor([1, 0, 0, 1, 0.5, 0.5, -1, 0, 0, -1, 1, 1.0]).reshape(6, 2))
    g.weight_hh.copy_(torch.tensor([0, 1, 1, 0, 0.5, 0, 0, 0.5, 1, 0, 0, 1.0]).reshape(6, 2))
    x, h = torch.tensor([1, 0.5]), None
    for _ in range(3):
        h = g(x, h)
        print(fmt(h.tolist()))

    print("ExampleStream_StepIndices")
    vocab, dim, hidden = 5, 3, 4
    emb = torch.nn.Embedding(vocab, dim)
    emb.weight.copy_(values(vocab * dim, 12, 4).reshape(vocab, dim))
    lstm = torch.nn.LSTM(dim, hidden, num_layers=2)
    set_params(lstm, 12)
    head = torch.nn.Linear(hidden, vocab, bias=False)
    head.weight.copy_(values(vocab * hidden, 21, 2).reshape(vocab, hidden))
    ids = [1, 3]
    out, state = lstm(emb(torch.tensor(ids)))
    logits = head(out)
    while len(ids) < 12:
        ids.append(int(logits[-1].argmax()))
        out, state = lstm(emb(torch.tensor(ids[-1:])), state)
        logits = head(out)
    print("[" + " ".join(map(str, ids)) + "]")


if __name__ == "__main__":
    main()

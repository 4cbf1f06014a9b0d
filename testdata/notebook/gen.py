"""The notebook replica: the model and the reference tensors of ptport's embedded example.

Run with real PyTorch from the repository root:

    /usr/bin/python3 testdata/notebook/gen.py

It builds torch.nn.RNN(2, 4, 1), loads the notebook's numpy weights (w_ih is 2x4, so
weight_ih_l0 is its transpose; w_hh is the 4x4 identity; bias_ih = [0.1, 0, 0, 0];
bias_hh = 0), runs zeros of shape (2, 3, 2) (2 steps, batch 3, sequence first) from
h0 = zeros (1, 3, 4), prints y[0], y[1] and h_n as the notebook did, and writes
model.pt (the state_dict) and reference.pt (input, h0, output, h_n) beside this file.
"""
import os

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))

w_ih = np.array([[1, 2, 3, 4], [5, 6, 7, 8]], dtype=np.float32)
w_hh = np.eye(4, dtype=np.float32)
bias_ih = np.array([0.1, 0, 0, 0], dtype=np.float32)
bias_hh = np.zeros(4, dtype=np.float32)

rnn = torch.nn.RNN(2, 4, 1)
with torch.no_grad():
    rnn.weight_ih_l0.copy_(torch.from_numpy(w_ih.T.copy()))
    rnn.weight_hh_l0.copy_(torch.from_numpy(w_hh))
    rnn.bias_ih_l0.copy_(torch.from_numpy(bias_ih))
    rnn.bias_hh_l0.copy_(torch.from_numpy(bias_hh))

x = torch.zeros(2, 3, 2)
h0 = torch.zeros(1, 3, 4)
rnn.eval()
with torch.no_grad():
    y, hn = rnn(x, h0)

np.set_printoptions(precision=4, suppress=True)
print("y[0] =", y[0].numpy())
print("y[1] =", y[1].numpy())
print("h_n  =", hn.numpy())
assert torch.equal(hn[0], y[1])

torch.save(rnn.state_dict(), os.path.join(here, "model.pt"))
torch.save({"input": x, "h0": h0, "output": y, "h_n": hn}, os.path.join(here, "reference.pt"))

#!/usr/bin/python3
"""A char-level Embedding -> LSTM -> Linear model, trained by real PyTorch, and the text
it generates greedily: the fixture of the complete port in convert's example_test.go.

Run with Debian's python3-torch (1.13):

    /usr/bin/python3 testdata/charlstm/gen.py

It trains CharLSTM on TEXT for STEPS steps of Adam (seeded; one thread, so the same run
gives the same weights), then generates greedily as a service would: the prompt in one
call, then one character at a time, each call starting from the state the last left,
and writes

  checkpoint.pt   torch.save({"model": model.state_dict(), "chars": CHARS, "steps": STEPS,
                  "loss": final loss}), as a training script saves a checkpoint
  generated.txt   the prompt followed by the N_GENERATED characters PyTorch chose

and prints the smallest gap between the largest and the second largest logit over the
generation, so that a port whose logits are within 1e-6 of PyTorch's must choose the same
characters.
"""
import os

import torch

here = os.path.dirname(os.path.abspath(__file__))

TEXT = """\
It is a truth universally acknowledged, that a single man in possession of a good
fortune, must be in want of a wife. However little known the feelings or views of such
a man may be on his first entering a neighbourhood, this truth is so well fixed in the
minds of the surrounding families, that he is considered the rightful property of some
one or other of their daughters. My dear Mr. Bennet, said his lady to him one day, have
you heard that Netherfield Park is let at last? Mr. Bennet replied that he had not. But
it is, returned she; for Mrs. Long has just been here, and she told me all about it.
"""
CHARS = "".join(sorted(set(TEXT)))
EMBED, HIDDEN, LAYERS = 16, 48, 2
STEPS, SEQ, BATCH = 160, 48, 16
PROMPT, N_GENERATED = "It is a truth", 120


class CharLSTM(torch.nn.Module):
    def __init__(self, vocab):
        super().__init__()
        self.embedding = torch.nn.Embedding(vocab, EMBED)
        self.lstm = torch.nn.LSTM(EMBED, HIDDEN, num_layers=LAYERS)
        self.fc = torch.nn.Linear(HIDDEN, vocab)

    def forward(self, ids, state=None):
        out, state = self.lstm(self.embedding(ids), state)
        return self.fc(out), state


def main():
    torch.manual_seed(1234)
    torch.set_num_threads(1)
    ids = torch.tensor([CHARS.index(c) for c in TEXT])
    model = CharLSTM(len(CHARS))
    opt = torch.optim.Adam(model.parameters(), lr=0.01)
    g = torch.Generator().manual_seed(5678)
    for step in range(STEPS):
        starts = torch.randint(0, len(ids) - SEQ - 1, (BATCH,), generator=g)
        x = torch.stack([ids[s:s + SEQ] for s in starts], dim=1)  # (SEQ, BATCH)
        y = torch.stack([ids[s + 1:s + SEQ + 1] for s in starts], dim=1)
        logits, _ = model(x)
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, len(CHARS)), y.reshape(-1))
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    text, gaps = PROMPT, []
    with torch.no_grad():
        logits, state = model(torch.tensor([CHARS.index(c) for c in PROMPT]))  # unbatched (L,)
        for _ in range(N_GENERATED):
            last = logits[-1]
            top = last.topk(2).values
            gaps.append(float(top[0] - top[1]))
            nxt = int(last.argmax())
            text += CHARS[nxt]
            logits, state = model(torch.tensor([nxt]), state)
    torch.save({"model": model.state_dict(), "chars": CHARS, "steps": STEPS, "loss": float(loss)},
               os.path.join(here, "checkpoint.pt"))
    with open(os.path.join(here, "generated.txt"), "w") as f:
        f.write(text)
    print("final loss %.4f; generated %r; smallest top-2 logit gap %.3g" % (float(loss), text, min(gaps)))


if __name__ == "__main__":
    main()

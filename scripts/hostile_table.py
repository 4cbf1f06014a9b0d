#!/usr/bin/python3
"""Prints the README's table of hostile files: what PyTorch (or the Python reader of the
format) does with each, beside what ptport does, from testdata/hostile/torch.json
(scripts/hostile_torch.py) and a run of the command's hostile test:

    PTPORT_HOSTILE_REPORT=/tmp/ptport.jsonl go test ./cmd/ptport -run TestHostileCommands -count=1
    /usr/bin/python3 scripts/hostile_table.py /tmp/ptport.jsonl
"""
import json
import os
import sys

root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
hostile = os.path.join(root, "testdata", "hostile")
with open(os.path.join(hostile, "cases.json")) as f:
    cases = json.load(f)
with open(os.path.join(hostile, "torch.json")) as f:
    ref = json.load(f)
runs = {}
with open(sys.argv[1]) as f:
    for line in f:
        r = json.loads(line)
        runs.setdefault(r["case"], []).append(r)


def cell(s):
    """s for a table cell: control characters escaped, pipes quoted."""
    out = "".join(c if c.isprintable() else repr(c)[1:-1] for c in s)
    return out.replace("|", "\\|")


def reason(stderr):
    """The end of ptport's message: what it refused and why."""
    msg = stderr.removeprefix("ptport: ")
    for sep in (".pt: ", ".npz: ", ".json: ", ".safetensors: "):
        if sep in msg:
            msg = msg.split(sep, 1)[1]
    return msg if len(msg) <= 90 else msg[:87] + "..."


print(f"| § | class | case | torch {ref['torch'].split('a')[0]} `torch.load(weights_only=True)` (or the format's Python reader), time with the import of torch | ptport |")
print("|---|---|---|---|---|")
for c in sorted(cases, key=lambda c: (c["section"], c["klass"], c["name"])):
    if c["reader"] == "aux":
        continue
    r = ref["cases"].get(c["name"], {})
    theirs = f"{r.get('outcome', '?')[:70]} ({r.get('seconds', '?')} s, {r.get('peak_rss_mib', '?')} MiB)"
    if r.get("reader", "").startswith("torch") is False:
        theirs = f"{r.get('reader')}: {theirs}"
    ours = []
    for run in sorted(runs.get(c["name"], []), key=lambda x: x["args"][0]):
        what = "exit 0" if run["exit"] == 0 else f"exit {run['exit']}, {reason(run['stderr'])}"
        ours.append(f"`{run['args'][0]}`: {what} ({run['seconds']:.2f} s, {run['peak_rss_mib']} MiB)")
    print(f"| {c['section']} | {cell(c['klass'])} | {cell(c['claim'])} | {cell(theirs)} | {'; '.join(ours)} |")

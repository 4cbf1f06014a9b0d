"""ptport's conversions of training checkpoints, loaded back by PyTorch as users load them.

    /usr/bin/python3 scripts/check_training.py PTPORT

For each file of testdata/training (see its gen.py), converts it with PTPORT as a user
would to take just the model (--select, --strip-prefix, --exclude), to each output
format, and loads the result into the module the weights came from with
load_state_dict(strict=True), requiring every value to equal the original's. Then:

- tied weights: in .pt output the tied names share one storage, as in the input; in
  safetensors (which cannot alias) they are copies, listed in the metadata;
- sharded output (--max-shard-size): the shards and model.safetensors.index.json are
  read as transformers reads them (the index's weight_map, each shard a safetensors
  file), the layout is compared with Hugging Face's split rules (in key order, a new
  shard when the next tensor would pass the limit, names model-0000K-of-0000N, the
  index's metadata.total_size), and ptport reads the index back as one checkpoint;
- sharded input: both kinds of index (pytorch_model.bin.index.json,
  model.safetensors.index.json) open as one checkpoint, and a lone shard is refused.

The Python `safetensors` package is not in Debian 12, so safetensors files are read
here by the format's rules (an 8-byte header size, the JSON header, the bytes).
Prints one line per case and exits 1 on any failure.
"""
import fnmatch
import json
import os
import subprocess
import sys
import tempfile

import numpy as np
import torch

here = os.path.dirname(os.path.abspath(__file__))
data = os.path.join(here, "..", "testdata", "training")
sys.path.insert(0, data)
import gen  # noqa: E402  the modules the fixtures came from

NP = {"F64": np.float64, "F32": np.float32, "F16": np.float16, "I64": np.int64,
      "I32": np.int32, "I16": np.int16, "I8": np.int8, "U8": np.uint8, "BOOL": np.bool_}


def read_safetensors(path):
    """Tensors and metadata of a safetensors file, checked as the format requires: the
    offsets tile the data exactly, in order, with no hole and no overlap."""
    with open(path, "rb") as f:
        raw = f.read()
    n = int.from_bytes(raw[:8], "little")
    header = json.loads(raw[8:8 + n])
    body = raw[8 + n:]
    meta = header.pop("__metadata__", {})
    spans = sorted((e["data_offsets"][0], e["data_offsets"][1], k) for k, e in header.items())
    end = 0
    for b, e, k in spans:
        if b != end:
            raise ValueError(f"{path}: {k} starts at {b}, want {end} (a hole or an overlap)")
        end = e
    if end != len(body):
        raise ValueError(f"{path}: data ends at {end} of {len(body)} bytes")
    out = {}
    for k, e in header.items():
        b, end = e["data_offsets"]
        a = np.frombuffer(body[b:end], NP[e["dtype"]]).reshape(e["shape"])
        out[k] = torch.from_numpy(a.copy())
    return out, meta


def read_output(path):
    if path.endswith(".safetensors"):
        return read_safetensors(path)[0]
    if path.endswith(".npz"):
        z = np.load(path)
        return {k: torch.from_numpy(z[k]) for k in z.files if k != "__metadata__"}
    if path.endswith(".pt"):
        return torch.load(path, weights_only=True)
    raise ValueError(path)


def ptport(exe, *args):
    r = subprocess.run([exe, *args], capture_output=True, text=True)
    return r.returncode, r.stdout + r.stderr


def module(case):
    return getattr(gen, case["module"])(**case.get("kwargs", {}))


def strict_load(case, sd, want):
    """Loads sd into a new module strictly and compares with want (name -> tensor)."""
    m = module(case)
    m.load_state_dict(sd, strict=True)  # raises on a missing or unexpected key, or a shape
    got = m.state_dict()
    errors = [f"{k}: values differ" for k in want if not torch.equal(got[k], want[k])]
    return errors


def original_model(name, case):
    obj = torch.load(os.path.join(data, name))
    if name == "adam.pt":
        return obj["model_state_dict"]
    if name == "lightning.ckpt":
        return {k[len("model."):]: v for k, v in obj["state_dict"].items()}
    if name == "dataparallel.pt":
        return {k[len("module."):]: v for k, v in obj.items()}
    return obj


def selection_flags(case):
    flags = []
    for s in case.get("select", []):
        flags += ["--select", s]
    for p in case.get("strip", []):
        flags += ["--strip-prefix", p]
    return flags


def check_selection(exe, tmp, name, case):
    errors = []
    want = original_model(name, case)
    for ext in ("safetensors", "npz", "pt"):
        out = os.path.join(tmp, f"{name}.{ext}")
        rc, msg = ptport(exe, "convert", os.path.join(data, name), "-o", out, *selection_flags(case))
        if rc != 0:
            errors.append(f"{ext}: ptport exited {rc}: {msg.strip()}")
            continue
        try:
            errors += [f"{ext}: {e}" for e in strict_load(case, read_output(out), want)]
        except Exception as e:  # load_state_dict's own report
            errors.append(f"{ext}: {e}")
    if "exclude" in case:
        out = os.path.join(tmp, f"{name}.excluded.safetensors")
        flags = selection_flags(case)
        for g in case["exclude"]:
            flags += ["--exclude", g]
        rc, msg = ptport(exe, "convert", os.path.join(data, name), "-o", out, *flags)
        if rc != 0:
            errors.append(f"--exclude: ptport exited {rc}: {msg.strip()}")
        else:
            got = set(read_output(out))
            excluded = {k for k in want if any(fnmatch.fnmatchcase(k, g) for g in case["exclude"])}
            if excluded != set(case["excluded"]) or got != set(want) - excluded:
                errors.append(f"--exclude: kept {sorted(got)}")
            m = module(case)
            missing, unexpected = m.load_state_dict(read_output(out), strict=False)
            if sorted(missing) != sorted(excluded) or unexpected:
                errors.append(f"--exclude: missing {missing}, unexpected {unexpected}")
    return errors


def check_tied(exe, tmp, name, case):
    errors = []
    want = torch.load(os.path.join(data, name))
    # .pt keeps one storage for the tied names
    out = os.path.join(tmp, "tied.pt")
    rc, msg = ptport(exe, "convert", os.path.join(data, name), "-o", out)
    if rc != 0:
        return [f"pt: ptport exited {rc}: {msg.strip()}"]
    sd = torch.load(out, weights_only=True)
    for group in case["shared"]:
        ptrs = {sd[k].storage().data_ptr() for k in group}
        if len(ptrs) != 1:
            errors.append(f"pt: {group} are {len(ptrs)} storages, want one")
    m = gen.TiedLM()
    m.load_state_dict(sd, strict=True)
    if m.decoder.weight.data_ptr() != m.encoder.weight.data_ptr():
        errors.append("pt: the loaded module is not tied")
    errors += [f"pt: {k}: values differ" for k in want if not torch.equal(sd[k], want[k])]
    # safetensors: copies, listed in the metadata
    out = os.path.join(tmp, "tied.safetensors")
    rc, msg = ptport(exe, "convert", os.path.join(data, name), "-o", out)
    if rc != 0:
        return errors + [f"safetensors: ptport exited {rc}: {msg.strip()}"]
    sd, meta = read_safetensors(out)
    errors += [f"safetensors: {e}" for e in strict_load(case, sd, want)]
    shared = json.loads(meta.get("ptport.shared", "[]"))
    if sorted(sorted(g) for g in shared) != sorted(case["shared"]):
        errors.append(f"safetensors: metadata ptport.shared = {shared}, want {case['shared']}")
    rc, msg = ptport(exe, "inspect", out)
    if "decoder.weight" not in msg or "shared" not in msg:
        errors.append(f"inspect does not show the shared tensors: {msg}")
    return errors


def hf_split(sizes, limit):
    """Hugging Face's split_state_dict_into_shards_factory: (shards as lists of names,
    total_size)."""
    shards, cur, cur_size, total = [], [], 0, 0
    for k, n in sizes:
        if n > limit:
            total += n
            shards.append([k])
            continue
        if cur_size + n > limit:
            shards.append(cur)
            cur, cur_size = [], 0
        cur.append(k)
        cur_size += n
        total += n
    if cur:
        shards.append(cur)
    return shards, total


def check_sharded_output(exe, tmp):
    errors = []
    src = os.path.join(data, "lightning.ckpt")
    case = json.load(open(os.path.join(data, "cases.json")))["lightning.ckpt"]
    want = original_model("lightning.ckpt", case)
    limit = 1000
    folder = os.path.join(tmp, "sharded")
    os.makedirs(folder)
    rc, msg = ptport(exe, "convert", src, "-o", os.path.join(folder, "model.safetensors"),
                     "--select", "state_dict", "--strip-prefix", "model.", "--max-shard-size", f"{limit}B")
    if rc != 0:
        return [f"ptport exited {rc}: {msg.strip()}"]
    index_path = os.path.join(folder, "model.safetensors.index.json")
    index = json.load(open(index_path))
    # Hugging Face's layout for the same tensors, in the same (state_dict) order
    sizes = [(k, v.numel() * v.element_size()) for k, v in want.items()]
    shards, total = hf_split(sizes, limit)
    n = len(shards)
    want_map = {k: f"model-{i + 1:05d}-of-{n:05d}.safetensors" for i, s in enumerate(shards) for k in s}
    if index.get("weight_map") != want_map:
        errors.append(f"weight_map {index.get('weight_map')}, want {want_map}")
    if index.get("metadata", {}).get("total_size") != total:
        errors.append(f"metadata.total_size {index.get('metadata')}, want {total}")
    files = sorted(os.listdir(folder))
    if files != sorted(set(want_map.values()) | {"model.safetensors.index.json"}):
        errors.append(f"files {files}")
    # read as transformers' load_sharded_checkpoint does
    sd = {}
    for shard in sorted(set(index["weight_map"].values())):
        part, meta = read_safetensors(os.path.join(folder, shard))
        if meta.get("format") != "pt":
            errors.append(f"{shard}: __metadata__.format {meta.get('format')!r}, want 'pt'")
        for k in part:
            if index["weight_map"].get(k) != shard:
                errors.append(f"{k} is in {shard}, the index says {index['weight_map'].get(k)}")
        sd.update(part)
    try:
        errors += strict_load(case, sd, want)
    except Exception as e:
        errors.append(str(e))
    # ptport reads the index as one checkpoint
    back = os.path.join(tmp, "back.pt")
    rc, msg = ptport(exe, "convert", index_path, "-o", back)
    if rc != 0:
        errors.append(f"reading the index back: ptport exited {rc}: {msg.strip()}")
    else:
        errors += [f"read back: {e}" for e in strict_load(case, torch.load(back, weights_only=True), want)]
    # one shard is not the model
    rc, msg = ptport(exe, "convert", os.path.join(folder, want_map[sizes[0][0]]), "-o", os.path.join(tmp, "one.pt"))
    if rc != 2 or "index" not in msg:
        errors.append(f"a lone shard: exit {rc}: {msg.strip()}")
    return errors


def check_sharded_input(exe, tmp, name, case):
    errors = []
    folder = os.path.dirname(os.path.join(data, name))
    index = json.load(open(os.path.join(data, name)))
    want = {}
    for shard in sorted(set(index["weight_map"].values())):
        p = os.path.join(folder, shard)
        want.update(torch.load(p) if p.endswith(".bin") else read_safetensors(p)[0])
    out = os.path.join(tmp, os.path.basename(folder) + ".safetensors")
    rc, msg = ptport(exe, "convert", os.path.join(data, name), "-o", out)
    if rc != 0:
        return [f"ptport exited {rc}: {msg.strip()}"]
    errors += strict_load(case, read_output(out), want)
    first = sorted(set(index["weight_map"].values()))[0]
    rc, msg = ptport(exe, "convert", os.path.join(folder, first), "-o", os.path.join(tmp, "lone.safetensors"))
    if rc != 2 or os.path.basename(name) not in msg:
        errors.append(f"a lone shard {first}: exit {rc}, want 2 naming the index: {msg.strip()}")
    return errors


def main():
    exe = os.path.abspath(sys.argv[1])
    cases = json.load(open(os.path.join(data, "cases.json")))
    results = []
    with tempfile.TemporaryDirectory() as tmp:
        for name, case in sorted(cases.items()):
            if name == "tied.pt":
                results.append((name + " (tied)", check_tied(exe, tmp, name, case)))
            elif name.endswith(".index.json"):
                results.append((name + " (sharded input)", check_sharded_input(exe, tmp, name, case)))
            else:
                results.append((name + " (" + " ".join(selection_flags(case)) + ")",
                                check_selection(exe, tmp, name, case)))
        results.append(("--max-shard-size (sharded output)", check_sharded_output(exe, tmp)))
    failed = 0
    for what, errors in results:
        print(("FAIL " if errors else "ok   ") + what)
        for e in errors:
            print("     " + e)
        failed += bool(errors)
    print(f"{len(results) - failed} passed, {failed} failed")
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()

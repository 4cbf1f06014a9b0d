#!/usr/bin/env bash
# The README's Kubernetes Indexed Job and GNU parallel recipes, run as printed (taken
# from README.md) on a tree of good, broken and hostile checkpoints. (The Slurm recipe
# has a cluster of its own: scripts/slurm_e2e.sh.)
#
# Kubernetes: the Job's YAML is parsed and checked (Indexed, --shard N equal to
# completions, a restart policy that reruns a failed pod), then its container command is
# run by sh -c for every JOB_COMPLETION_INDEX, twice (a restarted pod), with the
# volume's path /data bound to this run's folder in a private mount namespace.
# GNU parallel (installed from Debian if missing): its command line, with one shard
# killed with SIGKILL while it writes (stopped first, so that it is certainly mid-write),
# then its rerun line.
# Both: every good input converted, byte-identical to a plain local batch; broken inputs
# failed in the reports without failing the run; no temporary left.
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
tmp=$(mktemp -d)
created_data=
cleanup() {
	[ -n "$created_data" ] && rmdir /data 2>/dev/null
	rm -rf "$tmp"
}
trap cleanup EXIT
go build -o "$tmp/bin/ptport" ./cmd/ptport
export PATH="$tmp/bin:$PATH"

/usr/bin/python3 - README.md "$tmp" <<'PY'
import re, sys
text, tmp = open(sys.argv[1]).read(), sys.argv[2]
def block(after, lang, must):
    at = text.find(after)
    if at < 0:
        sys.exit(f"README.md: no {after!r}")
    for b in re.findall(r"```" + lang + r"\n(.*?)```", text[at:], re.S):
        if must in b:
            return b
    sys.exit(f"README.md: no {lang} block with {must!r} after {after!r}")
open(f"{tmp}/job.yaml", "w").write(block("A Kubernetes Indexed Job", "yaml", "kind: Job"))
open(f"{tmp}/parallel.sh", "w").write(block("With GNU parallel", "bash", "parallel"))
PY

# A tree: good checkpoints, one of them large, and broken and hostile files.
mktree() { # folder
	/usr/bin/python3 - "$1" "$repo" <<'PY'
import os, shutil, sys
import torch
root, repo = sys.argv[1], sys.argv[2]
torch.manual_seed(1)
for i in range(24):
    os.makedirs(f"{root}/zoo/m{i % 5}", exist_ok=True)
    torch.save(torch.nn.LSTM(4, 8).state_dict(), f"{root}/zoo/m{i % 5}/model{i}.pt")
torch.save({"w": torch.zeros(48 << 20)}, f"{root}/zoo/big.pt")  # 192 MiB
os.makedirs(f"{root}/zoo/bad")
for name in ["garbage.pt", "truncated_zip.pt", "evil_system.pt", "empty.pt"]:
    shutil.copy(f"{repo}/testdata/pickle/{name}", f"{root}/zoo/bad/{name}")
PY
}
good_count=25
bad_count=4

verify() { # folder: outputs of folder/zoo in folder/converted, reports in folder/reports
	local d=$1
	[ -z "$(find "$d" -name '.ptport-*')" ] || { echo "temporaries left: $(find "$d" -name '.ptport-*')"; return 1; }
	[ "$(find "$d/converted" -type f | wc -l)" = "$good_count" ] || { echo "$(find "$d/converted" -type f | wc -l) outputs, want $good_count"; return 1; }
	"$tmp/bin/ptport" batch "$d/zoo" -o "$d/local" --allow-failed --quiet >/dev/null 2>&1
	diff -r "$d/converted" "$d/local" >/dev/null || { echo "outputs differ from a local batch"; return 1; }
	rm -rf "$d/local"
	[ "$(cat "$d"/reports/*.jsonl | grep -c '"status":"failed"')" = "$bad_count" ] || { echo "the reports do not list the $bad_count bad inputs as failed"; return 1; }
}

echo "== Kubernetes Indexed Job"
n=$(/usr/bin/python3 - "$tmp/job.yaml" <<'PY'
import re, sys, yaml
job = yaml.safe_load(open(sys.argv[1]))
assert job["apiVersion"] == "batch/v1" and job["kind"] == "Job", "not a batch/v1 Job"
spec = job["spec"]
assert spec["completionMode"] == "Indexed", "not an Indexed Job"
pod = spec["template"]["spec"]
assert pod["restartPolicy"] in ("OnFailure", "Never"), pod["restartPolicy"]
c = pod["containers"][0]
cmd = c["command"] + c["args"]
assert cmd[:2] == ["sh", "-c"] and len(cmd) == 3, cmd
shard = re.search(r"--shard \$JOB_COMPLETION_INDEX/(\d+)", cmd[2])
assert shard and int(shard.group(1)) == spec["completions"], "--shard N is not completions"
m = re.search(r"--jobs (\d+)", cmd[2])
cpu = c.get("resources", {}).get("limits", {}).get("cpu")
assert m and cpu and int(m.group(1)) <= int(cpu), "--jobs is more than the pod's CPUs"
assert any(v["mountPath"] == "/data" for v in c["volumeMounts"]), "no volume at /data"
open(sys.argv[1] + ".cmd", "w").write(cmd[2])
print(spec["completions"])
PY
)
mkdir -p "$tmp/k8s"
mktree "$tmp/k8s"
if [ ! -d /data ]; then
	mkdir /data
	created_data=1
fi
# Every index, then every index again as restarted pods would: each exits 0.
unshare --mount --propagation private -- sh -c '
	mount --bind "$1" /data || exit 1
	for pass in 1 2; do
		i=0
		while [ $i -lt "$2" ]; do
			JOB_COMPLETION_INDEX=$i sh -c "$(cat "$3")" 2>"$4/k8s-$i.err" || { echo "index $i exited $?"; cat "$4/k8s-$i.err"; exit 1; }
			i=$((i + 1))
		done
	done' _ "$tmp/k8s" "$n" "$tmp/job.yaml.cmd" "$tmp"
if cat "$tmp"/k8s/reports/*.jsonl | grep -q '"status":"ok"'; then
	echo "FAIL: the restarted pods converted again"
	exit 1
fi
verify "$tmp/k8s" || { echo "FAIL: Kubernetes recipe"; exit 1; }
echo "ok: $n indexes, twice"

echo "== GNU parallel"
if ! command -v parallel >/dev/null; then
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends parallel >/dev/null
fi
mkdir -p "$tmp/par"
mktree "$tmp/par"
first=$(grep -v '^parallel --retry' "$tmp/parallel.sh")
rerun=$(grep '^parallel --retry' "$tmp/parallel.sh" | sed 's/ *#.*//')
[ -n "$rerun" ] || { echo "FAIL: the README's parallel block has no rerun line"; exit 1; }
cd "$tmp/par"
# The run, with the shard that holds big.pt killed while it writes: the watcher stops
# the ptport process that holds big's temporary open, makes sure, while it is stopped,
# that the temporary is still there and still open in it (not yet renamed: mid-write),
# and only then kills it with SIGKILL; if the write ended before it could be stopped, the
# process continues and the run is made again from the start, up to 5 times.
killed=
for attempt in 1 2 3 4 5; do
	rm -rf converted reports convert.log
	bash -c "$first" >"$tmp/par.out" 2>&1 &
	runner=$!
	caught=$(/usr/bin/python3 - "$runner" <<'PY'
import glob, os, signal, sys, time
runner = int(sys.argv[1])

def state(pid):
    try:
        with open(f"/proc/{pid}/stat") as f:
            return f.read().rsplit(")", 1)[1].split()[0]
    except OSError:
        return "gone"

def holders(path):
    """The ptport processes with path open."""
    for p in os.listdir("/proc"):
        if not p.isdigit():
            continue
        try:
            if open(f"/proc/{p}/comm").read().strip() != "ptport":
                continue
            if any(os.readlink(f"/proc/{p}/fd/{fd}") == path for fd in os.listdir(f"/proc/{p}/fd")):
                yield int(p)
        except OSError:
            pass

while state(runner) not in ("Z", "gone"):
    for temp in glob.glob(os.path.abspath("converted") + "/**/.ptport-tmp-*big*", recursive=True):
        for pid in holders(temp):
            os.kill(pid, signal.SIGSTOP)
            while state(pid) not in ("T", "t", "Z", "gone"):
                time.sleep(0.001)
            if os.path.exists(temp) and pid in holders(temp):
                os.kill(pid, signal.SIGKILL)
                print(pid, temp)
                sys.exit(0)
            os.kill(pid, signal.SIGCONT)
    time.sleep(0.002)
PY
) || true
	status=0
	wait "$runner" || status=$?
	if [ -n "$caught" ]; then
		killed=${caught%% *}
		break
	fi
	echo "(attempt $attempt: big.pt was written before its job could be stopped mid-write; again)"
done
[ -n "$killed" ] || { echo "FAIL: the shard holding big.pt was not caught mid-write in 5 runs"; exit 1; }
[ "$status" != 0 ] || { echo "FAIL: parallel exited 0 after job $killed was killed mid-write (${caught#* })"; exit 1; }
bash -c "$rerun" >>"$tmp/par.out" 2>&1 || { echo "FAIL: the rerun line exited $?"; cat "$tmp/par.out"; exit 1; }
cd "$repo"
verify "$tmp/par" || { echo "FAIL: GNU parallel recipe"; cat "$tmp/par.out"; exit 1; }
echo "ok: a job killed mid-write (${caught##*/}), then rerun"
echo "2 passed, 0 failed"

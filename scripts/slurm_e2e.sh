#!/usr/bin/env bash
# The README's Slurm recipe, run as printed on a real Slurm cluster: Debian's slurmctld,
# slurmd, slurm-client and munge, installed if missing, one node on localhost
# (select/cons_tres, proctrack/linuxproc, task/none, no cgroups).
#
# The recipe's batch script and its submission commands are taken from README.md (the
# ```bash blocks under "A Slurm array"), so the two cannot drift apart. They name
# /scratch; slurmd runs in a mount namespace of its own where /scratch is this run's
# folder, so nothing outside it is touched. The tree under /scratch/zoo holds good
# checkpoints of every kind, broken files and hostile ones (code-running globals,
# unsafe names). While the array runs, one task is killed with SIGKILL (its temporary
# stays behind), one is requeued as preemption would, one is cancelled (SIGTERM), and
# both stopped ones are run again; an earlier run with another shard layout is killed
# mid-write too. Then it checks:
#   - every good input converted exactly once: one output each, never rewritten,
#     reported ok once over every attempt's report; broken and hostile inputs failed in
#     the reports, with no output and every task still COMPLETED (--allow-failed);
#   - outputs byte-identical to a plain local `ptport batch` of the same tree, and their
#     tensors byte-equal to what torch.load reads;
#   - no partial file, no temporary of any shard layout left (the recipe's next step runs
#     `ptport batch --clean` after the array, by its afterok dependency);
#   - the whole array submitted again converts nothing and changes no output.
#
# Usage: scripts/slurm_e2e.sh   (as root; KEEP=1 leaves the cluster and the tree up)
set -euo pipefail
cd "$(dirname "$0")/.."
repo=$PWD
[ "$(id -u)" = 0 ] || { echo "slurm_e2e.sh: needs root (it installs and starts Slurm)" >&2; exit 2; }

# One fixed folder, so that a run finds and stops a cluster an earlier, killed run left.
base=${PTPORT_SLURM_DIR:-/var/tmp/ptport-slurm-e2e}
export SLURM_CONF=$base/etc/slurm.conf
ctld_port=17817 # not Slurm's default ports, so that a cluster of the machine's own is left alone
slurmd_port=17818
started=$(date +%s)

log() { printf '== %s (%ds)\n' "$*" $(($(date +%s) - started)); }
fail() {
	echo "slurm_e2e.sh: FAIL: $*" >&2
	for f in "$base"/submit/*.out; do
		[ -e "$f" ] && { echo "--- $f" >&2; tail -n 20 "$f" >&2; }
	done
	exit 1
}

install_slurm() {
	local need=0 c
	for c in slurmctld slurmd sbatch scontrol munged; do
		command -v "$c" >/dev/null || need=1
	done
	[ "$need" = 0 ] && return
	log "installing slurmctld slurmd slurm-client munge"
	# The packages' services are not started: this script starts its own daemons.
	local policy=
	if [ ! -e /usr/sbin/policy-rc.d ]; then
		policy=/usr/sbin/policy-rc.d
		printf '#!/bin/sh\nexit 101\n' >"$policy"
		chmod 755 "$policy"
	fi
	apt-get update -qq
	DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
		slurmctld slurmd slurm-client munge >/dev/null
	[ -n "$policy" ] && rm -f "$policy"
	return 0
}

# stop_daemons stops the daemons whose pid files are in $base/run, if they still run
# the program the file is named for.
stop_daemons() {
	local name pid i
	if [ -e "$SLURM_CONF" ] && [ -e "$base/run/slurmctld.pid" ]; then
		scancel --user=root --quiet 2>/dev/null || true
	fi
	for name in slurmd slurmctld munged; do
		[ -e "$base/run/$name.pid" ] || continue
		pid=$(cat "$base/run/$name.pid")
		if [ -n "$pid" ] && [ "$(cat /proc/"$pid"/comm 2>/dev/null)" = "$name" ]; then
			kill "$pid" 2>/dev/null || true
			for i in $(seq 50); do
				[ -e /proc/"$pid" ] || break
				sleep 0.1
			done
			kill -9 "$pid" 2>/dev/null || true
		fi
		rm -f "$base/run/$name.pid"
	done
	# Job steps outlive slurmd: end those of this cluster (they run in its namespace,
	# under its spool folder).
	for pid in $(pgrep -x slurmstepd || true); do
		if grep -qs "$base" /proc/"$pid"/cmdline /proc/"$pid"/environ; then
			kill -9 "$pid" 2>/dev/null || true
		fi
	done
}

cleanup() {
	local rc=$?
	if [ "${KEEP:-0}" = 1 ]; then
		echo "KEEP=1: cluster left running; SLURM_CONF=$SLURM_CONF; stop it by running this script with STOP=1"
		exit $rc
	fi
	stop_daemons
	[ -e "$base/created-scratch" ] && rmdir /scratch 2>/dev/null
	rm -rf "$base"
	exit $rc
}

start_cluster() {
	local host
	host=$(hostname -s)
	mkdir -p "$base"/{etc,run,munge,state,spool,log,scratch,submit,bin}
	chown munge:munge "$base/munge" "$base/run"
	chmod 700 "$base/munge"
	chmod 755 "$base/run"
	# munge: a key, a socket and a log of this cluster's own.
	runuser -u munge -- mungekey --create --keyfile="$base/munge/munge.key" --force
	runuser -u munge -- munged --socket="$base/run/munge.socket" \
		--key-file="$base/munge/munge.key" --pid-file="$base/run/munged.pid" \
		--log-file="$base/munge/munged.log" --seed-file="$base/munge/munged.seed"
	munge -S "$base/run/munge.socket" -n | unmunge -S "$base/run/munge.socket" >/dev/null ||
		fail "munge does not work"
	cat >"$SLURM_CONF" <<-EOF
		ClusterName=ptporte2e
		SlurmctldHost=$host(127.0.0.1)
		SlurmctldPort=$ctld_port
		SlurmdPort=$slurmd_port
		SlurmUser=root
		AuthType=auth/munge
		CredType=cred/munge
		# cred_expire: a requeued task may start again 5 s after it ended (default 120)
		AuthInfo=socket=$base/run/munge.socket,cred_expire=5
		SelectType=select/cons_tres
		SelectTypeParameters=CR_Core
		ProctrackType=proctrack/linuxproc
		TaskPlugin=task/none
		JobAcctGatherType=jobacct_gather/none
		AccountingStorageType=accounting_storage/none
		JobCompType=jobcomp/none
		MpiDefault=none
		SchedulerParameters=sched_interval=2,bf_interval=2
		KillWait=5
		MinJobAge=3600
		ReturnToService=2
		StateSaveLocation=$base/state
		SlurmdSpoolDir=$base/spool
		SlurmctldPidFile=$base/run/slurmctld.pid
		SlurmdPidFile=$base/run/slurmd.pid
		SlurmctldLogFile=$base/log/slurmctld.log
		SlurmdLogFile=$base/log/slurmd.log
		NodeName=$host NodeAddr=127.0.0.1 CPUs=$(nproc) State=UNKNOWN
		PartitionName=e2e Nodes=$host Default=YES MaxTime=INFINITE State=UP
	EOF
	slurmctld -f "$SLURM_CONF"
	# slurmd, and so every job, sees this run's folder at /scratch, and only there.
	if [ ! -d /scratch ]; then
		mkdir /scratch
		touch "$base/created-scratch"
	fi
	unshare --mount --propagation private -- sh -c \
		'mount --bind "$1" /scratch && exec slurmd -f "$2"' _ "$base/scratch" "$SLURM_CONF"
	local i
	for i in $(seq 100); do
		[ "$(sinfo -h -o %t 2>/dev/null)" = idle ] && return
		sleep 0.2
	done
	tail -n 20 "$base"/log/*.log >&2
	fail "the node did not come up"
}

if [ "${STOP:-0}" = 1 ]; then
	stop_daemons
	[ -e "$base/created-scratch" ] && rmdir /scratch 2>/dev/null
	rm -rf "$base"
	exit 0
fi

install_slurm
log "starting a one-node cluster in $base"
stop_daemons
[ -e "$base/created-scratch" ] && rmdir /scratch 2>/dev/null
rm -rf "$base"
trap cleanup EXIT
start_cluster
srun --quiet true || fail "srun does not run a step"

log "building ptport"
go build -o "$base/bin/ptport" ./cmd/ptport
export PATH="$base/bin:$PATH" # "ptport on every node's PATH": sbatch passes it on

# ---------------------------------------------------------------------------------------
# The recipe, from the README.
recipe=$base/submit/convert.sbatch
submit=$base/submit/submit.sh
/usr/bin/python3 - README.md "$recipe" "$submit" <<'PY'
import re, sys
text = open(sys.argv[1]).read()
at = text.find("A Slurm array")
if at < 0:
    sys.exit("README.md: no 'A Slurm array' section")
blocks = re.findall(r"```bash\n(.*?)```", text[at:], re.S)
script = next((b for b in blocks if "#SBATCH --array" in b), None)
sub = next((b for b in blocks if "sbatch" in b and "#SBATCH" not in b), None)
if script is None or sub is None:
    sys.exit("README.md: the Slurm section needs the batch script and its submission block")
open(sys.argv[2], "w").write(script)
open(sys.argv[3], "w").write(sub)
PY
shards=$(sed -n 's/^#SBATCH --array=0-\([0-9]*\)$/\1/p' "$recipe")
[ -n "$shards" ] || fail "the recipe has no '#SBATCH --array=0-N'"
shards=$((shards + 1))
grep -q "/$shards" "$recipe" || fail "the recipe's --shard does not divide by the array's $shards tasks"
echo "recipe ($shards tasks):"
sed 's/^/  | /' "$recipe"
echo "submission:"
sed 's/^/  | /' "$submit"

# ---------------------------------------------------------------------------------------
log "writing the tree under /scratch/zoo"
zoo=$base/scratch/zoo
out=$base/scratch/converted
/usr/bin/python3 - "$zoo" "$shards" "$repo" <<'PY'
import json, os, shutil, sys
import torch

zoo, shards, repo = sys.argv[1], int(sys.argv[2]), sys.argv[3]
torch.manual_seed(0)
good, bad = [], []

def fnv(rel):  # the shard of an input: FNV-1a 64 of its path below the root
    h = 0xcbf29ce484222325
    for b in rel.encode():
        h = ((h ^ b) * 0x100000001b3) & 0xFFFFFFFFFFFFFFFF
    return h % shards

def put(rel, obj=None, copy=None, ok=True, **kw):
    path = os.path.join(zoo, rel)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    if copy:
        shutil.copy(os.path.join(repo, copy), path)
    else:
        torch.save(obj, path, **kw)
    (good if ok else bad).append(rel)

for i in range(40):  # small models of each kind, in nested folders
    kind = [torch.nn.RNN, torch.nn.LSTM, torch.nn.GRU][i % 3]
    m = kind(8, 16, num_layers=1 + i % 2)
    put(f"team{i % 4}/run{i}/model.pt", m.state_dict())
for i in range(6):
    m = torch.nn.LSTM(8, 16)
    opt = torch.optim.Adam(m.parameters())
    m(torch.randn(3, 2, 8))[0].sum().backward()
    opt.step()
    put(f"ckpt/epoch{i}.ckpt", {"epoch": i, "model_state_dict": m.state_dict(),
                                "optimizer_state_dict": opt.state_dict()})
put("legacy/old.pth", torch.nn.GRU(4, 4).state_dict(), _use_new_zipfile_serialization=False)
put("with space/model one.pt", {"w": torch.randn(4, 4)})
put("copied/tensor.pt", copy="testdata/pickle/views.pt")
# Broken and hostile inputs: each must fail, in the reports, without stopping its task.
for name in ["empty.pt", "garbage.pt", "truncated_zip.pt", "truncated_legacy.pt",
             "evil_system.pt", "evil_popen.pt", "evil_eval.pt", "offset_past_end.pt",
             "huge_binbytes.pt"]:
    put(f"bad/{name}", copy=f"testdata/pickle/{name}", ok=False)
put("bad/esc\x1b[2Jname\n.pt", copy="testdata/pickle/evil_system.pt", ok=False)

# Three shards with a dozen 64 MiB inputs each, so that their tasks run long enough to
# be stopped while they write; and one more large input for the other shard layout.
big, per, i = {}, 12, 0
while len(big) < 3 or any(len(v) < per for v in big.values()):
    rel = f"big/layer{i}.pt"
    s = fnv(rel)
    if (s in big or len(big) < 3) and len(big.setdefault(s, [])) < per:
        put(rel, {"w": torch.zeros(16 << 20)})  # 64 MiB
        big[s].append(rel)
    i += 1
put("big/other.pt", {"w": torch.zeros(48 << 20)})  # 192 MiB
big = [(v[0], s) for s, v in big.items()] + [("big/other.pt", fnv("big/other.pt"))]
json.dump({"good": sorted(good), "bad": sorted(bad), "big": big,
           "shard": {r: fnv(r) for r in good + bad}},
          open(os.path.join(os.path.dirname(zoo), "zoo.json"), "w"))
PY
manifest=$base/scratch/zoo.json
read -r kill_shard requeue_shard cancel_shard other_big < <(/usr/bin/python3 -c '
import json, sys; m = json.load(open(sys.argv[1])); big = m["big"]
for rel, s in big[:3]:
    with open(f"{sys.argv[2]}/big-{s}.list", "w") as f:
        f.write("\n".join(r for r, k in m["shard"].items() if k == s and r.startswith("big/layer")) + "\n")
print(big[0][1], big[1][1], big[2][1], big[3][0])' "$manifest" "$base")
echo "$(find "$zoo" -type f | wc -l) inputs, $(du -sm "$zoo" | cut -f1) MiB;" \
	"shard $kill_shard is killed (SIGKILL), $requeue_shard requeued, $cancel_shard cancelled"

# freeze PID...: SIGSTOP, then wait until every thread of theirs has stopped, so that a
# write or a rename under way when the signal came has ended and nothing they do changes
# a file until a SIGCONT (or a SIGKILL). Fails, leaving them running, if one has ended or
# they did not all stop within a few seconds (a thread in a long fsync).
freeze() {
	local p f st i running
	kill -STOP "$@" 2>/dev/null || { kill -CONT "$@" 2>/dev/null; return 1; }
	for p in "$@"; do
		for ((i = 0; i < 2000; i++)); do
			running=0
			for f in /proc/"$p"/task/*/stat; do
				read -r st 2>/dev/null <"$f" || continue
				st=${st##*) }
				case ${st%% *} in T | Z | X) ;; *) running=1 ;; esac
			done
			[ "$running" = 0 ] && break
			sleep 0.002
		done
		read -r st 2>/dev/null </proc/"$p"/stat || st=") X"
		st=${st##*) }
		case $running/${st%% *} in 0/T) ;; *)
			kill -CONT "$@" 2>/dev/null
			return 1
			;;
		esac
	done
}

# catch_writing DIR NAME SIZE PID...: one look, with the PIDs frozen (freeze), for a
# temporary they write in DIR, named as find's -name NAME, smaller than find's -size SIZE
# (so that some of it is still to be written). Found, it prints its path and leaves them
# frozen, the temporary there and unfinished until they are signalled; otherwise they
# run on, and it fails. A caller looks again after a moment, for as long as they may
# still write one: the look cannot race them, however slow this script is.
catch_writing() {
	local dir=$1 name=$2 size=$3 t
	shift 3
	freeze "$@" || return 1
	t=$(find "$dir" -maxdepth 1 -name "$name" -size "$size" -print -quit 2>/dev/null || true)
	if [ -n "$t" ]; then
		echo "$t"
		return 0
	fi
	kill -CONT "$@" 2>/dev/null
	return 1
}

# resume_when_signalled PID...: frozen PIDs that Slurm was just told to stop run on once
# it has signalled them. It sends SIGCONT before its SIGTERM, which resumes them; if it
# did not, they are resumed here once the SIGTERM waits on them, so that it lands in the
# write they were frozen in, as it would have landed had they not been frozen.
resume_when_signalled() {
	local p i k v st left
	for ((i = 0; i < 1500; i++)); do
		left=0
		for p in "$@"; do
			read -r st 2>/dev/null </proc/"$p"/stat || continue
			st=${st##*) }
			[ "${st%% *}" = T ] || continue
			while read -r k v; do
				case $k in SigPnd: | ShdPnd:) (((0x$v & 0x4000) != 0)) && continue 2 ;; esac
			done 2>/dev/null </proc/"$p"/status
			left=1
		done
		[ "$left" = 0 ] && break
		sleep 0.01
	done
	kill -CONT "$@" 2>/dev/null || true
	[ "$left" = 0 ] || fail "Slurm did not signal the frozen $* in 15 s"
}

log "a local run of another shard layout, killed mid-write"
# Its temporary is not this array's to remove: the recipe's next step cleans it.
"$base/bin/ptport" batch "$zoo/$other_big" -o "$out/big" --shard 0/1 --quiet &
stale_pid=$!
stale=
for ((i = 0; i < 3000; i++)); do
	stale=$(catch_writing "$out/big" ".ptport-*" -160M "$stale_pid") && break
	stale=
	kill -0 "$stale_pid" 2>/dev/null || break
	sleep 0.01
done
[ -n "$stale" ] || fail "the killed run was never frozen writing its temporary (it finished first)"
kill -9 "$stale_pid" # frozen: its temporary is there, less than 160 MiB of its 192 written
wait "$stale_pid" 2>/dev/null || true
[ -e "$stale" ] || fail "the killed run's temporary went away: $stale"
echo "left behind: $(basename "$stale")"

log "the reference: a plain local batch of the same tree"
# beside the array's output folder, so that its outputs record their inputs at the same
# place from them (input_place) and can be byte-identical
ref=$base/scratch/reference
"$base/bin/ptport" batch "$zoo" -o "$ref" --allow-failed --quiet --report "$base/reference.jsonl" ||
	fail "the local reference batch failed"

# ---------------------------------------------------------------------------------------
log "submitting the recipe"
cd "$base/submit"
job=
next=
eval "$(cat "$submit")" # submits the array as job, and the step after it as next
[ -n "$job" ] && [ -n "$next" ] || fail "the submission block must set job and next"
echo "array $job, next step $next"
cd "$repo"

state() { scontrol show job "$1" 2>/dev/null | sed -n 's/.*JobState=\([A-Z_]*\).*/\1/p' | head -1; }
temp_of() { find "$out" -name ".ptport-*s${1}of${shards}-*" 2>/dev/null | head -1 || true; }
outputs_of() { # shard: how many of its large inputs have their output
	local n=0 rel
	while IFS= read -r rel; do
		[ -e "$out/${rel%.pt}.safetensors" ] && n=$((n + 1))
	done <"$base/big-$1.list"
	echo "$n"
}
# The inode of every output when first seen: a rewritten output would get a new one.
declare -A inode
watch_outputs() {
	local line
	while IFS= read -r line; do
		local path=${line#* } ino=${line%% *}
		if [ -z "${inode[$path]:-}" ]; then
			inode[$path]=$ino
		elif [ "${inode[$path]}" != "$ino" ]; then
			fail "output rewritten: $path"
		fi
	done < <(find "$out" -type f ! -name '.ptport-*' -printf '%i %p\n' 2>/dev/null)
}
attempts=$base/attempts
mkdir -p "$attempts"
save_report() { # shard: keep the report of the attempt that just ended
	local r=$base/scratch/reports/$1.jsonl
	[ -e "$r" ] && cp "$r" "$attempts/$1.$(date +%s%N).jsonl"
	return 0
}
stop_mid_write() { # shard how: once the task has written an output, while it writes another
	local task=${job}_$1 t= i
	for i in $(seq 3000); do
		watch_outputs
		if [ "$(state "$task")" = RUNNING ] && [ "$(outputs_of "$1")" -gt 0 ]; then
			break
		fi
		case $(state "$task") in COMPLETED | FAILED | CANCELLED) fail "task $task ended before it could be stopped mid-write" ;; esac
		sleep 0.05
	done
	local pids p
	pids=$(scontrol listpids "$(squeue -h -j "$task" -o %A)" | awk 'NR > 1 {print $1}' | while read -r p; do
		[ "$(cat /proc/"$p"/comm 2>/dev/null)" = ptport ] && echo "$p"
	done || true)
	[ -n "$pids" ] || fail "task $task runs no ptport"
	# Caught frozen (catch_writing) in a temporary of a large input: for a SIGKILL, one
	# with any of its 64 MiB still to write; for Slurm's SIGTERM, which follows its
	# SIGCONT, one with a quarter of it or more, looked for in the folder of the large
	# inputs' outputs for as long as the task has large inputs left.
	local bigs size=-64M looks
	bigs=$(wc -l <"$base/big-$1.list")
	[ "$2" = kill ] || size=-48M
	for ((looks = 1; ; looks++)); do
		t=$(catch_writing "$out/big" ".ptport-*s${1}of${shards}-*" "$size" $pids) && break
		t=
		if [ $((looks % 20)) = 0 ] && [ "$(outputs_of "$1")" -ge "$bigs" ]; then
			fail "task $task was never frozen writing a temporary (its $bigs large inputs converted first)"
		fi
		kill -0 $pids 2>/dev/null || fail "task $task ended before it could be frozen writing a temporary"
		sleep 0.01
	done
	local written
	written=$(($(stat -c %s "$t") >> 20))
	case $2 in
	kill) # as the OOM killer would: SIGKILL to the task's ptport (Slurm's own
		# "scancel --signal=KILL" ends a job with SIGTERM first). Frozen, its writer alive,
		# the temporary stays until then, and behind it until a run on this machine sees
		# its writer has ended (the next task may start at once and remove it); the
		# checks after the array ends see that no temporary and no partial output is left.
		kill -9 $pids
		;;
	requeue) # as preemption would
		scontrol requeue "$task"
		resume_when_signalled $pids
		;;
	cancel) # SIGTERM, then SIGKILL after KillWait
		scancel "$task"
		resume_when_signalled $pids
		;;
	esac
	echo "stopped $task ($2) while it wrote $(basename "$t"), $written MiB in (look $looks)"
	# The attempt's report is complete once its ptport has exited.
	for i in $(seq 600); do
		kill -0 $pids 2>/dev/null || break
		sleep 0.05
	done
	save_report "$1"
}
# The three, in the order Slurm runs the tasks.
while read -r s how; do
	stop_mid_write "$s" "$how"
	case $how in
	cancel) [ -z "$(temp_of "$s")" ] || fail "a task cancelled (SIGTERM) left its temporary: $(temp_of "$s")" ;;
	esac
done < <(printf '%s kill\n%s requeue\n%s cancel\n' "$kill_shard" "$requeue_shard" "$cancel_shard" | sort -n)

wait_array() {
	local i s pending
	for i in $(seq 3000); do
		watch_outputs
		pending=$(squeue -h -j "$job" -o %i 2>/dev/null | wc -l)
		[ "$pending" = 0 ] && return
		sleep 0.2
	done
	fail "array $job did not finish"
}
# The killed and the cancelled task are run again by hand, as the README says.
for s in "$kill_shard" "$cancel_shard"; do
	for i in $(seq 600); do
		case $(state "${job}_$s") in FAILED | CANCELLED | COMPLETED) break ;; *) sleep 0.1 ;; esac
	done
	echo "task ${job}_$s: $(state "${job}_$s"); requeued"
	scontrol requeue "${job}_$s"
done
wait_array
log "array done"
for s in $(seq 0 $((shards - 1))); do
	[ "$(state "${job}_$s")" = COMPLETED ] || fail "task ${job}_$s ended $(state "${job}_$s")"
done

# The next step: the README's story for releasing it after a task was run again by hand.
release=$(/usr/bin/python3 - README.md <<'PY'
import re, sys
text = open(sys.argv[1]).read()
at = text.find("A Slurm array")
m = re.search(r"^\s*(scontrol update .*)$", text[at:], re.M)
print(m.group(1) if m else "")
PY
)
[ -n "$release" ] || fail "the README does not say how to release the next step after a rerun"
# Slurm holds it for good once it has seen the array end with failed tasks.
for i in $(seq 150); do
	reason=$(squeue -h -j "$next" -o %r)
	[ "$reason" = DependencyNeverSatisfied ] && break
	[ "$(state "$next")" = PENDING ] || fail "the next step ran although tasks had failed: $(state "$next")"
	sleep 0.2
done
[ "$reason" = DependencyNeverSatisfied ] || fail "the next step waits for $reason, not for the failed tasks"
for task in "$kill_shard" "$cancel_shard"; do
	echo "releasing the next step: $(eval echo "\"$release\"")"
	eval "$release"
done
for i in $(seq 600); do
	case $(state "$next") in COMPLETED | FAILED | CANCELLED) break ;; *) sleep 0.2 ;; esac
done
[ "$(state "$next")" = COMPLETED ] || fail "the next step $next ended $(state "$next")"
watch_outputs

# ---------------------------------------------------------------------------------------
log "checking"
[ -z "$(find "$base/scratch" -name '.ptport-*')" ] || fail "temporaries left: $(find "$base/scratch" -name '.ptport-*')"
/usr/bin/python3 - "$manifest" "$zoo" "$out" "$ref" "$base/scratch/reports" "$attempts" "$shards" "$kill_shard" <<'PY'
import collections, glob, json, os, sys
import torch

manifest, zoo, out, ref, reports, attempts, shards, killed = sys.argv[1:]
shards, killed = int(shards), int(killed)
m = json.load(open(manifest))
problems = []

def outname(rel):
    return os.path.splitext(rel)[0] + ".safetensors"

# Every good input has exactly its output; nothing else is there.
want = {outname(r) for r in m["good"]}
have = set()
for root, _, files in os.walk(out):
    for f in files:
        have.add(os.path.relpath(os.path.join(root, f), out))
for x in sorted(want - have):
    problems.append(f"missing output {x}")
for x in sorted(have - want):
    problems.append(f"unexpected file {x}")

# Byte-identical to the local reference run.
for x in sorted(want & have):
    if open(os.path.join(out, x), "rb").read() != open(os.path.join(ref, x), "rb").read():
        problems.append(f"{x} differs from the local run's")

# Tensors byte-equal to torch.load's.
def leaves(obj, prefix=""):
    if isinstance(obj, torch.Tensor):
        yield (prefix[:-1] or "tensor"), obj
    elif isinstance(obj, dict):
        for k, v in obj.items():
            yield from leaves(v, f"{prefix}{k}.")
    elif isinstance(obj, (list, tuple)):
        for i, v in enumerate(obj):
            yield from leaves(v, f"{prefix}{i}.")

for rel in m["good"]:
    path = os.path.join(out, outname(rel))
    if not os.path.exists(path):
        continue
    with open(path, "rb") as f:
        n = int.from_bytes(f.read(8), "little")
        header = json.loads(f.read(n))
        data = f.read()
    header.pop("__metadata__", None)
    for name, t in leaves(torch.load(os.path.join(zoo, rel))):
        e = header.get(name)
        if e is None:
            problems.append(f"{rel}: {name} missing")
            continue
        b, end = e["data_offsets"]
        raw = t.contiguous().numpy().tobytes() if t.dtype != torch.bfloat16 else t.view(torch.int16).numpy().tobytes()
        if data[b:end] != raw or e["shape"] != list(t.shape):
            problems.append(f"{rel}: {name} differs from torch.load's")

# The final reports: every input in its own shard's, once; good ones ok or skipped,
# bad ones failed with a reason.
final = {}
for s in range(shards):
    p = os.path.join(reports, f"{s}.jsonl")
    if not os.path.exists(p):
        problems.append(f"no report of shard {s}")
        continue
    for line in open(p):
        r = json.loads(line)
        rel = os.path.relpath(r["input"], "/scratch/zoo")
        if rel in final:
            problems.append(f"{rel!r} reported twice")
        final[rel] = r
        if m["shard"].get(rel) != s:
            problems.append(f"{rel!r} reported by shard {s}, not {m['shard'].get(rel)}")
for rel in m["good"]:
    st = final.get(rel, {}).get("status")
    if st not in ("ok", "skipped"):
        problems.append(f"good input {rel!r}: {st} {final.get(rel, {}).get('error', '')}")
for rel in m["bad"]:
    r = final.get(rel, {})
    if r.get("status") != "failed" or not r.get("error"):
        problems.append(f"bad input {rel!r}: {r.get('status')}")

# Converted once over every attempt: ok exactly once, or, in the shard whose task was
# killed, at most once (a SIGKILL may come between an output's rename and its line).
oks = collections.Counter()
for p in glob.glob(os.path.join(attempts, "*.jsonl")) + glob.glob(os.path.join(reports, "*.jsonl")):
    for line in open(p):
        try:
            r = json.loads(line)
        except ValueError:
            continue  # the last line of a killed attempt
        if r["status"] == "ok":
            oks[os.path.relpath(r["input"], "/scratch/zoo")] += 1
for rel in m["good"]:
    if oks[rel] > 1:
        problems.append(f"{rel!r} converted {oks[rel]} times")
    if oks[rel] == 0 and m["shard"][rel] != killed:
        problems.append(f"{rel!r}: no attempt reports converting it")
unreported = sorted(rel for rel in m["good"] if oks[rel] == 0)
if unreported:
    print("converted, their report lines lost with the killed attempt:", ", ".join(unreported))
print(f"{len(m['good'])} good inputs, {len(m['bad'])} bad; {len(have)} outputs; "
      f"{sum(oks.values())} conversions reported")
if problems:
    print("\n".join(problems))
    sys.exit(1)
PY

log "submitting the whole array again: nothing to convert"
declare -A before
while IFS= read -r line; do before[${line#* }]=${line%% *}; done < <(find "$out" -type f -printf '%i:%T@ %p\n')
cd "$base/submit"
job2=$(sbatch --parsable "$recipe")
cd "$repo"
job=$job2 wait_array
for s in $(seq 0 $((shards - 1))); do
	[ "$(state "${job2}_$s")" = COMPLETED ] || fail "rerun task ${job2}_$s ended $(state "${job2}_$s")"
done
while IFS= read -r line; do
	[ "${before[${line#* }]:-}" = "${line%% *}" ] || fail "the rerun changed ${line#* }"
done < <(find "$out" -type f -printf '%i:%T@ %p\n')
if cat "$base"/scratch/reports/*.jsonl | grep -q '"status":"ok"'; then
	fail "the rerun converted again: $(cat "$base"/scratch/reports/*.jsonl | grep '"status":"ok"' | head -3)"
fi
log "ok: slurm_e2e passed"

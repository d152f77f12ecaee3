#!/usr/bin/env python3
"""The fleet on NATS JetStream, measured (run through bench/fleet.sh, which builds the release binary).

For the simulated fleet (`simulate --hosts H --attack-hosts H/2 --seed 1 [--duration D]`), or with
D = bulk:MB the speed benchmarks' bulk hosts (`make_bulk DIR H MB 7`):
1. `hunt --threads 1` of the collection: the one-process reference, events/s.
2. For 1 worker, then 2 workers: a fresh nats-server (JetStream, loopback, a temporary store), the
   fleet set up with P partitions, `fleet publish` of the collection timed on its own (the
   publisher's cost: wall, CPU), then the workers started together with static partitions (1 worker:
   all; 2 workers: a consecutive half each) and timed until their last checkpoint, once `fleet status` says every
   partition is checkpointed up to its last event (the times are the workers' own, from their
   reports). events/s = events published / that time. ROUNDS (default 3) alternating rounds of
   both; the medians are reported, and the speedup of each round. The findings collected
   (`fleet collect`) are checked against hunt's ids, so a fast wrong run cannot pass for a result.
3. End-to-end latency, with 2 workers and a collector running: one more attacked host is published
   (a seed of its own, so its alert ids are new) and the time from the start of `fleet publish` to its
   alert being in the collector's store is measured, 5 times.
"""
import json
import os
import socket
import sqlite3
import statistics
import subprocess
import sys
import tempfile
import time

BIN = os.path.abspath(sys.argv[1])
HOSTS = int(sys.argv[2])
DURATION = sys.argv[3]
PARTITIONS = int(sys.argv[4])
NATS = sys.argv[5]
OUT = os.path.abspath(sys.argv[6])
# Events per published message (fleet publish --frame-events, whose default is 4096).
FRAME = os.environ.get("FRAME_EVENTS", "4096")
# Alternating rounds of the 1- and 2-worker runs (env ROUNDS, default 3).
ROUNDS = int(os.environ.get("ROUNDS", "3"))


def fw(*args, **kw):
    return subprocess.run([BIN, *args], check=True, capture_output=True, text=True, **kw)


def free_port():
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def cpu_of(pid_list):
    """User+system CPU seconds of live processes (from /proc)."""
    tick = os.sysconf("SC_CLK_TCK")
    total = 0.0
    for pid in pid_list:
        try:
            with open(f"/proc/{pid}/stat") as f:
                parts = f.read().rsplit(")", 1)[1].split()
            total += (int(parts[11]) + int(parts[12])) / tick
        except OSError:
            pass
    return total


class Server:
    def __init__(self, tmp):
        self.port = free_port()
        self.url = f"nats://127.0.0.1:{self.port}"
        conf = os.path.join(tmp, "nats.conf")
        out = fw("fleet", "server-config", "--partitions", str(PARTITIONS), "--listen",
                 f"127.0.0.1:{self.port}", "--store-dir", os.path.join(tmp, "js"))
        with open(conf, "w") as f:
            f.write(out.stdout)
        self.proc = subprocess.Popen([NATS, "-c", conf], stdout=subprocess.DEVNULL,
                                     stderr=open(os.path.join(tmp, "nats.log"), "w"))
        deadline = time.time() + 15
        while True:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                break
            except OSError:
                if time.time() > deadline:
                    sys.exit(f"nats-server did not start: see {tmp}/nats.log")
                time.sleep(0.05)
        fw("fleet", "setup", "--nats", self.url, "--partitions", str(PARTITIONS), "--lease-ttl", "5s")

    def status(self):
        return json.loads(fw("fleet", "status", "--nats", self.url, "--json").stdout)

    def stop(self):
        self.proc.terminate()
        self.proc.wait()


def timed(cmd):
    """Runs cmd; its wall seconds, CPU seconds (user + system) and stderr."""
    t0 = time.perf_counter()
    r0 = os.times()
    r = subprocess.run(cmd, check=True, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    r1 = os.times()
    cpu = (r1.children_user - r0.children_user) + (r1.children_system - r0.children_system)
    return time.perf_counter() - t0, cpu, r.stderr


def ids_in(db, table):
    c = sqlite3.connect(db)
    try:
        return {r[0] for r in c.execute(f"SELECT id FROM {table}")}
    finally:
        c.close()


def hunt_ids(paths):
    out = fw("hunt", "--format", "jsonl", *paths).stdout
    return {json.loads(l)["finding_info"]["uid"] for l in out.splitlines() if l}


def shares(n_workers):
    """Static shares of consecutive partitions, as leases hand them out (each worker takes a run
    from its own starting point)."""
    parts = list(range(PARTITIONS))
    return [parts[i * PARTITIONS // n_workers:(i + 1) * PARTITIONS // n_workers] for i in range(n_workers)]


def run_workers(coll, n_workers, want, tmp):
    srv = Server(tmp)
    try:
        pub_wall, pub_cpu, err = timed([BIN, "fleet", "publish", "--nats", srv.url, "--frame-events", FRAME, coll])
        # "published N event(s) of H host(s) in M message(s), ..."
        line = next(l for l in err.splitlines() if l.startswith("published "))
        events = int(line.split()[1])
        wire = line.split(" message(s), ")[1].split(",")[0]
        share = shares(n_workers)
        server_cpu_published = cpu_of([srv.proc.pid])
        t0 = time.perf_counter()
        t0_ms = time.time() * 1000
        reports = [os.path.join(tmp, f"w{i}.json") for i in range(n_workers)]
        workers = [subprocess.Popen([BIN, "fleet", "worker", "--nats", srv.url, "--name", f"w{i}",
                                     "--partitions", ",".join(map(str, share[i])),
                                     "--report-json", reports[i]],
                                    stdout=subprocess.DEVNULL,
                                    stderr=open(os.path.join(tmp, f"w{i}.log"), "w"))
                   for i in range(n_workers)]
        while True:
            # Slow polling: each poll is a process and a round of server requests on the same two
            # cores (at 0.25 s they took about a tenth of a core from the workers). The times come
            # from the workers' own reports, so polling late costs no precision.
            time.sleep(1.0)
            for i, w in enumerate(workers):
                if w.poll() is not None:
                    sys.exit(f"worker w{i} exited ({w.returncode}): see {tmp}/w{i}.log")
            st = srv.status()
            if st["caught_up"]:
                break
        polled = time.perf_counter() - t0
        worker_cpu = cpu_of([w.pid for w in workers])
        # The server's CPU while the workers ran (its share of the publish phase left out).
        server_cpu = cpu_of([srv.proc.pid]) - server_cpu_published
        for w in workers:
            w.terminate()
        for w in workers:
            w.wait()
        rs = [json.load(open(r)) for r in reports]
        for r in rs:
            print(f"  {n_workers} worker(s), {r['name']}: {r['events']:,} events ({r['events'] / events:.1%}), "
                  f"{r['frames']} frames, {r['checkpoints']} checkpoints, "
                  f"busy {(r['last_frame_ms'] - r['first_frame_ms']) / 1000:.2f} s", file=sys.stderr)
        busy = (max(r["last_frame_ms"] for r in rs) - min(r["first_frame_ms"] for r in rs)) / 1000
        start_s = (min(r["first_frame_ms"] for r in rs) - t0_ms) / 1000
        # Until the last checkpoint, when every partition was stored to its end.
        wall = (max(r["last_checkpoint_ms"] for r in rs) - t0_ms) / 1000
        assert 0 < wall <= polled, (wall, polled)
        db = os.path.join(tmp, "fleet.db")
        fw("fleet", "collect", "--nats", srv.url, "--db", db, "--exit-idle", "1s")
        got = ids_in(db, "alerts") | ids_in(db, "network_findings") | ids_in(db, "campaigns")
        if got != want:
            sys.exit(f"{n_workers} worker(s): the collected findings are not hunt's "
                     f"({len(got)} vs {len(want)}): see {tmp}")
        return {"events": events, "wire": wire, "publish_s": pub_wall, "publish_cpu_s": pub_cpu,
                "largest_share": max(r["events"] for r in rs) / events, "wall_s": wall, "busy_s": busy, "start_s": start_s, "worker_cpu_s": worker_cpu, "server_cpu_s": server_cpu}
    finally:
        srv.stop()


def median_run(runs):
    """Each measure's median over the rounds (the counts are the same in every round)."""
    out = dict(runs[0])
    for k in ("wall_s", "busy_s", "start_s", "worker_cpu_s", "server_cpu_s", "publish_s", "publish_cpu_s"):
        out[k] = statistics.median(r[k] for r in runs)
    return out


def latency(tmp, runs=5):
    srv = Server(tmp)
    procs = []
    try:
        for i, share in enumerate(shares(2)):
            procs.append(subprocess.Popen([BIN, "fleet", "worker", "--nats", srv.url, "--name", f"l{i}",
                                           "--partitions", ",".join(map(str, share))],
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        db = os.path.join(tmp, "latency.db")
        procs.append(subprocess.Popen([BIN, "fleet", "collect", "--nats", srv.url, "--db", db,
                                       "--write-every", "100ms"],
                                      stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
        out = []
        for k in range(runs):
            one = os.path.join(tmp, f"one-{k}")
            fw("simulate", one, "--hosts", "1", "--attack-hosts", "1", "--seed", str(100 + k))
            want = {json.loads(l)["finding_info"]["uid"]
                    for l in fw("hunt", "--format", "jsonl", one).stdout.splitlines()
                    if l and "kind" not in json.loads(l)["unmapped"]["floodwatch"]}
            t0 = time.perf_counter()
            fw("fleet", "publish", "--nats", srv.url, one)
            while True:
                try:
                    if want <= ids_in(db, "alerts"):
                        break
                except sqlite3.Error:
                    pass
                if time.perf_counter() - t0 > 120:
                    sys.exit("latency: the finding never reached the store")
                time.sleep(0.01)
            out.append(time.perf_counter() - t0)
        return out
    finally:
        for p in procs:
            p.terminate()
            p.wait()
        srv.stop()


def main():
    os.makedirs(OUT, exist_ok=True)
    coll = os.path.join(OUT, f"fleet-{HOSTS}-{DURATION.replace(':', '')}")
    if not os.path.isdir(coll):
        if DURATION.startswith("bulk:"):
            # The speed benchmarks' bulk hosts (make_bulk): many MB per host, for a run long enough
            # that the fixed costs (consumers, leases, the last checkpoint) do not hide the rate.
            make_bulk = os.path.join(os.path.dirname(BIN), "examples", "make_bulk")
            subprocess.run([make_bulk, coll, str(HOSTS), DURATION[5:], "7"], check=True,
                           stdout=subprocess.DEVNULL)
        else:
            args = ["simulate", coll, "--hosts", str(HOSTS), "--attack-hosts", str(HOSTS // 2), "--seed", "1"]
            if DURATION.startswith("days:"):
                # The same fleet over several days (each host repeats its routine every day).
                args += ["--days", DURATION[5:]]
            elif DURATION != "default":
                args += ["--duration", DURATION]
            fw(*args)
    size = sum(os.path.getsize(os.path.join(d, f)) for d, _, fs in os.walk(coll) for f in fs)
    cpu = next((l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name")), "?")
    print(f"machine: {os.cpu_count()} cores, {cpu}; nats-server {subprocess.run([NATS, '--version'], capture_output=True, text=True).stdout.strip()}")
    what = (f"make_bulk, {DURATION[5:]} MB" if DURATION.startswith("bulk:")
            else f"simulate, {HOSTS // 2} attacked, {DURATION[5:]} days" if DURATION.startswith("days:")
            else f"simulate, {HOSTS // 2} attacked, duration {DURATION}")
    print(f"fleet: {HOSTS} hosts ({what}), {size / 1e6:.1f} MB; {PARTITIONS} partitions, {FRAME} events per message")
    want = hunt_ids([coll])
    hunt_wall, _, _ = timed([BIN, "hunt", "--threads", "1", coll])
    # What two processes gain on this machine at all: hunt --threads 1 over all hosts, then two of
    # them at once over alternate halves of the hosts (no NATS, no network), in alternating rounds.
    hosts = sorted(os.path.join(coll, h) for h in os.listdir(coll) if os.path.isdir(os.path.join(coll, h)))
    pairs = []
    for _ in range(ROUNDS):
        whole, _, _ = timed([BIN, "hunt", "--threads", "1", *hosts])
        t0 = time.perf_counter()
        halves = [subprocess.Popen([BIN, "hunt", "--threads", "1", *hosts[i::2]],
                                   stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL) for i in range(2)]
        if any(h.wait() != 0 for h in halves):
            sys.exit("hunt over half the hosts failed")
        pairs.append(whole / (time.perf_counter() - t0))
    with tempfile.TemporaryDirectory() as tmp:
        os.makedirs(os.path.join(tmp, "lat"))
        # Alternating rounds (1 worker, 2 workers, 1, 2, ...), each on a fresh server: a run takes
        # about a second on this shared machine, so one pair of runs is noisy; the medians are shown.
        rounds = {1: [], 2: []}
        for k in range(ROUNDS):
            for n in (1, 2):
                d = os.path.join(tmp, f"{n}-{k}")
                os.makedirs(d)
                rounds[n].append(run_workers(coll, n, want, d))
        lat = latency(os.path.join(tmp, "lat"))
    one, two = (median_run(rounds[n]) for n in (1, 2))
    ev = one["events"]
    print(f"hunt --threads 1 (one process, reference): {hunt_wall:.2f} s, {ev / hunt_wall:,.0f} events/s")
    print(f"publisher (fleet publish, its own cost): {one['publish_s']:.2f} s wall, {one['publish_cpu_s']:.2f} s CPU, "
          f"{ev / one['publish_s']:,.0f} events/s; {ev:,} events, {one['wire']} on the wire")
    print("wall: workers started -> the last checkpoint, every partition stored to its end (start-up,")
    print("leases and the checkpoints included); busy: first frame judged -> last frame judged")
    print(f"{'workers':>7} {'wall_s':>7} {'events/s':>10} {'busy_s':>7} {'events/s':>10} {'start_s':>7} {'worker_cpu_s':>12} {'server_cpu_s':>12}")
    for n, r in ((1, one), (2, two)):
        print(f"{n:>7} {r['wall_s']:>7.2f} {ev / r['wall_s']:>10,.0f} {r['busy_s']:>7.2f} {ev / r['busy_s']:>10,.0f} "
              f"{r['start_s']:>7.2f} {r['worker_cpu_s']:>12.2f} {r['server_cpu_s']:>12.2f}")
    print(f"hosts hash to partitions unevenly: the busiest of 2 workers judges {two['largest_share']:.1%} of the events, "
          f"so 2 workers cannot beat {1 / two['largest_share']:.2f}x on this fleet")
    per_round = ", ".join(f"{a['wall_s'] / b['wall_s']:.2f}x" for a, b in zip(rounds[1], rounds[2]))
    print(f"speedup 2 workers / 1 (goal 1.8x), medians of {ROUNDS} round(s): wall {one['wall_s'] / two['wall_s']:.2f}x, "
          f"busy {one['busy_s'] / two['busy_s']:.2f}x; round by round (wall): {per_round}; "
          f"collected findings = hunt's ({len(want)} ids) in every run")
    print(f"the machine's own ceiling for two processes: two hunt --threads 1 at once over halves of the hosts "
          f"vs one over all: median {statistics.median(pairs):.2f}x ({', '.join(f'{x:.2f}x' for x in pairs)})")
    print(f"end-to-end latency, publish of one attacked host -> its alert in the store (2 workers, collector): "
          f"median {statistics.median(lat):.2f} s, max {max(lat):.2f} s over {len(lat)}")


main()

#!/usr/bin/env python3
"""LGAE throughput: the Swift model (lgae-bench) against the paper's PyTorch reference, in one run.

Runs `.build/release/lgae-bench` (training steps = forward + Chamfer + backward + Adam, and
inference = encoder + decoder, float64, batch 32, for 1 and 2 threads, LGAE-Min-Max k=4 and
LGAE-Mix k=2). If --reference points at a checkout of github.com/zichunhao/lgn-autoencoder (never
vendored here) and --python at an interpreter with torch (scripts/bench/requirements-lgae.txt),
it then runs scripts/bench/lgae_reference.py on the same kind of synthetic jets, same batch,
threads and duration, and prints the ratios. Measurements alternate Swift and reference per
configuration so that background load hits both alike.

It also projects the wall time of one paper-scale epoch: 208,758 QCD training jets (spec §2.4,
the 60 % of g+q) through training steps plus 69,586 validation jets through inference.

    swift build -c release --static-swift-stdlib
    python3 scripts/bench/lgae_bench.py --reference /tmp/lgn-autoencoder --python /tmp/lgae-venv/bin/python \
        --reference-commit 66620d0cf3d4eb727601c36963ef9eaf58b74a4f

Prints a table and, last, one JSON object with every figure.
"""
import argparse
import json
import os
import subprocess
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from benchjson import last_json  # noqa: E402

ROOT = Path(__file__).resolve().parents[2]
TRAIN_JETS = 208_758   # QCD training jets of the paper's split (spec §2.4)
VALID_JETS = 69_586    # QCD validation jets, one inference pass per epoch
CONFIGS = [("minmax-k4", "minmax", 4), ("mix-k2", "mix", 2)]




def run(cmd):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {p.returncode}")
    return p.stdout


def swift_bench(binary, config, seconds, threads, batch):
    out = run([str(binary), "--seconds", str(seconds), "--threads", threads, "--batch", str(batch), "--configs", config])
    sys.stderr.write(out)
    return {r["threads"]: r for r in last_json(out)["results"] if r["config"] == config}


def reference_bench(python, reference, commit, aggregation, tau, seconds, threads, batch):
    out = run([python, str(ROOT / "scripts/bench/lgae_reference.py"), "--reference", str(reference),
               "--aggregation", aggregation, "--tau", str(tau), "--seconds", str(seconds),
               "--threads", threads, "--batch", str(batch)] + (["--reference-commit", commit] if commit else []))
    data = last_json(out)
    return {r["threads"]: r for r in data["results"]}, data


def hours_per_epoch(train_rate, infer_rate):
    return (TRAIN_JETS / train_rate + VALID_JETS / infer_rate) / 3600


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / ".build/release/lgae-bench")
    ap.add_argument("--reference", type=Path, help="checkout of zichunhao/lgn-autoencoder (optional)")
    ap.add_argument("--reference-commit", help="commit of the reference checkout, if it is not a git work tree")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch for the reference")
    ap.add_argument("--seconds", type=float, default=10)
    ap.add_argument("--threads", default="1,2")
    ap.add_argument("--batch", type=int, default=32)
    args = ap.parse_args()
    if not args.binary.exists():
        sys.exit(f"{args.binary} not found: build it with `swift build -c release --static-swift-stdlib`")

    rows, reference_meta = [], None
    for name, aggregation, tau in CONFIGS:
        swift = swift_bench(args.binary, name, args.seconds, args.threads, args.batch)
        ref = {}
        if args.reference:
            ref, reference_meta = reference_bench(args.python, args.reference, args.reference_commit, aggregation, tau,
                                                  args.seconds, args.threads, args.batch)
        for t in sorted(swift):
            s, r = swift[t], ref.get(t)
            row = {
                "config": name, "threads": t,
                "swift_train_jets_per_s": s["trainJetsPerSecond"], "swift_infer_jets_per_s": s["inferenceJetsPerSecond"],
                "swift_train_jets_per_cpu_s": s["trainJetsPerCPUSecond"],
                "swift_hours_per_paper_epoch": hours_per_epoch(s["trainJetsPerSecond"], s["inferenceJetsPerSecond"]),
            }
            if r:
                row.update({
                    "reference_train_jets_per_s": r["train_jets_per_s"], "reference_infer_jets_per_s": r["infer_jets_per_s"],
                    "train_ratio": s["trainJetsPerSecond"] / r["train_jets_per_s"],
                    "infer_ratio": s["inferenceJetsPerSecond"] / r["infer_jets_per_s"],
                    "reference_hours_per_paper_epoch": hours_per_epoch(r["train_jets_per_s"], r["infer_jets_per_s"]),
                })
            rows.append(row)

    print(f"{'config':10} {'thr':>3} {'train j/s':>10} {'ref':>8} {'ratio':>6} {'infer j/s':>10} {'ref':>8} {'ratio':>6} "
          f"{'h/epoch':>8} {'ref h':>7}")
    for r in rows:
        def f(key, fmt):
            return format(r[key], fmt) if key in r else "-"
        print(f"{r['config']:10} {r['threads']:>3} {f('swift_train_jets_per_s', '10.1f')} {f('reference_train_jets_per_s', '8.2f'):>8} "
              f"{f('train_ratio', '6.1f'):>6} {f('swift_infer_jets_per_s', '10.1f')} {f('reference_infer_jets_per_s', '8.2f'):>8} "
              f"{f('infer_ratio', '6.1f'):>6} {f('swift_hours_per_paper_epoch', '8.3f')} {f('reference_hours_per_paper_epoch', '7.2f'):>7}")
    print(json.dumps({
        "benchmark": "lgae", "batch": args.batch, "seconds": args.seconds, "paperTrainJets": TRAIN_JETS,
        "paperValidJets": VALID_JETS, "loadAverage": os.getloadavg(),
        "reference": None if reference_meta is None else {k: reference_meta.get(k) for k in ("torch", "reference_commit")},
        "rows": rows,
    }))


if __name__ == "__main__":
    main()

#!/usr/bin/env python3
"""Baselines throughput: the Swift GNNAE and CNNAE (baselines-bench) against their references, in one run.

Runs the Swift `baselines-bench` (one thread, float64, the paper's widths: GNNAE-JL latent 45
with the Chamfer loss, GNNAE-PL d = 2 with MSE, batch 32 jets; CNNAE C = 128, latent 55, 40 × 40
images, batch 64; every step forward + backward over the batch + an Adam update) and, in the
same invocation, scripts/bench/baselines_reference.py:
  - with --reference (a checkout of github.com/zichunhao/gnn-jet-autoencoder, never vendored
    here) and --python (an interpreter with torch): the reference GNNAE's own modules, one
    training step per batch (its loss + L1 + Adam), torch.set_num_threads(1);
  - with --tf-python (an interpreter with tensorflow-cpu): the CNNAE's Keras architecture
    (spec §12.2), `train_on_batch`, float64 and float32, 1 intra-op and 1 inter-op thread.
Measurements alternate Swift and reference per model, so background load hits both alike.
The ratio columns are Swift / reference on the mean rate and on the median step.

    swift build -c release --product baselines-bench
    git clone <gnn-jet-autoencoder> /tmp/gnn-jet-autoencoder
    python3 scripts/bench/baselines_bench.py \\
        --reference /tmp/gnn-jet-autoencoder --python /tmp/lgae-venv/bin/python \\
        --tf-python /tmp/cnn-venv/bin/python

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
REFERENCE_SCRIPT = ROOT / "scripts/bench/baselines_reference.py"




def run(cmd, env=None):
    print("$ " + " ".join(cmd), file=sys.stderr, flush=True)
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    sys.stderr.write(p.stderr)
    if p.returncode != 0:
        raise RuntimeError(f"{cmd[0]} exited with {p.returncode}")
    return p.stdout


def swift(args, model):
    out = run([str(args.binary), "--seconds", str(args.seconds), "--batch", str(args.batch),
               "--cnn-batch", str(args.cnn_batch), "--only", model])
    sys.stderr.write(out)
    data = last_json(out)
    return data["results"][0]


def reference(args, python, model, extra=(), env=None):
    cmd = [python, str(REFERENCE_SCRIPT), "--models", model, "--seconds", str(args.seconds),
           "--batch", str(args.batch), "--cnn-batch", str(args.cnn_batch), *extra]
    return last_json(run(cmd, env=env))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--binary", type=Path, default=ROOT / ".build/release/baselines-bench")
    ap.add_argument("--reference", type=Path, help="checkout of zichunhao/gnn-jet-autoencoder (optional)")
    ap.add_argument("--python", default=sys.executable, help="interpreter with torch for the GNNAE reference")
    ap.add_argument("--tf-python", help="interpreter with tensorflow for the CNNAE reference (optional)")
    ap.add_argument("--tf-dtypes", default="float64,float32")
    ap.add_argument("--seconds", type=float, default=5)
    ap.add_argument("--batch", type=int, default=32)
    ap.add_argument("--cnn-batch", type=int, default=64)
    ap.add_argument("--models", default="gnnae-jl,gnnae-pl,cnnae")
    args = ap.parse_args()
    if not args.binary.exists():
        sys.exit(f"{args.binary} not found: build it with "
                 "`swift build -c release --scratch-path .build-bbench --product baselines-bench`")

    rows, meta = [], {}
    for model in [m for m in args.models.split(",") if m]:
        s = swift(args, model)
        refs = []
        if model.startswith("gnnae") and args.reference:
            data = reference(args, args.python, model, ["--reference", str(args.reference)])
            meta.update(torch=data.get("torch"), reference_commit=data.get("reference_commit"))
            refs = data["results"]
        elif model == "cnnae" and args.tf_python:
            env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL="2")
            data = reference(args, args.tf_python, model, ["--dtypes", args.tf_dtypes], env=env)
            meta.update(tensorflow=data.get("tensorflow"))
            refs = data["results"]
        for r in refs or [None]:
            row = {"model": model, "unit": s["unit"], "batch": s["batch"], "adam": s["adam"],
                   "swift_parameters": s["parameters"], "swift_mean_per_s": s["meanPerSecond"],
                   "swift_best_per_s": s["bestPerSecond"], "swift_median_per_s": s["medianPerSecond"],
                   "swift_per_cpu_s": s["perCPUSecond"]}
            if r:
                row.update({"reference": r["model"], "reference_parameters": r["parameters"],
                            "reference_mean_per_s": r["mean_per_s"], "reference_best_per_s": r["best_per_s"],
                            "reference_median_per_s": r["median_per_s"], "reference_per_cpu_s": r["per_cpu_s"],
                            "ratio_mean": s["meanPerSecond"] / r["mean_per_s"],
                            "ratio_median": s["medianPerSecond"] / r["median_per_s"]})
            rows.append(row)

    def f(r, key, fmt):
        return format(r[key], fmt) if key in r else "-"
    print(f"{'model':9} {'unit':6} {'Swift mean':>10} {'best':>7} {'median':>7} | {'reference':17} "
          f"{'mean':>7} {'best':>7} {'median':>7} | {'ratio':>5} {'(med)':>5}")
    for r in rows:
        print(f"{r['model']:9} {r['unit'] + '/s':6} {f(r, 'swift_mean_per_s', '10.1f')} {f(r, 'swift_best_per_s', '7.1f')} "
              f"{f(r, 'swift_median_per_s', '7.1f')} | {r.get('reference', '-'):17} {f(r, 'reference_mean_per_s', '7.1f'):>7} "
              f"{f(r, 'reference_best_per_s', '7.1f'):>7} {f(r, 'reference_median_per_s', '7.1f'):>7} | "
              f"{f(r, 'ratio_mean', '5.2f'):>5} {f(r, 'ratio_median', '5.2f'):>5}")
    print(json.dumps({"benchmark": "baselines", "threads": 1, "precision_swift": "float64", "batch": args.batch,
                      "cnn_batch": args.cnn_batch, "seconds": args.seconds, "loadAverage": os.getloadavg(),
                      "reference": meta, "rows": rows}))


if __name__ == "__main__":
    main()

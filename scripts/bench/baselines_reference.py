#!/usr/bin/env python3
"""Single-thread training throughput of the baselines' reference implementations on CPU.

Measures what the Swift `baselines-bench` measures, on the references, so the two can be
compared on the same machine:

- gnnae-jl / gnnae-pl: the GNNAE of github.com/zichunhao/gnn-jet-autoencoder (PyTorch). Its own
  `models.Encoder` / `models.Decoder` are imported from a checkout given with --reference (never
  vendored here) and built with the paper's sizes (spec lgae.md §12.1; the repository's flags in
  brackets): 30 particles, 3 features (--vec-dims 3), node sizes [[30],[15],[8]]
  (--encoder/decoder-node-sizes), edge sizes [[50,40,30],[30,30,30],[16,20,30]]
  (--encoder/decoder-edge-sizes), 3 message passings (--encoder/decoder-num-mps), LeakyReLU 0.2
  (--encoder/decoder-alphas), no dropout, no batch norm, float64, device cpu.
    JL: --latent-map mean, --latent-node-size 45, --loss-choice ChamferLoss
        (loss norm 'cartesian', jet features weight 1 — the reference's defaults; note that its
        ChamferLoss computes the Chamfer term and returns only the jet term, spec §12.1).
    PL: --latent-map local, --latent-node-size 2, --loss-choice mse (nn.MSELoss). The spelling
        matters: Encoder.__init__ tests `latent_map.lower() in LOCAL_MIX` without turning spaces
        into underscores, so "local mix" would make the last NodeNet layer 8 → 2 followed by a
        2 → 2 mix layer (27,887 parameters); "local" (or "local_mix") gives the spec's
        8 → 8 NodeNet layer + per-node Linear(8 → 2) (27,953 parameters, as the Swift model).
  One timed step is the body of the reference's utils/train.py::train for one batch:
  encoder, decoder, the polar-coordinate clamp of pT (--polar-coord True, the data being
  relative polar features), the loss as `get_loss` builds it (a new loss module per batch, plus
  1e-8 × the L1 norm of all parameters, --l1-lambda default), `.item()`, zero_grad, backward and
  one Adam step on each of the two optimisers (lr 1e-3, the paper's; `initialize_optimizers`).
  torch.set_num_threads(1) (and set_num_interop_threads(1)).
- cnnae: the CNNAE of spec lgae.md §12.2, built in TensorFlow/Keras as the paper's TF script
  describes it (the architecture, not the script, is what is timed): Conv2D(128, 3, stride 2,
  same, ReLU) ×2 → Flatten → Dense(55) → Dense(12800, ReLU) → Reshape(10, 10, 128) →
  Conv2DTranspose(128, 3, 2, same, ReLU) → Conv2DTranspose(1, 3, 2, same) → softmax over the
  1600 pixels; loss 'mse', Adam (Keras defaults), batch 64, `model.train_on_batch`;
  float64 (`keras.backend.set_floatx`) and/or float32 (--dtypes); intra- and inter-op
  parallelism 1 thread.

Synthetic jets (values barely matter for the cost; the Swift benchmark uses the same recipe,
from another random stream): B jets × 30 slots of (pT_rel, η_rel, φ_rel); each jet has 20…30
real particles (uniform), the rest zeros; pT ~ Exp(1) divided by the jet's Σ pT; η_rel, φ_rel ~
N(0, 0.1). Images: 41 equal edges on [−0.8, 0.8] (R = 0.8 as the TF script), bin i with
edge_i ≤ x < edge_{i+1}, image[φ, η] += pT_rel, normalised to sum 1.

    python3 scripts/bench/baselines_reference.py --reference /tmp/gnn-jet-autoencoder \\
        --models gnnae-jl,gnnae-pl                         # with an interpreter that has torch
    python3 scripts/bench/baselines_reference.py --models cnnae --dtypes float64,float32
                                                           # with an interpreter that has tensorflow
Python packages: scripts/bench/requirements-baselines.txt.

Output: human-readable lines on stderr; one JSON object on stdout with, per model, the mean
rate (items / timed seconds), best and median per-step rate and items per CPU-second.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time
import types
from pathlib import Path

import numpy as np

NUM_PARTICLES = 30
NODE_SIZES = [[30], [15], [8]]
EDGE_SIZES = [[50, 40, 30], [30, 30, 30], [16, 20, 30]]


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def synthetic_jets(count: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    jets = np.zeros((count, NUM_PARTICLES, 3))
    for b in range(count):
        real = int(rng.integers(20, NUM_PARTICLES + 1))
        pt = rng.exponential(1.0, real)
        jets[b, :real, 0] = pt / pt.sum()
        jets[b, :real, 1] = 0.1 * rng.standard_normal(real)
        jets[b, :real, 2] = 0.1 * rng.standard_normal(real)
    return jets


def jet_images(jets: np.ndarray, npix: int = 40, radius: float = 0.8) -> np.ndarray:
    edges = np.linspace(-radius, radius, npix + 1)
    images = np.zeros((len(jets), npix, npix))
    for b, jet in enumerate(jets):
        i_eta = np.digitize(jet[:, 1], edges) - 1
        i_phi = np.digitize(jet[:, 2], edges) - 1
        for pt, i, j in zip(jet[:, 0], i_eta, i_phi):
            if 0 <= i < npix and 0 <= j < npix:
                images[b, j, i] += pt
        images[b] /= images[b].sum()
    return images


def timed(step, warmup: int, seconds: float, min_steps: int):
    for _ in range(warmup):
        step()
    times = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    while True:
        t0 = time.perf_counter()
        step()
        times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and len(times) >= min_steps:
            return times, elapsed, time.process_time() - cpu0


def row(name, unit, batch, times, elapsed, cpu, **extra):
    n = len(times)
    r = {"model": name, "unit": unit, "batch": batch, "steps": n,
         "mean_per_s": n * batch / elapsed, "best_per_s": batch / min(times),
         "median_per_s": batch / statistics.median(times), "per_cpu_s": n * batch / cpu,
         "median_step_ms": 1e3 * statistics.median(times), **extra}
    log(f"{name}: train {r['mean_per_s']:8.2f} {unit}/s mean, {r['best_per_s']:8.2f} best, "
        f"{r['median_per_s']:8.2f} median ({r['median_step_ms']:.1f} ms/step), {r['per_cpu_s']:8.2f} /CPU-s, "
        f"{n} steps" + "".join(f", {k} {v}" for k, v in extra.items() if k in ("loss_first", "loss_last")))
    return r


# ---------------------------------------------------------------- GNNAE (PyTorch reference)

def import_gnnae(path: Path):
    """The reference's models and ChamferLoss from the checkout at `path`.

    The reference runs from its repository root and imports `models.*` and `utils.*` as
    top-level packages, so the checkout goes first on sys.path. `utils/losses/__init__.py`
    also imports the EMD loss (needs `jetnet`) and the Hungarian loss only to re-export them;
    `utils.losses` is pre-registered as an empty package over the same directory so that
    `utils.losses.chamfer_loss.chamfer_loss` imports exactly as in the reference without them.
    """
    path = path.resolve()
    if not (path / "models" / "graphnet.py").is_file():
        sys.exit(f"baselines_reference: {path} does not look like a gnn-jet-autoencoder checkout "
                 "(no models/graphnet.py)")
    sys.path.insert(0, str(path))
    import utils  # namespace package (no utils/__init__.py)

    losses_pkg = types.ModuleType("utils.losses")
    losses_pkg.__path__ = [str(path / "utils" / "losses")]
    sys.modules["utils.losses"] = losses_pkg
    utils.losses = losses_pkg
    from models import Encoder, Decoder
    from utils.losses.chamfer_loss.chamfer_loss import ChamferLoss
    from utils.const import EPS
    return types.SimpleNamespace(Encoder=Encoder, Decoder=Decoder, ChamferLoss=ChamferLoss, EPS=EPS)


def bench_gnnae(args, name: str, jets: np.ndarray):
    import torch
    import torch.nn as nn

    torch.set_num_threads(1)
    ref = import_gnnae(args.reference)
    dtype, device = torch.float64, torch.device("cpu")
    latent_map, latent, loss_choice = {"gnnae-jl": ("mean", 45, "chamfer"),
                                       "gnnae-pl": ("local", 2, "mse")}[name]
    torch.manual_seed(args.seed)
    common = dict(num_nodes=NUM_PARTICLES, latent_node_size=latent, node_sizes=NODE_SIZES,
                  edge_sizes=EDGE_SIZES, num_mps=3, alphas=0.2, dropout=0.0, batch_norm=False,
                  latent_map=latent_map, device=device, dtype=dtype)
    encoder = ref.Encoder(input_node_size=3, **common)
    decoder = ref.Decoder(output_node_size=3, normalize_output=False, **common)
    opt_enc = torch.optim.Adam(encoder.parameters(), args.lr)
    opt_dec = torch.optim.Adam(decoder.parameters(), args.lr)
    encoder.train(), decoder.train()
    params = sum(p.numel() for m in (encoder, decoder) for p in m.parameters() if p.requires_grad)
    target = torch.tensor(jets[:args.batch], dtype=dtype)
    losses = []

    def step():
        latent_vec = encoder(target, metric="euclidean")
        p_recons = decoder(latent_vec, metric="euclidean")
        # utils/train.py with --polar-coord True and 3 features: clamp pT at EPS.
        pt, eta, phi = p_recons.unbind(-1)
        p_recons = torch.stack([torch.clamp(pt, min=ref.EPS), eta, phi], dim=-1)
        if loss_choice == "chamfer":
            loss = ref.ChamferLoss(loss_norm_choice="cartesian")(p_recons, target, jet_features_weight=1)
        else:
            loss = nn.MSELoss()(p_recons, target)
        loss = loss + args.l1_lambda * (encoder.l1_norm() + decoder.l1_norm())
        losses.append(loss.item())
        opt_enc.zero_grad()
        opt_dec.zero_grad()
        loss.backward()
        opt_enc.step()
        opt_dec.step()

    times, elapsed, cpu = timed(step, args.warmup, args.seconds, args.min_steps)
    return row(name, "jets", args.batch, times, elapsed, cpu, parameters=params, latent_map=latent_map,
               latent_node_size=latent, loss=loss_choice, loss_first=losses[0], loss_last=losses[-1])


# ---------------------------------------------------------------- CNNAE (TensorFlow/Keras)

def bench_cnnae(args, dtypes, jets: np.ndarray):
    import tensorflow as tf
    tf.config.threading.set_intra_op_parallelism_threads(1)
    tf.config.threading.set_inter_op_parallelism_threads(1)
    keras = tf.keras
    images = jet_images(jets[:args.cnn_batch])[..., None]
    results = []
    for dt in dtypes:
        keras.backend.set_floatx(dt)
        keras.backend.clear_session()
        tf.random.set_seed(args.seed)
        s, c = 40, 128
        model = keras.Sequential([
            keras.Input(shape=(s, s, 1), dtype=dt),
            keras.layers.Conv2D(c, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2D(c, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Flatten(),
            keras.layers.Dense(55),
            keras.layers.Dense((s // 4) * (s // 4) * c, activation="relu"),
            keras.layers.Reshape((s // 4, s // 4, c)),
            keras.layers.Conv2DTranspose(c, 3, strides=2, padding="same", activation="relu"),
            keras.layers.Conv2DTranspose(1, 3, strides=2, padding="same"),
            keras.layers.Reshape((s * s,)),
            keras.layers.Softmax(),
            keras.layers.Reshape((s, s, 1)),
        ])
        model.compile(optimizer=keras.optimizers.Adam(), loss="mse")
        x = images.astype(dt)
        losses = []
        times, elapsed, cpu = timed(lambda: losses.append(float(model.train_on_batch(x, x))),
                                    args.warmup, args.seconds, args.min_steps)
        results.append(row(f"cnnae-tf-{dt}", "images", args.cnn_batch, times, elapsed, cpu,
                           dtype=dt, parameters=int(model.count_params()),
                           loss_first=losses[0], loss_last=losses[-1]))
    return results, tf.__version__


def reference_commit(path: Path) -> str | None:
    try:
        return subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"], capture_output=True,
                              text=True, check=True).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, help="checkout of zichunhao/gnn-jet-autoencoder (for gnnae-*)")
    parser.add_argument("--models", default="gnnae-jl,gnnae-pl", help="comma-separated: gnnae-jl, gnnae-pl, cnnae")
    parser.add_argument("--dtypes", default="float64,float32", help="CNNAE precisions (default float64,float32)")
    parser.add_argument("--seconds", type=float, default=5.0, help="minimum timed seconds per measurement")
    parser.add_argument("--min-steps", type=int, default=3)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--batch", type=int, default=32, help="GNNAE jets per step (default 32)")
    parser.add_argument("--cnn-batch", type=int, default=64, help="CNNAE images per step (default 64)")
    parser.add_argument("--lr", type=float, default=1e-3)
    parser.add_argument("--l1-lambda", type=float, default=1e-8)
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    models = [m for m in args.models.split(",") if m]
    unknown = set(models) - {"gnnae-jl", "gnnae-pl", "cnnae"}
    if unknown:
        sys.exit(f"baselines_reference: unknown models {sorted(unknown)}")
    if any(m.startswith("gnnae") for m in models) and args.reference is None:
        sys.exit("baselines_reference: the GNNAE needs --reference CHECKOUT")

    jets = synthetic_jets(max(args.batch, args.cnn_batch), args.seed)
    out = {"python": platform.python_version(), "cpu_count": os.cpu_count(), "threads": 1,
           "seconds": args.seconds, "results": []}
    for name in models:
        if name.startswith("gnnae"):
            out["results"].append(bench_gnnae(args, name, jets))
            import torch
            out["torch"] = torch.__version__
            out["reference_commit"] = reference_commit(args.reference)
    if "cnnae" in models:
        rows, version = bench_cnnae(args, [d for d in args.dtypes.split(",") if d], jets)
        out["results"] += rows
        out["tensorflow"] = version
    out["load_average"] = os.getloadavg()
    print(json.dumps(out))


if __name__ == "__main__":
    main()

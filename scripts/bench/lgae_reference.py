#!/usr/bin/env python3
"""Throughput of the paper's PyTorch reference LGAE (github.com/zichunhao/lgn-autoencoder) on CPU.

Measures what the Swift `lgae-bench` measures, on the reference implementation of
"Lorentz group equivariant autoencoders" (Hao et al. 2023), so the two can be compared on the
same machine:

- training:  jets/s of full steps as in the reference's `utils/train.py::train`
             (per-jet normalisation, encoder, decoder, `get_real`, Chamfer loss + L1 penalty,
             zero_grad, backward, Adam step on both optimisers, `loss.item()`);
- inference: jets/s of normalisation + encoder + decoder + `get_real` under `torch.no_grad()`
             with the modules in eval mode (as the reference's `validate`).

for each thread count in --threads (`torch.set_num_threads`), float64, device cpu.

The reference code is NOT part of this project: check it out anywhere and pass its path, e.g.

    M=$(...path printed by fetching github:zichunhao/lgn-autoencoder...)   # a bare git dir
    mkdir -p /tmp/lgn-autoencoder && git --git-dir="$M" archive HEAD | tar -x -C /tmp/lgn-autoencoder
    python3 scripts/bench/lgae_reference.py --reference /tmp/lgn-autoencoder \\
        --reference-commit "$(git --git-dir="$M" rev-parse HEAD)"

(a `git worktree`/clone checkout needs no --reference-commit: it is read with `git rev-parse`).
Python packages: scripts/bench/requirements-lgae.txt (torch, plus scipy, numpy and matplotlib,
which the reference imports at module level).

Model configuration (the paper's default; the reference's `main.py` flag in brackets):
  encoder channels [3,3,4,4] (--encoder-num-channels), decoder channels [4,4,3,3]
  (--decoder-num-channels), irreps up to (1/2,1/2) (--maxdim 2: the reference labels irreps by
  doubled weights (k,n) and maxdim is exclusive, so 2 keeps (0,0) and (1,1) = (1/2,1/2)),
  zonal functions up to (1,1) (max_zf=[1], hard-coded in `utils/initialize.py`),
  10 radial basis functions (--num-basis-fn), an MLP of depth 6 and width multiplier 6 on the
  scalars after every CG level (--mlp-depth/--mlp-width, leaky ReLU), weights ~ randn,
  level gain 1, scale 1, no jet features, 30 particles.
  Latent: 'minmax' = the reference's --map-to-latent "min&max" with --tau-latent-vectors TAU
  (default 4) and --tau-latent-scalars 1; '&' concatenates, so the decoder receives 2*TAU vectors
  and 2 scalars (compression 2*2*(1+4*TAU)/120 = 56.7% for TAU=4).
  'mix' = --map-to-latent mix with TAU (default 2) vectors and 1 scalar.
  Loss: ChamferLoss (squared Euclidean distance in 4 dimensions, min over each side, summed over
  the batch) on get_real(method='sum') of the decoder output (the README's training command),
  plus 1e-8 * L1 norm of all parameters (--l1-lambda default 1e-8). Adam, lr 1e-3, one optimiser
  for the encoder and one for the decoder (as `initialize_optimizers`).
  Input normalisation: 'overall_max' (`utils/normalize_p4.py`, the default), applied to every
  batch inside the timed step as the training loop does.

Synthetic jets (values do not change the cost; the Swift benchmark uses the same recipe):
  B jets x 30 particles, all real (mask 1). Per particle, independently:
      pt ~ Exponential(1), eta ~ Normal(0, 0.2), phi ~ Normal(0, 0.2),
      p4 = (E, px, py, pz) = (pt cosh eta, pt cos phi, pt sin phi, pt sinh eta)   [massless, E=|p|]
  then each jet is divided by its largest |component| over all particles and components (so the
  max is 1; the reference's overall_max normalisation is then a no-op up to its 1e-16 epsilon).
  Random numbers: torch.Generator seeded with --seed (the stream differs from Swift's; only the
  distribution is shared).

Output: human-readable lines on stderr; one JSON object on stdout:
  {"torch": ..., "reference_commit": ..., "config": {...},
   "results": [{"threads": 1, "train_jets_per_s": ..., "infer_jets_per_s": ..., ...}, ...]}
*_jets_per_s are wall-clock figures (all timed jets / timed seconds). Each row also has the
median step time and the throughput it implies (*_jets_per_s_median_step, less sensitive to
bursts of other load), *_jets_per_cpu_s (jets per CPU-second of this process; with 1 thread
less sensitive to other load than wall time, though not immune: shared caches and memory
bandwidth still slow it) and the 1-minute load average before/after (which counts this process
itself), so a run on a busy machine is recognisable. Run it on an otherwise idle machine: with
2 threads on 2 cores, any other load makes PyTorch's OpenMP threads wait for each other and the
figure collapses (5 instead of 65 inference jets/s was seen).

Quirks of the reference worth knowing when comparing with another implementation:
  - main.py calls torch.autograd.set_detect_anomaly(True) before training; that is a debugging
    aid and is off here unless --detect-anomaly is given (it costs ~30% of training throughput).
  - main.py's default --get-real-method is 'real', the README's training command uses 'sum';
    either is one elementwise op on the output, so the choice does not affect the cost.
  - The decoder builds its node and edge masks as zeros (LGNDecoder._prepare_input), so its
    radial functions are masked to 0 before their linear layer and only that layer's bias
    survives: decoder edge weights are constant over edges. The tensors are still computed, so
    this does not change the cost.
  - The encoder's edge mask also drops pairs whose relative momentum has zero norm
    (`norms != 0`), which always includes the self-edges i = j.
  - The cost is dominated by `complex_kron_product` (lgn/cg_lib/cg_ops.py), which materialises
    the full batch x 30 x 30 x channels x (d1*d2) x 4 outer product before summing over
    neighbours. Those temporaries (tens of MB at batch 32) are above glibc's mmap threshold, so
    every step maps fresh pages: about 20% of an inference run is kernel time on minor page
    faults, and single-thread figures vary by +-15% from run to run even on an idle machine.
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

# The reference imports matplotlib (utils/utils.py) at module level; never open a display.
os.environ.setdefault("MPLBACKEND", "Agg")

import torch  # noqa: E402

NUM_PARTICLES = 30


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def import_reference(path: Path):
    """Import the pieces of the reference that its training loop uses, from the checkout at `path`.

    The reference has no setup.py: its scripts run from the repository root and import `lgn.*`
    and `utils.*` as top-level packages, so the checkout goes first on sys.path (ahead of any
    other `utils` module).

    `utils/losses/__init__.py` also imports the EMD loss (needs `jetnet`, which pulls a large
    dependency tree) and the Hungarian loss (needs scipy) only to re-export them. The Chamfer loss
    needs neither, so `utils.losses` is pre-registered as an empty package pointing at the same
    directory: `utils.losses.chamfer_loss.chamfer_loss` then imports exactly as in the reference,
    relative imports included, without running that `__init__`.
    """
    path = path.resolve()
    if not (path / "lgn" / "models" / "lgn_encoder.py").is_file():
        sys.exit(f"lgae_reference: {path} does not look like a lgn-autoencoder checkout "
                 "(no lgn/models/lgn_encoder.py)")
    sys.path.insert(0, str(path))

    import utils  # namespace package (the reference has no utils/__init__.py)

    losses_pkg = types.ModuleType("utils.losses")
    losses_pkg.__path__ = [str(path / "utils" / "losses")]
    sys.modules["utils.losses"] = losses_pkg
    utils.losses = losses_pkg

    from lgn.models import LGNEncoder, LGNDecoder
    from utils.losses.chamfer_loss.chamfer_loss import ChamferLoss
    from utils.normalize_p4 import normalize_p4
    from utils.utils import get_real

    return types.SimpleNamespace(LGNEncoder=LGNEncoder, LGNDecoder=LGNDecoder,
                                 ChamferLoss=ChamferLoss, normalize_p4=normalize_p4,
                                 get_real=get_real)


def reference_commit(path: Path, given: str | None) -> str | None:
    if given:
        return given
    try:
        out = subprocess.run(["git", "-C", str(path), "rev-parse", "HEAD"],
                             capture_output=True, text=True, check=True)
        return out.stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None  # e.g. an extracted `git archive`: pass --reference-commit


def synthetic_jets(batch: int, generator: torch.Generator, dtype=torch.float64) -> torch.Tensor:
    """B x 30 x 4 massless jets around the z axis, each scaled so its max |component| is 1."""
    shape = (batch, NUM_PARTICLES)
    pt = torch.empty(shape, dtype=dtype).exponential_(1.0, generator=generator)
    eta = 0.2 * torch.randn(shape, dtype=dtype, generator=generator)
    phi = 0.2 * torch.randn(shape, dtype=dtype, generator=generator)
    p4 = torch.stack((pt * torch.cosh(eta), pt * torch.cos(phi),
                      pt * torch.sin(phi), pt * torch.sinh(eta)), dim=-1)
    return p4 / p4.abs().amax(dim=(-2, -1), keepdim=True)


def build_model(ref, args):
    """Encoder, decoder and optimisers exactly as utils/initialize.py builds them from main.py's
    arguments (the values are the defaults / the paper's configuration, see the docstring)."""
    device, dtype = torch.device("cpu"), torch.float64
    map_to_latent = {"minmax": "min&max", "mix": "mix"}[args.aggregation]
    common = dict(maxdim=[2], max_zf=[1], num_basis_fn=10, weight_init="randn",
                  level_gain=[1.0], activation="leakyrelu", mlp=True, mlp_depth=6,
                  mlp_width=6, device=device, dtype=dtype)
    encoder = ref.LGNEncoder(
        num_input_particles=NUM_PARTICLES, tau_input_scalars=1, tau_input_vectors=1,
        map_to_latent=map_to_latent, tau_latent_scalars=args.tau_scalars,
        tau_latent_vectors=args.tau, num_channels=[3, 3, 4, 4], scale=1.0,
        jet_features=False, **common)
    # As initialize_autoencoder: with '&' the latent multiplicities are concatenated.
    mult = len(map_to_latent.split("&")) if "&" in map_to_latent else 1
    decoder = ref.LGNDecoder(
        tau_latent_scalars=args.tau_scalars * mult, tau_latent_vectors=args.tau * mult,
        num_output_particles=NUM_PARTICLES, tau_output_scalars=1, tau_output_vectors=1,
        num_channels=[4, 4, 3, 3], cg_dict=encoder.cg_dict, **common)
    opt_enc = torch.optim.Adam(encoder.parameters(), args.lr)
    opt_dec = torch.optim.Adam(decoder.parameters(), args.lr)
    return encoder, decoder, opt_enc, opt_dec


def make_batch(p4: torch.Tensor) -> dict:
    """What the reference's DataLoader yields for the JetNet files: p4, labels (mask), Nobj."""
    labels = torch.ones(p4.shape[:2], dtype=torch.int64)
    return {"p4": p4.clone(), "labels": labels, "Nobj": labels.sum(dim=-1)}


def train_step(ref, args, encoder, decoder, opt_enc, opt_dec, batch) -> float:
    """One iteration of the body of utils/train.py::train with is_train=True.

    Left out: appending detached copies of the (de-normalised) reconstruction/target to lists for
    plotting (a 32x30x4 multiply and copy; the lists would grow without bound here)."""
    batch["p4"], _norm_factor = ref.normalize_p4(batch["p4"], "overall_max")
    latent = encoder(batch, covariance_test=False)
    p4_recons = decoder(latent, covariance_test=False)
    p4_target = batch["p4"]
    p4_recons = ref.get_real(p4_recons, method=args.get_real_method)
    # get_loss: a ChamferLoss is constructed per batch there too.
    loss = ref.ChamferLoss(device=torch.device("cpu"))(p4_recons, p4_target, jet_features=False)
    if args.l1_lambda > 0:
        loss = loss + args.l1_lambda * (encoder.l1_norm() + decoder.l1_norm())
    value = loss.item()
    opt_enc.zero_grad()
    opt_dec.zero_grad()
    loss.backward()
    opt_enc.step()
    opt_dec.step()
    return value


@torch.no_grad()
def infer_step(ref, args, encoder, decoder, batch) -> torch.Tensor:
    batch["p4"], _norm_factor = ref.normalize_p4(batch["p4"], "overall_max")
    latent = encoder(batch, covariance_test=False)
    p4_recons = decoder(latent, covariance_test=False)
    return ref.get_real(p4_recons, method=args.get_real_method)


def timed(step, batches, warmup: int, seconds: float, min_steps: int):
    """Run `step(batch)` `warmup` times untimed, then until both `seconds` have passed and
    `min_steps` steps have run. Returns (steps, wall seconds, per-step wall seconds, process CPU
    seconds). The CPU time (all threads of this process) is reported next to the wall time
    because on a shared machine other processes take cores away: with one thread,
    jets per CPU-second is close to what an idle core would do."""
    for i in range(warmup):
        step(make_batch(batches[i % len(batches)]))
    times = []
    cpu0 = time.process_time()
    start = time.perf_counter()
    while True:
        # Building the input dict is part of what a DataLoader iteration costs; it is tiny.
        t0 = time.perf_counter()
        step(make_batch(batches[len(times) % len(batches)]))
        times.append(time.perf_counter() - t0)
        elapsed = time.perf_counter() - start
        if elapsed >= seconds and len(times) >= min_steps:
            return len(times), elapsed, times, time.process_time() - cpu0


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--reference", type=Path, required=True,
                        help="path of a checkout of github.com/zichunhao/lgn-autoencoder")
    parser.add_argument("--reference-commit", default=None,
                        help="commit of that checkout, for the report (default: git rev-parse)")
    parser.add_argument("--seconds", type=float, default=10.0,
                        help="minimum timed seconds per measurement (default 10)")
    parser.add_argument("--min-steps", type=int, default=5,
                        help="minimum timed steps per measurement (default 5)")
    parser.add_argument("--warmup", type=int, default=3, help="untimed steps first (default 3)")
    parser.add_argument("--batch", type=int, default=32, help="jets per step (default 32)")
    parser.add_argument("--threads", default="1,2",
                        help="comma-separated torch.set_num_threads values (default 1,2)")
    parser.add_argument("--aggregation", choices=("minmax", "mix"), default="minmax",
                        help="latent aggregation: minmax (reference 'min&max') or mix")
    parser.add_argument("--tau", type=int, default=None,
                        help="latent 4-vector multiplicity (default 4 for minmax, 2 for mix)")
    parser.add_argument("--tau-scalars", type=int, default=1,
                        help="latent scalar multiplicity (default 1)")
    parser.add_argument("--lr", type=float, default=1e-3, help="Adam learning rate (default 1e-3)")
    parser.add_argument("--l1-lambda", type=float, default=1e-8,
                        help="L1 penalty in the training loss, as the reference (default 1e-8)")
    parser.add_argument("--get-real-method", default="sum",
                        help="reference get_real method for the complex output (default sum)")
    parser.add_argument("--detect-anomaly", action="store_true",
                        help="torch.autograd.set_detect_anomaly(True), which the reference's "
                             "main.py turns on; off by default (a debugging aid, much slower)")
    parser.add_argument("--only", choices=("train", "inference"), default=None,
                        help="measure only one of the two")
    parser.add_argument("--seed", type=int, default=1)
    args = parser.parse_args()
    if args.tau is None:
        args.tau = 4 if args.aggregation == "minmax" else 2
    try:
        threads = [int(t) for t in args.threads.split(",")]
        assert threads and all(t >= 1 for t in threads)
    except (ValueError, AssertionError):
        sys.exit(f"lgae_reference: --threads needs positive integers, got {args.threads!r}")

    ref = import_reference(args.reference)
    commit = reference_commit(args.reference, args.reference_commit)
    torch.autograd.set_detect_anomaly(args.detect_anomaly)

    # A handful of different batches, cycled, so no step sees exactly the previous input.
    gen = torch.Generator().manual_seed(args.seed)
    batches = [synthetic_jets(args.batch, gen) for _ in range(4)]

    config = {
        "particles": NUM_PARTICLES, "batch": args.batch, "dtype": "float64", "device": "cpu",
        "encoder_num_channels": [3, 3, 4, 4], "decoder_num_channels": [4, 4, 3, 3],
        "maxdim_reference": 2, "irreps": ["(0,0)", "(1/2,1/2)"], "max_zf": 1,
        "num_basis_fn": 10, "mlp_depth": 6, "mlp_width": 6, "activation": "leakyrelu",
        "aggregation": args.aggregation,
        "map_to_latent": {"minmax": "min&max", "mix": "mix"}[args.aggregation],
        "tau_latent_vectors": args.tau, "tau_latent_scalars": args.tau_scalars,
        "loss": "chamfer", "get_real_method": args.get_real_method, "l1_lambda": args.l1_lambda,
        "optimizer": "adam", "lr": args.lr, "normalize": "overall_max",
        "detect_anomaly": args.detect_anomaly, "seconds": args.seconds,
        "warmup_steps": args.warmup, "seed": args.seed,
    }
    log(f"torch {torch.__version__}, reference {commit or 'unknown commit'} at {args.reference}, "
        f"{platform.processor() or platform.machine()}, {os.cpu_count()} CPUs")

    results = []
    for n in threads:
        torch.set_num_threads(n)
        # A fresh model per thread count (same seed), so every row starts from the same weights
        # and optimiser state rather than from where the previous row's training left them.
        torch.manual_seed(args.seed)
        encoder, decoder, opt_enc, opt_dec = build_model(ref, args)
        num_params = sum(p.numel() for m in (encoder, decoder) for p in m.parameters()
                         if p.requires_grad)
        row = {"threads": torch.get_num_threads(), "batch": args.batch}

        if args.only in (None, "train"):
            encoder.train(), decoder.train()
            losses = []
            load0 = os.getloadavg()[0]
            steps, elapsed, times, cpu = timed(
                lambda b: losses.append(train_step(ref, args, encoder, decoder, opt_enc, opt_dec, b)),
                batches, args.warmup, args.seconds, args.min_steps)
            row.update(train_jets_per_s=steps * args.batch / elapsed, train_steps=steps,
                       train_step_ms_median=1e3 * statistics.median(times),
                       train_jets_per_s_median_step=args.batch / statistics.median(times),
                       train_jets_per_cpu_s=steps * args.batch / cpu,
                       train_loadavg_1min=[load0, os.getloadavg()[0]],
                       train_loss_first=losses[0], train_loss_last=losses[-1])
            log(f"threads={n}  train  {row['train_jets_per_s']:8.2f} jets/s "
                f"({row['train_jets_per_s'] / n:7.2f} /thread, {row['train_jets_per_cpu_s']:7.2f} /CPU-s; "
                f"{steps} steps in {elapsed:.1f} s, median {row['train_step_ms_median']:.0f} ms/step; "
                f"loss {losses[0]:.4g} -> {losses[-1]:.4g}; load {load0:.2f})")

        if args.only in (None, "inference"):
            encoder.eval(), decoder.eval()
            load0 = os.getloadavg()[0]
            steps, elapsed, times, cpu = timed(lambda b: infer_step(ref, args, encoder, decoder, b),
                                               batches, args.warmup, args.seconds, args.min_steps)
            row.update(infer_jets_per_s=steps * args.batch / elapsed, infer_steps=steps,
                       infer_step_ms_median=1e3 * statistics.median(times),
                       infer_jets_per_s_median_step=args.batch / statistics.median(times),
                       infer_jets_per_cpu_s=steps * args.batch / cpu,
                       infer_loadavg_1min=[load0, os.getloadavg()[0]])
            log(f"threads={n}  infer  {row['infer_jets_per_s']:8.2f} jets/s "
                f"({row['infer_jets_per_s'] / n:7.2f} /thread, {row['infer_jets_per_cpu_s']:7.2f} /CPU-s; "
                f"{steps} steps in {elapsed:.1f} s, median {row['infer_step_ms_median']:.0f} ms/step; "
                f"load {load0:.2f})")
        results.append(row)

    config["learnable_parameters"] = num_params
    print(json.dumps({"torch": torch.__version__, "reference_commit": commit,
                      "python": platform.python_version(), "cpu_count": os.cpu_count(),
                      "config": config, "results": results}))


if __name__ == "__main__":
    main()

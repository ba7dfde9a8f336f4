#!/usr/bin/env python3
"""Generate a small, JetNet-format (30-particle) sample archive offline.

Why this exists
---------------
The real JetNet files (Zenodo record 6975118) cannot be downloaded from the
build machines.  The pipeline still needs realistic ~1 TeV jets with the exact
file layout, so this script simulates them with the same physics tools family
that made JetNet (Pythia 8 + FastJet) and writes:

    g.hdf5 q.hdf5 t.hdf5 w.hdf5 z.hdf5        (zipped at the top level)

each with
    particle_features  float32 [N, 30, 4]  (etarel, phirel, ptrel, mask)
    jet_features       float32 [N, 4]      (pt [GeV], eta, mass [GeV], n_particles)

Everything is deterministic: fixed Pythia seeds, fixed numpy seeds for the
detector smearing, HDF5 written without timestamps, and a zip with fixed entry
order, timestamps, permissions and compression.  Running it twice gives
byte-identical output (the --self-check option verifies this on a small N).

See scripts/make_sample/README.md for the physics choices and the known
differences from the real dataset.
"""

from __future__ import annotations

import argparse
import concurrent.futures as cf
import hashlib
import io
import multiprocessing as mp
import os
import shutil
import sys
import tempfile
import time
import zipfile
from pathlib import Path

import numpy as np

# --------------------------------------------------------------------------
# Configuration
# --------------------------------------------------------------------------

N_PARTICLES = 30            # JetNet 30-particle record
JET_R = 0.8                 # anti-kT radius used by JetNet / hls4ml
JET_PT_MIN, JET_PT_MAX = 800.0, 1600.0   # window on the reconstructed jet pT (GeV)
JET_ABS_ETA_MAX = 2.0       # keep the whole R=0.8 cone inside the calorimeter (|eta|<3)

# pT-hat window of the 2->2 hard process: JetNet's partons / W / Z / top were
# generated with pT within ~1% of 1 TeV.
PTHAT_MIN, PTHAT_MAX = 990.0, 1010.0

# Simplified detector (see README "Detector emulation").
TRACK_PT_MIN = 1.0          # GeV; charged particles above this are tracks
TRACK_ABS_ETA_MAX = 2.5     # tracker acceptance
CALO_ABS_ETA_MAX = 3.0      # calorimeter acceptance
CELL_DETA = 0.0025          # cell size in eta (grid seen in real JetNet constituents)
CELL_NPHI = 2512            # cells in phi -> 2*pi/2512 ~ 0.0025013 rad
CELL_DPHI = 2.0 * np.pi / CELL_NPHI
CELL_PT_MIN = 1.0           # GeV; cell threshold (keeps noise-like soft deposits out)
# Resolutions, sigma/x = a/sqrt(E) (+) b (+) c*pT in quadrature.
TRACK_RES_CONST = 0.01      # 1% ...
TRACK_RES_SLOPE = 1.0e-4    # ... (+) 0.01% x pT[GeV]  (curvature resolution)
ECAL_RES_STOCH, ECAL_RES_CONST = 0.05, 0.005   # photons / electrons without a track
HCAL_RES_STOCH, HCAL_RES_CONST = 0.50, 0.03    # neutral (and untracked charged) hadrons

# Per-class hard processes and fixed seeds.  Pythia seeds must be in
# [1, 900000000]; the numpy seed drives only the detector smearing.
CLASSES = {
    "g": dict(pythia_seed=101, smear_seed=1101, settings=[
        "HardQCD:gg2gg = on",
        "HardQCD:qqbar2gg = on",
    ]),
    "q": dict(pythia_seed=102, smear_seed=1102, settings=[
        "HardQCD:qq2qq = on",
        "HardQCD:qqbar2qqbarNew = on",
        "HardQCD:nQuarkNew = 3",            # light flavours u, d, s
    ]),
    "t": dict(pythia_seed=103, smear_seed=1103, settings=[
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "24:onMode = off",                  # W -> quarks only (fully hadronic top)
        "24:onIfAny = 1 2 3 4 5",
    ]),
    "w": dict(pythia_seed=104, smear_seed=1104, settings=[
        "WeakDoubleBoson:ffbar2WW = on",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    ]),
    "z": dict(pythia_seed=105, smear_seed=1105, settings=[
        "WeakDoubleBoson:ffbar2gmZgmZ = on",
        "WeakZ0:gmZmode = 2",               # pure Z, no gamma*
        "23:onMode = off",                  # Z -> quarks only
        "23:onIfAny = 1 2 3 4 5",
    ]),
}
CLASS_ORDER = ["g", "q", "t", "w", "z"]     # JetNet class order; also zip order

COMMON_SETTINGS = [
    "Beams:eCM = 13000.",
    "Tune:pp = 14",                         # Monash 2013 (what JetNet used)
    f"PhaseSpace:pTHatMin = {PTHAT_MIN}",
    f"PhaseSpace:pTHatMax = {PTHAT_MAX}",
    "Random:setSeed = on",
    "Print:quiet = on",
    "Next:numberCount = 0",
]

ZIP_DATE = (1980, 1, 1, 0, 0, 0)            # earliest DOS date: fixed entry timestamps

# --------------------------------------------------------------------------
# Event generation + detector + jet building (runs in a worker process)
# --------------------------------------------------------------------------


def _final_visible_particles(event):
    """Final-state, detector-visible particles of a Pythia event as numpy arrays.

    Neutrinos are dropped (isVisible).  Muons are flagged because they leave a
    track but no calorimeter deposit.
    """
    pt, eta, phi, charged, em, muon = [], [], [], [], [], []
    for i in range(event.size()):
        p = event[i]
        if not p.isFinal() or not p.isVisible():
            continue
        ppt = p.pT()
        if ppt <= 0.0:
            continue
        aid = abs(p.id())
        pt.append(ppt)
        eta.append(p.eta())
        phi.append(p.phi())
        charged.append(p.isCharged())
        em.append(aid == 22 or aid == 11)
        muon.append(aid == 13)
    return (np.asarray(pt, dtype=np.float64), np.asarray(eta, dtype=np.float64),
            np.asarray(phi, dtype=np.float64), np.asarray(charged, dtype=bool),
            np.asarray(em, dtype=bool), np.asarray(muon, dtype=bool))


def _detector(pt, eta, phi, charged, em, muon, rng):
    """Very simple detector: tracks kept as they are (pT smeared), everything
    else summed into a fine (0.0025 x 2pi/2512) calorimeter grid.

    Returns massless reconstructed objects (pt, eta, phi).  The random draws
    happen in a fixed order (tracks, then deposits), so with a fixed rng seed
    and a fixed event sequence the output is reproducible.
    """
    is_track = charged & (pt > TRACK_PT_MIN) & (np.abs(eta) < TRACK_ABS_ETA_MAX)

    # Tracks: direction exact (off-grid, like the non-grid constituents in real
    # JetNet), pT smeared with a constant + curvature term.
    t_pt = pt[is_track]
    t_sigma = np.sqrt(TRACK_RES_CONST**2 + (TRACK_RES_SLOPE * t_pt) ** 2)
    t_pt = t_pt * (1.0 + t_sigma * rng.standard_normal(t_pt.size))
    t_pt = np.clip(t_pt, 0.0, None)
    t_eta = eta[is_track]
    t_phi = phi[is_track]

    # Calorimeter deposits: neutrals, soft or out-of-tracker charged particles.
    # Muons do not shower, so untracked muons are lost.
    is_dep = (~is_track) & (~muon) & (np.abs(eta) < CALO_ABS_ETA_MAX)
    d_eta = eta[is_dep]
    d_e = pt[is_dep] * np.cosh(d_eta)
    d_em = em[is_dep]
    stoch = np.where(d_em, ECAL_RES_STOCH, HCAL_RES_STOCH)
    const = np.where(d_em, ECAL_RES_CONST, HCAL_RES_CONST)
    d_sigma = np.sqrt(stoch**2 / np.maximum(d_e, 1e-9) + const**2)
    d_e = np.clip(d_e * (1.0 + d_sigma * rng.standard_normal(d_e.size)), 0.0, None)

    # Sum deposits per cell.  Cell centres sit on integer multiples of the cell
    # size, which reproduces the grid pattern of the real data.
    ieta = np.rint(d_eta / CELL_DETA).astype(np.int64)
    iphi = np.rint(phi[is_dep] / CELL_DPHI).astype(np.int64) % CELL_NPHI
    key = ieta * CELL_NPHI + iphi
    cells, inverse = np.unique(key, return_inverse=True)   # sorted -> deterministic
    c_e = np.bincount(inverse, weights=d_e, minlength=cells.size)
    c_ieta = np.floor_divide(cells, CELL_NPHI)
    c_iphi = cells - c_ieta * CELL_NPHI
    c_eta = c_ieta * CELL_DETA
    c_phi = c_iphi * CELL_DPHI
    c_phi = np.where(c_phi > np.pi, c_phi - 2.0 * np.pi, c_phi)
    c_pt = c_e / np.cosh(c_eta)
    keep = c_pt > CELL_PT_MIN

    return (np.concatenate([t_pt, c_pt[keep]]),
            np.concatenate([t_eta, c_eta[keep]]),
            np.concatenate([t_phi, c_phi[keep]]))


def _wrap_phi(dphi):
    """Wrap angles into (-pi, pi]."""
    return np.pi - np.mod(np.pi - dphi, 2.0 * np.pi)


def generate_class(jet_type: str, n_jets: int, out_path: str) -> dict:
    """Generate n_jets accepted jets of one class and write <out_path> (HDF5)."""
    # Imported here so each worker process owns its own Pythia instance.
    import fastjet
    import h5py
    import pythia8mc

    # FastJet prints its banner on stdout the first time it clusters; send the
    # worker's stdout to stderr so the parent's stdout carries only the report.
    sys.stdout.flush()
    os.dup2(2, 1)

    cfg = CLASSES[jet_type]
    t_start = time.process_time()

    pythia = pythia8mc.Pythia("", False)    # False: no banner
    for s in COMMON_SETTINGS + [f"Random:seed = {cfg['pythia_seed']}"] + cfg["settings"]:
        if not pythia.readString(s):
            raise RuntimeError(f"Pythia rejected setting: {s}")
    if not pythia.init():
        raise RuntimeError(f"Pythia init failed for class {jet_type}")

    rng = np.random.default_rng(cfg["smear_seed"])
    jet_def = fastjet.JetDefinition(fastjet.antikt_algorithm, JET_R)

    particle_features = np.zeros((n_jets, N_PARTICLES, 4), dtype=np.float32)
    jet_features = np.zeros((n_jets, 4), dtype=np.float32)
    n_full = np.zeros(n_jets, dtype=np.int64)    # full constituent count (for checks)

    n_events = n_failed = 0
    n_acc = 0
    max_events = 50 * n_jets + 1000              # safety net, never reached in practice
    while n_acc < n_jets:
        if n_events >= max_events:
            raise RuntimeError(f"{jet_type}: only {n_acc} jets after {n_events} events")
        n_events += 1
        if not pythia.next():
            n_failed += 1
            continue

        pt, eta, phi = _detector(*_final_visible_particles(pythia.event), rng)
        if pt.size == 0:
            continue

        # Massless four-vectors, user_index -> position in our arrays.
        px, py, pz, e = pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta), pt * np.cosh(eta)
        inputs = []
        for k in range(pt.size):
            pj = fastjet.PseudoJet(float(px[k]), float(py[k]), float(pz[k]), float(e[k]))
            pj.set_user_index(k)
            inputs.append(pj)
        cs = fastjet.ClusterSequence(inputs, jet_def)
        jets = fastjet.sorted_by_pt(cs.inclusive_jets(0.0))
        if not jets:
            continue
        jet = jets[0]                             # leading jet only
        j_pt, j_eta = jet.pt(), jet.eta()
        if not (JET_PT_MIN < j_pt < JET_PT_MAX) or abs(j_eta) > JET_ABS_ETA_MAX:
            continue

        idx = np.array([c.user_index() for c in jet.constituents()], dtype=np.int64)
        # Sort by pT descending; ties (practically impossible) broken by index
        # so the order never depends on FastJet's internal ordering.
        idx = idx[np.lexsort((idx, -pt[idx]))]
        n_const = idx.size
        sel = idx[:N_PARTICLES]
        m = sel.size

        etarel = eta[sel] - j_eta
        phirel = _wrap_phi(phi[sel] - jet.phi())
        ptrel = pt[sel] / j_pt
        particle_features[n_acc, :m, 0] = etarel
        particle_features[n_acc, :m, 1] = phirel
        particle_features[n_acc, :m, 2] = ptrel
        particle_features[n_acc, :m, 3] = 1.0
        # n_particles: number of stored (real) particles, i.e. <= 30, which is
        # what the jetnet loader ends up using (min(stored, num_particles)).
        jet_features[n_acc] = (j_pt, j_eta, max(jet.m(), 0.0), float(m))
        n_full[n_acc] = n_const
        n_acc += 1

    write_hdf5(out_path, particle_features, jet_features)
    cpu = time.process_time() - t_start
    return dict(jet_type=jet_type, n_jets=n_jets, n_events=n_events,
                n_failed=n_failed, cpu_seconds=cpu,
                frac_full_lt30=float(np.mean(n_full < N_PARTICLES)),
                median_full_mult=float(np.median(n_full)))


def write_hdf5(path, particle_features, jet_features):
    """Write the two datasets reproducibly.

    - track_times=False: no creation/modification timestamps in object headers
    - track_order=False: no creation-order index
    - libver=('earliest', 'v110'): readable by HDF5 1.10 (system libhdf5 used by
      the Swift code) even though h5py bundles a newer HDF5
    - contiguous, uncompressed storage: simplest layout; the zip deflates it.
    """
    import h5py

    with h5py.File(path, "w", libver=("earliest", "v110"), track_order=False) as f:
        f.create_dataset("particle_features", data=particle_features, dtype="<f4",
                         track_times=False)
        f.create_dataset("jet_features", data=jet_features, dtype="<f4",
                         track_times=False)


# --------------------------------------------------------------------------
# Packaging, validation, checks
# --------------------------------------------------------------------------


def write_zip(zip_path: Path, files: list[tuple[str, Path]]):
    """Deterministic zip: fixed order, fixed timestamps/permissions, deflate level 9."""
    tmp = zip_path.with_name(zip_path.name + ".tmp")
    with zipfile.ZipFile(tmp, "w") as zf:
        for name, path in files:
            info = zipfile.ZipInfo(name, date_time=ZIP_DATE)
            info.compress_type = zipfile.ZIP_DEFLATED
            info.create_system = 3                  # "Unix", independent of host
            info.external_attr = (0o100644 << 16)   # regular file, rw-r--r--
            zf.writestr(info, path.read_bytes(), compress_type=zipfile.ZIP_DEFLATED,
                        compresslevel=9)
    os.replace(tmp, zip_path)


def validate_and_summarise(jet_type: str, path: Path) -> dict:
    """Check the JetNet schema of one file and compute the physics checks."""
    import h5py

    with h5py.File(path, "r") as f:
        assert sorted(f.keys()) == ["jet_features", "particle_features"], list(f.keys())
        pf, jf = f["particle_features"], f["jet_features"]
        assert pf.dtype == np.dtype("<f4") and jf.dtype == np.dtype("<f4")
        pf, jf = pf[...], jf[...]
    n = pf.shape[0]
    assert pf.shape == (n, N_PARTICLES, 4) and jf.shape == (n, 4), (pf.shape, jf.shape)
    mask = pf[:, :, 3]
    assert np.all((mask == 0.0) | (mask == 1.0))
    real = mask == 1.0
    nreal = real.sum(axis=1)
    # real particles first, padding after; padded rows all zero
    assert np.all(real == (np.arange(N_PARTICLES)[None, :] < nreal[:, None]))
    assert np.all(pf[~real] == 0.0)
    assert np.all(np.diff(pf[:, :, 2], axis=1)[real[:, 1:]] <= 0.0), "ptrel not descending"
    assert np.all(np.abs(pf[:, :, 1][real]) <= np.float32(np.pi))
    assert np.all(jf[:, 3] == nreal.astype(np.float32))
    return dict(
        jet_type=jet_type, n=n,
        median_mass=float(np.median(jf[:, 2])),
        frac_lt30=float(np.mean(nreal < N_PARTICLES)),
        max_abs_etarel=float(np.abs(pf[:, :, 0][real]).max()),
        max_abs_phirel=float(np.abs(pf[:, :, 1][real]).max()),
        pt_min=float(jf[:, 0].min()), pt_max=float(jf[:, 0].max()),
        median_pt=float(np.median(jf[:, 0])),
        max_abs_eta=float(np.abs(jf[:, 1]).max()),
        mean_nparticles=float(nreal.mean()),
    )


def checks_table(rows: list[dict]) -> str:
    head = (f"{'class':<5} {'N':>6} {'median m [GeV]':>14} {'frac n<30':>9} "
            f"{'max|etarel|':>11} {'max|phirel|':>11} {'pT min':>8} {'pT median':>9} "
            f"{'pT max':>8} {'max|eta|':>8} {'mean n':>6}")
    lines = [head, "-" * len(head)]
    for r in rows:
        lines.append(
            f"{r['jet_type']:<5} {r['n']:>6d} {r['median_mass']:>14.1f} {r['frac_lt30']:>9.3f} "
            f"{r['max_abs_etarel']:>11.3f} {r['max_abs_phirel']:>11.3f} {r['pt_min']:>8.1f} "
            f"{r['median_pt']:>9.1f} {r['pt_max']:>8.1f} {r['max_abs_eta']:>8.2f} "
            f"{r['mean_nparticles']:>6.1f}")
    return "\n".join(lines)


def file_digest(path: Path, algo: str) -> str:
    h = hashlib.new(algo)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def versions() -> dict:
    import importlib.metadata as md
    import h5py
    out = {}
    for pkg in ("pythia8mc", "fastjet", "h5py", "numpy"):
        out[pkg] = md.version(pkg)
    out["HDF5 (bundled with h5py)"] = h5py.version.hdf5_version
    out["python"] = sys.version.split()[0]
    return out


def build(n_jets: int, classes: list[str], jobs: int, workdir: Path) -> list[dict]:
    """Run the classes in at most `jobs` worker processes; files land in workdir."""
    # "spawn": every worker starts from a clean interpreter (no forked state).
    ctx = mp.get_context("spawn")
    # Slowest class (g) first so two workers finish at about the same time.
    order = sorted(classes, key=lambda c: ["g", "t", "q", "z", "w"].index(c))
    results = {}
    with cf.ProcessPoolExecutor(max_workers=jobs, mp_context=ctx) as pool:
        futs = {pool.submit(generate_class, c, n_jets, str(workdir / f"{c}.hdf5")): c
                for c in order}
        for fut in cf.as_completed(futs):
            r = fut.result()
            results[r["jet_type"]] = r
            print(f"  [{r['jet_type']}] {r['n_jets']} jets from {r['n_events']} events "
                  f"in {r['cpu_seconds']:.1f} CPU s "
                  f"({r['n_jets'] / max(r['cpu_seconds'], 1e-9):.0f} jets/CPU-s)",
                  file=sys.stderr, flush=True)
    return [results[c] for c in classes]


def main(argv=None) -> int:
    here = Path(__file__).resolve().parent
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--n-jets", type=int, default=2000,
                    help="accepted jets per class (default 2000)")
    ap.add_argument("--out", type=Path, default=Path("artifacts/inputs/jetnet30-sample.zip"),
                    help="output zip path")
    ap.add_argument("--jobs", type=int, default=2,
                    help="parallel worker processes (default 2, the machine has 2 cores)")
    ap.add_argument("--checks", type=str, default=str(here / "checks.txt"),
                    help="where to write the physics-check table ('' to skip)")
    ap.add_argument("--keep-hdf5", type=Path, default=None,
                    help="also keep the five .hdf5 files in this directory")
    args = ap.parse_args(argv)
    if args.n_jets < 1:
        ap.error("--n-jets must be positive")
    jobs = max(1, min(args.jobs, len(CLASS_ORDER)))

    t0 = time.time()
    args.out.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="jetnet-sample-") as tmp:
        workdir = Path(tmp)
        print(f"Generating {args.n_jets} jets per class for {','.join(CLASS_ORDER)} "
              f"with {jobs} worker(s)...", file=sys.stderr, flush=True)
        build(args.n_jets, CLASS_ORDER, jobs, workdir)
        rows = [validate_and_summarise(c, workdir / f"{c}.hdf5") for c in CLASS_ORDER]
        write_zip(args.out, [(f"{c}.hdf5", workdir / f"{c}.hdf5") for c in CLASS_ORDER])
        if args.keep_hdf5 is not None:
            args.keep_hdf5.mkdir(parents=True, exist_ok=True)
            for c in CLASS_ORDER:
                shutil.copyfile(workdir / f"{c}.hdf5", args.keep_hdf5 / f"{c}.hdf5")
        member_sha = {c: file_digest(workdir / f"{c}.hdf5", "sha256") for c in CLASS_ORDER}
    wall = time.time() - t0

    size = args.out.stat().st_size
    md5 = file_digest(args.out, "md5")
    sha = file_digest(args.out, "sha256")

    # checks.txt holds only reproducible content (no wall time), so it is
    # itself byte-identical between runs.
    report = io.StringIO()
    report.write(f"JetNet-format sample: {args.out.name}, {args.n_jets} jets per class\n")
    report.write("versions: " + ", ".join(f"{k} {v}" for k, v in versions().items()) + "\n\n")
    report.write(checks_table(rows) + "\n\n")
    report.write("expected median jet mass (approx.): t~174, w~82, z~92, q~70, g~120 GeV\n\n")
    for c in CLASS_ORDER:
        report.write(f"sha256 {c}.hdf5  {member_sha[c]}\n")
    report.write(f"zip size  {size} bytes\n")
    report.write(f"zip md5    {md5}\n")
    report.write(f"zip sha256 {sha}\n")
    text = report.getvalue()
    print(text, end="")
    print(f"wall time {wall:.1f} s", flush=True)
    if args.checks:
        Path(args.checks).parent.mkdir(parents=True, exist_ok=True)
        Path(args.checks).write_text(text)
    if size >= 15_000_000:
        print(f"ERROR: archive is {size} bytes, over the 15 MB budget", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())

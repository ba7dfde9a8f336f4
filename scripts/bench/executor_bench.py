#!/usr/bin/env python3
"""Executor overhead: pipeline vs DVC vs Snakemake on the same trivial-shell DAGs, in one go.

Usage (from the repository root, after a release build):
    swift build -c release --static-swift-stdlib --scratch-path .build-bench --product pipeline
    python3 scripts/bench/executor_bench.py --pipeline .build-bench/release/pipeline --json bench.json

DVC and Snakemake come from scripts/bench/requirements.txt, installed into --venv (created on
first use; reused while the pinned versions match). Every timing is the wall clock of one
subprocess, median over the repetitions; all tools run one job at a time (-j 1 / --cores 1 /
dvc repro is serial) so that the numbers measure overhead, not parallelism on a shared machine.
Stdlib only.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from bench_tools import Dag, DvcTool, PipelineTool, SnakemakeTool, Tool, chain_dag, fanout_dag, run_quiet  # noqa: E402

HERE = Path(__file__).resolve().parent
REPO = HERE.parent.parent
SUMMARY = re.compile(r"pipeline: (\d+) executed, (\d+) cached, (\d+) failed in ([0-9.]+) s")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')} load {os.getloadavg()[0]:.2f}] {msg}", file=sys.stderr, flush=True)


# ---------------------------------------------------------------------------------------------
# Tools


def pinned_versions() -> dict[str, str]:
    pins = {}
    for line in (HERE / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if "==" in line:
            name, ver = line.split("==")
            pins[name.strip().lower()] = ver.strip()
    return pins


def ensure_venv(venv: Path) -> tuple[str, str]:
    """dvc and snakemake executables from a venv holding the pinned versions (installed if needed)."""
    pins = pinned_versions()
    py = venv / "bin" / "python"

    def installed() -> dict[str, str]:
        if not py.exists():
            return {}
        p = subprocess.run([str(py), "-c", "import importlib.metadata as m, json; print(json.dumps("
                            "{n: m.version(n) for n in ['dvc', 'snakemake'] if __import__('importlib.util').util.find_spec(n)}))"],
                           capture_output=True, text=True)
        return json.loads(p.stdout) if p.returncode == 0 else {}

    have = installed()
    if any(have.get(n) != v for n, v in pins.items()):
        log(f"installing {', '.join(f'{n}=={v}' for n, v in pins.items())} into {venv} (several minutes)")
        if not py.exists():
            subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        subprocess.run([str(py), "-m", "pip", "install", "-q", "--prefer-binary", "-r", str(HERE / "requirements.txt")],
                       check=True)
        have = installed()
        bad = {n: (have.get(n), v) for n, v in pins.items() if have.get(n) != v}
        if bad:
            sys.exit(f"error: {venv} holds {bad} (found, pinned) after installing requirements.txt. "
                     f"Fix: remove {venv} and rerun, or pass --dvc/--snakemake.")
    return str(venv / "bin" / "dvc"), str(venv / "bin" / "snakemake")


def tool_env(venv_bin: str | None) -> dict[str, str]:
    env = dict(os.environ)
    if venv_bin:
        env["PATH"] = venv_bin + os.pathsep + env.get("PATH", "")
    env.update({
        "DVC_NO_ANALYTICS": "1",
        "GIT_AUTHOR_NAME": "bench", "GIT_AUTHOR_EMAIL": "bench@localhost",
        "GIT_COMMITTER_NAME": "bench", "GIT_COMMITTER_EMAIL": "bench@localhost",
        "GIT_CONFIG_NOSYSTEM": "1",
    })
    env.pop("PIPELINE_STORE", None)  # each workspace uses its own store unless --store is passed
    return env


# ---------------------------------------------------------------------------------------------
# Measurement


class Measurement:
    def __init__(self) -> None:
        self.seconds: list[float] = []
        self.executed: list[int] = []
        self.internal: list[float] = []  # pipeline's own "in T s"
        self.notes: list[str] = []

    @property
    def median(self) -> float | None:
        return statistics.median(self.seconds) if self.seconds else None

    def to_json(self) -> dict:
        return {"median_s": self.median, "seconds": self.seconds, "executed": self.executed,
                "pipeline_internal_s": self.internal or None, "notes": self.notes}


def timed(tool: Tool, argv: list[str], cwd: Path, env: dict[str, str], runlog: Path,
          check: bool = True) -> tuple[float, int, subprocess.CompletedProcess]:
    runlog.write_text("")
    env = {**env, "BENCH_RUNLOG": str(runlog)}
    t0 = time.perf_counter()
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    dt = time.perf_counter() - t0
    if check and p.returncode != 0:
        raise RuntimeError(f"{tool.name}: `{' '.join(argv)}` failed in {cwd} (exit {p.returncode})\n"
                           f"stdout:\n{p.stdout[-4000:]}\nstderr:\n{p.stderr[-4000:]}")
    executed = len([ln for ln in runlog.read_text().splitlines() if ln.strip()])
    return dt, executed, p


def record(m: Measurement, dt: float, executed: int, p: subprocess.CompletedProcess) -> None:
    m.seconds.append(dt)
    m.executed.append(executed)
    s = SUMMARY.search(p.stdout)
    if s:
        m.internal.append(float(s.group(4)))


def repeat(reps: int, budget: float, body) -> None:
    """Run body(i) `reps` times, stopping early (after at least one) once `budget` seconds are spent."""
    spent = 0.0
    for i in range(reps):
        t0 = time.perf_counter()
        body(i)
        spent += time.perf_counter() - t0
        if spent > budget and i + 1 < reps:
            log(f"  budget of {budget:.0f} s spent after {i + 1} repetitions")
            break


def bench_tool(tool: Tool, dag: Dag, root: Path, reps: int, budget: float, observations: list[str]) -> dict[str, Measurement]:
    """All scenarios for one tool and one DAG. Workspaces live under root/<tool>/<dag>/."""
    base = root / tool.name.lower() / dag.name
    base.mkdir(parents=True)
    runlog = base / "runlog.txt"
    env = tool.env
    res: dict[str, Measurement] = {k: Measurement() for k in
                                   ["cold", "noop", "status", "param", "cutoff", "clone", "clone_checkout"]}
    label = f"{tool.name}/{dag.name}"

    # 1. First run, empty cache: a new workspace per repetition.
    main = base / "ws"

    def cold(i: int) -> None:
        ws = main if i == 0 else base / f"cold{i}"
        tool.create(ws, dag, dag.copy_params())
        dt, ex, p = timed(tool, tool.run_argv(), ws, env, runlog)
        record(res["cold"], dt, ex, p)
        if ws != main:
            shutil.rmtree(ws)
    log(f"{label}: first run")
    repeat(reps, budget, cold)
    if res["cold"].executed[0] != len(dag.stages):
        observations.append(f"{label}: first run executed {res['cold'].executed[0]} of {len(dag.stages)} stages")

    # 2. No-op rerun: nothing may execute and no output may change (content, link or mtime).
    before = tool.snapshot(main, dag)
    log(f"{label}: no-op rerun")
    repeat(reps, budget, lambda i: record(res["noop"], *timed(tool, tool.run_argv(), main, env, runlog)))
    after = tool.snapshot(main, dag)
    changed = [s for s in dag.stages if before[s] != after[s]]
    missing = [s for s in dag.stages if after[s] is None]
    res["noop"].notes.append(
        f"executed {sorted(set(res['noop'].executed))} stages; outputs changed by the no-op: "
        f"{len(changed)} of {len(dag.stages)}" + (f" ({', '.join(changed[:5])}...)" if changed else "")
        + (f"; missing outputs: {missing[:5]}" if missing else ""))

    # 3. Status / dry run.
    log(f"{label}: status")
    clean = []

    def status(i: int) -> None:
        dt, ex, p = timed(tool, tool.status_argv(), main, env, runlog)
        record(res["status"], dt, ex, p)
        clean.append(tool.status_says_clean(p.stdout, p.stderr))
    repeat(reps, budget, status)
    res["status"].notes.append(f"reports everything up to date: {all(clean)}")

    # 4. One parameter of one leaf changed (a new value every repetition, so no earlier result applies).
    params = dag.copy_params()
    wrong = []

    def param(i: int) -> None:
        params[dag.leaf]["n"] = 100000 + i
        tool.write_params(main, dag, params)
        dt, ex, p = timed(tool, tool.run_argv(), main, env, runlog)
        record(res["param"], dt, ex, p)
        out = tool.output_path(main, dag.leaf)
        if not out.exists() or out.read_text().split()[-1] != str(100000 + i):
            wrong.append(i)
    log(f"{label}: one leaf parameter changed")
    repeat(reps, budget, param)
    res["param"].notes.append(f"executed {sorted(set(res['param'].executed))} stages (expected 1: {dag.leaf}); "
                              f"leaf output carries the new value: {not wrong}")

    # 5. Early cutoff: the source stage's command changes (its `note`), its output bytes do not.
    if dag.name.startswith("chain"):
        first = dag.stages[0]

        def cutoff(i: int) -> None:
            params[first]["note"] = f"edit{i}"
            tool.write_params(main, dag, params)
            record(res["cutoff"], *timed(tool, tool.run_argv(), main, env, runlog))
        log(f"{label}: identical-output change of {first} (early cutoff)")
        repeat(reps, budget, cutoff)
        ex = sorted(set(res["cutoff"].executed))
        res["cutoff"].notes.append(f"executed {ex} stages; early cutoff (only {first} reruns): {ex == [1]}")

    # 6. Fresh clone, cache already filled.
    if isinstance(tool, SnakemakeTool):
        # Snakemake keeps no content cache; its between-workflow cache (--cache with
        # $SNAKEMAKE_OUTPUT_CACHE) must have been filled by a run that used --cache.
        fill = base / "cachefill"
        tool.prepare_clone(main, fill, dag)
        cache_dir = tool.cache_dir
        if cache_dir.exists():
            shutil.rmtree(cache_dir)
        cache_dir.mkdir(parents=True)
        dt, ex, p = timed(tool, tool.cache_run_argv(), fill, tool.clone_env(), runlog)
        res["clone"].notes.append(f"cache filled by one `--cache` run in another workspace ({dt:.2f} s, {ex} executed)")
    src = base / "cachefill" if isinstance(tool, SnakemakeTool) else main
    reference = tool.snapshot(src, dag)
    mismatched = []

    def clone(i: int) -> None:
        dst = base / f"clone{i}"
        tool.prepare_clone(src, dst, dag)
        dt, ex, p = timed(tool, tool.clone_run_argv(src), dst, tool.clone_env(), runlog)
        record(res["clone"], dt, ex, p)
        # The pipeline's outputs live in the (shared) store, a clone's in its own workspace.
        snap = tool.snapshot(src if isinstance(tool, PipelineTool) else dst, dag)
        if any(snap[s] is None or snap[s][0] != reference[s][0] for s in dag.stages):
            mismatched.append(i)
        shutil.rmtree(dst)
    log(f"{label}: fresh clone with filled cache")
    repeat(reps, budget, clone)
    res["clone"].notes.append(f"executed {sorted(set(res['clone'].executed))} stages; "
                              f"all outputs present with the original content: {not mismatched}")

    if isinstance(tool, DvcTool):
        # What `dvc checkout` alone costs in a fresh clone (the other way to restore outputs).
        def checkout(i: int) -> None:
            dst = base / f"checkout{i}"
            tool.prepare_clone(main, dst, dag)
            record(res["clone_checkout"], *timed(tool, [tool.exe, "checkout"], dst, env, runlog))
            shutil.rmtree(dst)
        log(f"{label}: fresh clone, dvc checkout only")
        repeat(reps, budget, checkout)

    return res


def bench_sample(pipeline: str, root: Path, reps: int) -> dict:
    """The issue's target: a no-op `pipeline run all` on the committed sample, in the repository root."""
    env = tool_env(None)
    log(f"sample: `pipeline run all` in {root} to fill the store (untimed)")
    p = subprocess.run([pipeline, "run", "all"], cwd=root, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"`pipeline run all` in {root} failed:\n{p.stdout[-3000:]}\n{p.stderr[-3000:]}")
    fill = SUMMARY.search(p.stdout)
    walls, internal, executed = [], [], []
    for _ in range(reps):
        t0 = time.perf_counter()
        q = subprocess.run([pipeline, "run", "all"], cwd=root, env=env, capture_output=True, text=True, check=True)
        walls.append(time.perf_counter() - t0)
        s = SUMMARY.search(q.stdout)
        internal.append(float(s.group(4)))
        executed.append(int(s.group(1)))
    return {"fill_run": fill.group(0) if fill else p.stdout.strip(), "wall_s": walls, "internal_s": internal,
            "executed": executed, "median_wall_s": statistics.median(walls), "median_internal_s": statistics.median(internal)}


# ---------------------------------------------------------------------------------------------
# Report

SCENARIOS = [
    ("cold", "first run (empty cache)"),
    ("noop", "no-op rerun"),
    ("status", "status / dry run"),
    ("param", "one leaf parameter changed, rerun"),
    ("cutoff", "source command changed, identical output, rerun"),
    ("clone", "fresh clone, cache already filled"),
    ("clone_checkout", "fresh clone, `dvc checkout` only"),
]


def fmt_time(s: float | None) -> str:
    if s is None:
        return "–"
    return f"{s * 1000:.0f} ms" if s < 1 else f"{s:.2f} s"


def fmt_cell(m: Measurement | None) -> str:
    if m is None or not m.seconds:
        return "–"
    ex = sorted(set(m.executed))
    ran = "/".join(str(e) for e in ex)
    return f"{fmt_time(m.median)} [{ran}] ×{len(m.seconds)}"


def ratio(a: Measurement | None, b: Measurement | None) -> str:
    if a is None or b is None or not a.seconds or not b.seconds:
        return "–"
    return f"{a.median / b.median:.0f}×" if a.median / b.median >= 10 else f"{a.median / b.median:.1f}×"


def machine() -> dict:
    cpu = "?"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return {"nproc": os.cpu_count(), "cpu": cpu, "kernel": platform.release(), "python": platform.python_version()}


def markdown(results: dict, meta: dict) -> str:
    out = []
    m = meta["machine"]
    out.append(f"Machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}; "
               f"load average at start {meta['load_start']}, at end {meta['load_end']}.")
    out.append("Versions: " + ", ".join(f"{k} {v}" for k, v in meta["versions"].items()) + ".")
    out.append("")
    out.append("Cells: median wall time [stages the tool executed] ×repetitions. Ratios: tool / pipeline.")
    out.append("")
    out.append("| DAG | scenario | pipeline | DVC | Snakemake | DVC/pipeline | Snakemake/pipeline |")
    out.append("|---|---|---|---|---|---|---|")
    for dag_name, per_tool in results.items():
        for key, title in SCENARIOS:
            cells = {t: per_tool.get(t, {}).get(key) for t in ["pipeline", "DVC", "Snakemake"]}
            if not any(c is not None and c.seconds for c in cells.values()):
                continue
            p, d, s = cells["pipeline"], cells["DVC"], cells["Snakemake"]
            out.append(f"| {dag_name} | {title} | {fmt_cell(p)} | {fmt_cell(d)} | {fmt_cell(s)} | {ratio(d, p)} | {ratio(s, p)} |")
    out.append("")
    out.append("pipeline's own figure (\"in T s\", from opening the store to the summary) next to the process wall time:")
    out.append("")
    out.append("| DAG | scenario | process wall (median) | pipeline \"in T s\" (median) |")
    out.append("|---|---|---|---|")
    for dag_name, per_tool in results.items():
        pm = per_tool.get("pipeline", {})
        for key in ["noop", "clone", "param"]:
            x = pm.get(key)
            if x and x.internal:
                out.append(f"| {dag_name} | {dict(SCENARIOS)[key]} | {fmt_time(x.median)} | {fmt_time(statistics.median(x.internal))} |")
    out.append("")
    t = meta.get("targets", {})
    if t:
        out.append("Targets from the issue:")
        out.append("")
        for line in t.values():
            out.append(f"- {line}")
        out.append("")
    out.append("Observations from the same runs:")
    out.append("")
    for dag_name, per_tool in results.items():
        for tool_name, scen in per_tool.items():
            for key, title in SCENARIOS:
                x = scen.get(key)
                if x and x.notes:
                    out.append(f"- {tool_name}, {dag_name}, {title}: " + "; ".join(x.notes))
    for o in meta["observations"]:
        out.append(f"- {o}")
    return "\n".join(out) + "\n"


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipeline", required=True, help="the release binary, e.g. .build-bench/release/pipeline")
    ap.add_argument("--reps", type=int, default=5, help="repetitions per scenario (median reported; default 5)")
    ap.add_argument("--budget", type=float, default=150.0,
                    help="stop repeating a scenario once it has used this many seconds (default 150; at least one repetition)")
    ap.add_argument("--skip-dvc", action="store_true")
    ap.add_argument("--skip-snakemake", action="store_true")
    ap.add_argument("--skip-sample", action="store_true", help="skip the no-op run on the repository's sample")
    ap.add_argument("--sample-root", default=str(REPO), help="workspace of the sample target (default: this repository)")
    ap.add_argument("--sample-reps", type=int, default=10)
    ap.add_argument("--venv", default=str(Path(tempfile.gettempdir()) / "pipeline-bench-venv"),
                    help="venv for dvc and snakemake (created from requirements.txt when missing)")
    ap.add_argument("--dvc", help="use this dvc executable instead of the venv's")
    ap.add_argument("--snakemake", help="use this snakemake executable instead of the venv's")
    ap.add_argument("--dags", default="chain10,fan200", help="comma-separated: chainN and/or fanN (default chain10,fan200)")
    ap.add_argument("--workdir", help="where the workspaces go (default: a new temporary directory)")
    ap.add_argument("--keep", action="store_true", help="keep the workspaces")
    ap.add_argument("--json", help="also write the raw results here")
    args = ap.parse_args()

    pipeline = str(Path(args.pipeline).resolve())
    if not os.access(pipeline, os.X_OK):
        sys.exit(f"error: --pipeline {args.pipeline} is not an executable. Fix: build it with "
                 "`swift build -c release --static-swift-stdlib --scratch-path .build-bench --product pipeline` and pass .build-bench/release/pipeline.")
    dvc_exe, smk_exe = args.dvc, args.snakemake
    if (not args.skip_dvc and not dvc_exe) or (not args.skip_snakemake and not smk_exe):
        v_dvc, v_smk = ensure_venv(Path(args.venv))
        dvc_exe, smk_exe = dvc_exe or v_dvc, smk_exe or v_smk
    venv_bin = str(Path(args.venv) / "bin")
    env = tool_env(venv_bin)

    root = Path(args.workdir) if args.workdir else Path(tempfile.mkdtemp(prefix="executor-bench-"))
    root.mkdir(parents=True, exist_ok=True)
    dags = []
    for d in args.dags.split(","):
        m = re.fullmatch(r"(chain|fan)(\d+)", d.strip())
        if not m:
            sys.exit(f"error: --dags entry '{d}' is neither chainN nor fanN. Fix: e.g. --dags chain10,fan200")
        dags.append(chain_dag(int(m.group(2))) if m.group(1) == "chain" else fanout_dag(int(m.group(2))))

    tools: list[Tool] = [PipelineTool(pipeline, env)]
    if not args.skip_dvc:
        tools.append(DvcTool(dvc_exe, env))
    if not args.skip_snakemake:
        tools.append(SnakemakeTool(smk_exe, env, root / "snakemake-output-cache"))

    meta: dict = {"machine": machine(), "load_start": " ".join(f"{x:.2f}" for x in os.getloadavg()),
                  "observations": [], "dags": {d.name: d.description for d in dags}, "workdir": str(root)}
    git = subprocess.run(["git", "-C", str(REPO), "rev-parse", "--short", "HEAD"], capture_output=True, text=True).stdout.strip()
    dirty = subprocess.run(["git", "-C", str(REPO), "status", "--porcelain", "--", "Sources"], capture_output=True, text=True).stdout.strip()
    versions = {"pipeline": f"{git}{' (Sources/ with uncommitted edits)' if dirty else ''}, release build"}
    for t in tools[1:]:
        versions[t.name] = t.version()
    versions["git"] = subprocess.run(["git", "--version"], capture_output=True, text=True).stdout.split()[-1]
    versions["Python"] = platform.python_version()
    meta["versions"] = versions
    log(f"workspaces in {root}; versions {versions}")

    results: dict[str, dict[str, dict[str, Measurement]]] = {}
    loads = []
    try:
        for dag in dags:
            results[dag.name] = {}
            for tool in tools:
                results[dag.name][tool.name] = bench_tool(tool, dag, root, args.reps, args.budget, meta["observations"])
                loads.append(os.getloadavg()[0])
        if not args.skip_sample:
            sample = bench_sample(pipeline, Path(args.sample_root), args.sample_reps)
            meta["sample"] = sample
    finally:
        if not args.keep:
            shutil.rmtree(root, ignore_errors=True)
    meta["load_end"] = " ".join(f"{x:.2f}" for x in os.getloadavg())
    meta["load_1min_during"] = loads

    targets = {}
    for dag_name, per_tool in results.items():
        m = per_tool.get("pipeline", {}).get("noop")
        if dag_name.startswith("fan") and m and m.internal:
            n = dag_name[3:]
            internal = statistics.median(m.internal)
            targets["decision"] = (f"{n}-stage no-op decision under 100 ms: pipeline's own figure {fmt_time(internal)}, "
                                   f"process wall {fmt_time(m.median)} (median of {len(m.seconds)}) — "
                                   f"{'met' if internal < 0.1 else 'NOT met'} (own figure), "
                                   f"{'met' if m.median < 0.1 else 'not met'} (process wall)")
    if "sample" in meta:
        s = meta["sample"]
        targets["sample"] = (f"no-op `pipeline run all` on the sample under 50 ms: process wall {fmt_time(s['median_wall_s'])}, "
                             f"own figure {fmt_time(s['median_internal_s'])} (median of {len(s['wall_s'])}; "
                             f"executed {sorted(set(s['executed']))}; fill run: \"{s['fill_run']}\") — "
                             f"{'met' if s['median_wall_s'] < 0.05 else 'NOT met'}")
    meta["targets"] = targets

    print(markdown(results, meta))
    if args.json:
        Path(args.json).write_text(json.dumps(
            {"meta": meta, "results": {d: {t: {k: v.to_json() for k, v in sc.items() if v.seconds}
                                           for t, sc in pt.items()} for d, pt in results.items()}}, indent=1) + "\n")


if __name__ == "__main__":
    main()

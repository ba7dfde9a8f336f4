"""The benchmark DAGs and one adapter per tool (pipeline, DVC, Snakemake).

Every tool gets the same DAG with the same shell commands, so the only thing that differs is the
executor: deciding what is up to date, scheduling, and recording. Each command also appends its
stage name to $BENCH_RUNLOG; that line is how the benchmark counts which stages a tool really
executed, identically for all three tools (the variable is read at run time, so it is not part of
any tool's notion of the command and a "fresh clone" sees byte-identical commands).

Config files are written as JSON: YAML is a superset of JSON, so DVC reads dvc.yaml/params.yaml
written that way, and no YAML library is needed (the benchmark is stdlib-only).
"""

from __future__ import annotations

import hashlib
import json
import os
import shutil
import subprocess
from dataclasses import dataclass, field
from pathlib import Path

RUNLOG_LINE = 'echo {stage} >> "$BENCH_RUNLOG"'


@dataclass
class Dag:
    """Stages in topological order, each with its upstream stages and its parameters."""

    name: str
    description: str
    stages: list[str]
    inputs: dict[str, list[str]]
    # Per stage: {"n": int}; the first stage also has "note", a value its command references only
    # in a shell no-op (`: note`), so changing it changes the command but not the output bytes
    # (the early-cutoff probe).
    params: dict[str, dict] = field(default_factory=dict)
    # The leaf stage whose parameter the "one parameter changed" scenario edits.
    leaf: str = ""

    def copy_params(self) -> dict[str, dict]:
        return json.loads(json.dumps(self.params))


def chain_dag(n: int = 10) -> Dag:
    stages = [f"s{i:03d}" for i in range(n)]
    inputs = {s: ([stages[i - 1]] if i > 0 else []) for i, s in enumerate(stages)}
    params = {s: {"n": i} for i, s in enumerate(stages)}
    params[stages[0]]["note"] = "initial"
    return Dag(name=f"chain{n}", description=f"{n}-stage chain: s000 -> s001 -> ... -> s{n - 1:03d}",
               stages=stages, inputs=inputs, params=params, leaf=stages[-1])


def fanout_dag(n: int = 200) -> Dag:
    stages = [f"s{i:03d}" for i in range(n)]
    inputs = {s: ([stages[0]] if i > 0 else []) for i, s in enumerate(stages)}
    params = {s: {"n": i} for i, s in enumerate(stages)}
    params[stages[0]]["note"] = "initial"
    return Dag(name=f"fan{n}",
               description=f"{n}-stage fan-out: one source stage s000 and {n - 1} leaves s001..s{n - 1:03d} that each read its output",
               stages=stages, inputs=inputs, params=params, leaf=stages[n // 2])


def shell_body(stage: str, ups_paths: list[str], out_path: str, n_expr: str, note_expr: str | None) -> str:
    """The command every tool runs for a stage, with each tool's own placeholder syntax substituted."""
    parts = []
    if note_expr is not None:
        parts.append(f": {note_expr}")
    if ups_paths:
        parts.append(f"cat {' '.join(ups_paths)} > {out_path}")
        parts.append(f"echo {n_expr} >> {out_path}")
    else:
        parts.append(f"echo {n_expr} > {out_path}")
    parts.append(RUNLOG_LINE.format(stage=stage))
    return "; ".join(parts)


def sha256_file(path: Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        h.update(f.read())
    return h.hexdigest()


def run_quiet(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    p = subprocess.run(argv, cwd=cwd, env=env, capture_output=True, text=True)
    if p.returncode != 0:
        raise RuntimeError(f"setup command failed in {cwd}: {' '.join(argv)} (exit {p.returncode})\n"
                           f"stdout:\n{p.stdout[-3000:]}\nstderr:\n{p.stderr[-3000:]}")
    return p


class Tool:
    """What the benchmark needs from each executor."""

    name = ""

    def __init__(self, exe: str, env: dict[str, str]):
        self.exe = exe
        self.env = env

    # Setup (untimed).
    def create(self, ws: Path, dag: Dag, params: dict) -> None:
        raise NotImplementedError

    def write_params(self, ws: Path, dag: Dag, params: dict) -> None:
        raise NotImplementedError

    def prepare_clone(self, src: Path, dst: Path, dag: Dag) -> None:
        """A fresh checkout of `src`'s configuration in `dst`, pointed at `src`'s cache."""
        raise NotImplementedError

    # Timed commands.
    def run_argv(self) -> list[str]:
        raise NotImplementedError

    def status_argv(self) -> list[str]:
        raise NotImplementedError

    def clone_run_argv(self, src: Path) -> list[str]:
        return self.run_argv()

    def clone_env(self) -> dict[str, str]:
        return self.env

    # Inspection.
    def output_path(self, ws: Path, stage: str) -> Path:
        raise NotImplementedError

    def status_says_clean(self, stdout: str, stderr: str) -> bool:
        raise NotImplementedError

    def version(self) -> str:
        p = subprocess.run([self.exe, "--version"], capture_output=True, text=True, env=self.env)
        return (p.stdout.strip() or p.stderr.strip()).splitlines()[-1] if (p.stdout or p.stderr) else "?"

    def snapshot(self, ws: Path, dag: Dag) -> dict[str, tuple]:
        """Per stage: content digest, mtime of the output as the user sees it (the path itself,
        not following links) and of the file it resolves to. A no-op must change none of them."""
        snap = {}
        for s in dag.stages:
            p = self.output_path(ws, s)
            try:
                lst = os.lstat(p)
                st = os.stat(p)
                snap[s] = (sha256_file(p), lst.st_mtime_ns, st.st_mtime_ns, os.path.realpath(p))
            except FileNotFoundError:
                snap[s] = None
        return snap


class PipelineTool(Tool):
    name = "pipeline"

    def config(self, dag: Dag, params: dict) -> dict:
        stages = {}
        for s in dag.stages:
            ups = dag.inputs[s]
            p = params[s]
            run = shell_body(s, [f"{{in:{u}/out.txt}}" for u in ups], "{out:out.txt}", "{var:n}",
                             "{var:note}" if "note" in p else None)
            st = {"kind": "command", "params": {"run": run, "outputs": ["out.txt"], "vars": p}}
            if ups:
                st["inputs"] = ups
            stages[s] = st
        return {"version": 1, "defaultProfile": "p", "profiles": {"p": {}}, "stages": stages}

    def create(self, ws: Path, dag: Dag, params: dict) -> None:
        ws.mkdir(parents=True, exist_ok=True)
        self.write_params(ws, dag, params)

    def write_params(self, ws: Path, dag: Dag, params: dict) -> None:
        (ws / "pipeline.json").write_text(json.dumps(self.config(dag, params), indent=1) + "\n")

    def prepare_clone(self, src: Path, dst: Path, dag: Dag) -> None:
        dst.mkdir(parents=True)
        shutil.copy2(src / "pipeline.json", dst / "pipeline.json")

    def run_argv(self) -> list[str]:
        return [self.exe, "run", "all", "-j", "1"]

    def clone_run_argv(self, src: Path) -> list[str]:
        return [self.exe, "run", "all", "-j", "1", "--store", str(src / "artifacts")]

    def status_argv(self) -> list[str]:
        return [self.exe, "status"]

    def output_path(self, ws: Path, stage: str) -> Path:
        return ws / "artifacts" / "out" / stage / "out.txt"

    def status_says_clean(self, stdout: str, stderr: str) -> bool:
        states = [ln.split()[-1] for ln in stdout.splitlines()[1:] if ln.startswith("  ") and not ln.strip().startswith("-")]
        return bool(states) and all(s == "cached" for s in states)

    def version(self) -> str:
        return "release build of this repository"


class DvcTool(Tool):
    name = "DVC"

    def dvc_yaml(self, dag: Dag, params: dict) -> dict:
        stages = {}
        for s in dag.stages:
            ups = dag.inputs[s]
            p = params[s]
            cmd = shell_body(s, [f"out/{u}.txt" for u in ups], f"out/{s}.txt", f"${{{s}.n}}",
                             f"${{{s}.note}}" if "note" in p else None)
            st: dict = {"cmd": cmd}
            if ups:
                st["deps"] = [f"out/{u}.txt" for u in ups]
            st["params"] = [f"{s}.{k}" for k in sorted(p)]
            st["outs"] = [f"out/{s}.txt"]
            stages[s] = st
        return {"stages": stages}

    def create(self, ws: Path, dag: Dag, params: dict) -> None:
        ws.mkdir(parents=True, exist_ok=True)
        (ws / "out").mkdir(exist_ok=True)
        run_quiet(["git", "init", "-q"], ws, self.env)
        run_quiet([self.exe, "init", "-q"], ws, self.env)
        # No network: no usage analytics, no update check.
        run_quiet([self.exe, "config", "core.analytics", "false"], ws, self.env)
        run_quiet([self.exe, "config", "core.check_update", "false"], ws, self.env)
        (ws / "dvc.yaml").write_text(json.dumps(self.dvc_yaml(dag, params), indent=1) + "\n")
        self.write_params(ws, dag, params)

    def write_params(self, ws: Path, dag: Dag, params: dict) -> None:
        (ws / "params.yaml").write_text(json.dumps(params, indent=1) + "\n")
        # The cmd interpolates ${sNNN.note}/${sNNN.n}; dvc.yaml itself does not change.

    def commit(self, ws: Path) -> None:
        run_quiet(["git", "add", "-A"], ws, self.env)
        run_quiet(["git", "commit", "-q", "-m", "bench state", "--allow-empty"], ws, self.env)

    def prepare_clone(self, src: Path, dst: Path, dag: Dag) -> None:
        self.commit(src)
        run_quiet(["git", "clone", "-q", str(src), str(dst)], dst.parent, self.env)
        run_quiet([self.exe, "cache", "dir", "--local", str(src / ".dvc" / "cache")], dst, self.env)

    def run_argv(self) -> list[str]:
        return [self.exe, "repro"]

    def status_argv(self) -> list[str]:
        return [self.exe, "status"]

    def output_path(self, ws: Path, stage: str) -> Path:
        return ws / "out" / f"{stage}.txt"

    def status_says_clean(self, stdout: str, stderr: str) -> bool:
        return "Data and pipelines are up to date" in stdout


class SnakemakeTool(Tool):
    name = "Snakemake"

    def __init__(self, exe: str, env: dict[str, str], cache_dir: Path):
        super().__init__(exe, env)
        self.cache_dir = cache_dir

    def snakefile(self, dag: Dag, params: dict) -> str:
        lines = ['configfile: "config.json"', "", "rule all:",
                 "    input: [" + ", ".join(f'"out/{s}.txt"' for s in dag.stages) + "]", ""]
        for s in dag.stages:
            ups = dag.inputs[s]
            p = params[s]
            body = shell_body(s, ["{input}"] if ups else [], "{output}", "{params.n}",
                              "{params.note}" if "note" in p else None)
            lines.append(f"rule {s}:")
            if ups:
                lines.append("    input: " + ", ".join(f'"out/{u}.txt"' for u in ups))
            lines.append(f'    output: "out/{s}.txt"')
            lines.append("    params: " + ", ".join(f'{k}=config["{s}"]["{k}"]' for k in sorted(p)))
            # Eligible for the between-workflow output cache, used only when --cache is passed.
            lines.append('    cache: "omit-software"')
            lines.append(f"    shell: {json.dumps(body)}")
            lines.append("")
        return "\n".join(lines)

    def create(self, ws: Path, dag: Dag, params: dict) -> None:
        ws.mkdir(parents=True, exist_ok=True)
        (ws / "Snakefile").write_text(self.snakefile(dag, params))
        self.write_params(ws, dag, params)

    def write_params(self, ws: Path, dag: Dag, params: dict) -> None:
        (ws / "config.json").write_text(json.dumps(params, indent=1) + "\n")

    def prepare_clone(self, src: Path, dst: Path, dag: Dag) -> None:
        dst.mkdir(parents=True)
        shutil.copy2(src / "Snakefile", dst / "Snakefile")
        shutil.copy2(src / "config.json", dst / "config.json")

    def run_argv(self) -> list[str]:
        return [self.exe, "--cores", "1"]

    def cache_run_argv(self) -> list[str]:
        return [self.exe, "--cores", "1", "--cache"]

    def clone_run_argv(self, src: Path) -> list[str]:
        return self.cache_run_argv()

    def clone_env(self) -> dict[str, str]:
        return {**self.env, "SNAKEMAKE_OUTPUT_CACHE": str(self.cache_dir)}

    def status_argv(self) -> list[str]:
        return [self.exe, "--cores", "1", "-n"]

    def output_path(self, ws: Path, stage: str) -> Path:
        return ws / "out" / f"{stage}.txt"

    def status_says_clean(self, stdout: str, stderr: str) -> bool:
        return "Nothing to be done" in stdout + stderr

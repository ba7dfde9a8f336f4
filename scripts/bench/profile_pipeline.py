#!/usr/bin/env python3
"""Where a `pipeline run all` spends its wall time, phase by phase, without rebuilding it.

Puts perf uprobes (entry and return) on the executor's functions of the release binary, records
`--runs` invocations in a workspace, and prints the median time of each phase and the summed
time inside each probed function per run. Needs root and `perf` (apt-get install linux-perf);
removes its probes when done.

    python3 scripts/bench/profile_pipeline.py --pipeline .build-bench/release/pipeline --workspace DIR [--runs 10]

DIR holds a pipeline.json whose store is already filled (e.g. one left by
`executor_bench.py --keep --workdir W`: W/pipeline/fan200/ws), so the runs are no-ops.
"""

from __future__ import annotations

import argparse
import collections
import os
import re
import statistics
import subprocess
import sys
import tempfile
from pathlib import Path

GROUP = "pipebench"

# Probe name -> the mangled-name fragment that identifies the function in `nm` output.
FUNCTIONS = {
    "parse_cli": r"\$s14ArgumentParser15ParsableCommandPAAE11parseAsRootyAaB_pSaySSGSgKFZ$",
    "config_load": r"\$s8Executor14PipelineConfigV4load4path7profile5kinds.*KFZ$",
    "runner_run": r"\$s8Executor6RunnerC3runyAA9RunReportVAA0D7OptionsVKF$",
    "mark_interrupted": r"\$s8Executor5StoreC23markInterruptedAttemptsyyKF$",
    "begin_run": r"\$s8Executor5StoreC8beginRun7profile4argv.*KF$",
    "heads": r"\$s8Executor5StoreC5heads7profile.*KF$",
    "set_heads": r"\$s8Executor5StoreC8setHeads7profile.*KF$",
    "end_run": r"\$s8Executor5StoreC6endRun_8executed.*KF$",
    "stage_resolve": r"\$s8Executor6RunnerC7resolve33_.*SitF$",
    "key_components": r"\$s8Executor6RunnerC10components2of8upstream.*KF$",
    "key_digest": r"\$s8Executor13KeyComponentsV3keySSvg$",
    "usable_entry": r"\$s8Executor6RunnerC11usableEntryy.*KF$",
    "cache_entry_sql": r"\$s8Executor5StoreC10cacheEntryyAA05CacheD0VSgSSKF$",
    "publish": r"\$s8Executor6RunnerC7publish5stage3key7outputs.*KF$",
    # Only when a stage executes:
    "execute": r"\$s8Executor6RunnerC7execute33_.*SitKF$",
    "git_source_state": r"\$s8Executor11SourceStateV4read9workspace.*$",
    "verify_inputs": r"\$s8Executor6RunnerC12verifyInputs33_.*KF$",
    "begin_attempt": r"\$s8Executor5StoreC12beginAttemptys5Int64VAA0D0VKF$",
    "command_run": r"\$s6Stages12CommandStageV3runy8Executor9JSONValueOAE0C7ContextCKF.*$",
    "spawn_shell": r"\$s6Stages10spawnShell_16workingDirectory7logPath11environment.*KF$",
    "collect_outputs": r"\$s8Executor6RunnerC14collectOutputs33_.*KF$",
    "finish_attempt": r"\$s8Executor5StoreC13finishAttempt_7summary.*KF$",
}


def symbols(binary: str) -> dict[str, str]:
    nm = subprocess.run(["nm", binary], capture_output=True, text=True, check=True).stdout
    names = [ln.split()[-1] for ln in nm.splitlines() if len(ln.split()) == 3 and ln.split()[1] in "Tt"]
    found = {}
    for probe, pattern in FUNCTIONS.items():
        hits = [n for n in names if re.search(pattern, n)]
        if hits:
            found[probe] = hits[0]
        else:
            print(f"note: no symbol for {probe} (inlined?); skipped", file=sys.stderr)
    return found


def perf(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    return subprocess.run(["perf", *args], capture_output=True, text=True, check=check)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--pipeline", required=True)
    ap.add_argument("--workspace", required=True)
    ap.add_argument("--runs", type=int, default=10)
    ap.add_argument("--args", default="run all -j 1", help="pipeline arguments (default: run all -j 1)")
    ap.add_argument("--before-each", help="a shell command run (untimed) in the workspace before every run, "
                    "e.g. one that edits a parameter so that one stage executes")
    args = ap.parse_args()
    binary = str(Path(args.pipeline).resolve())

    syms = symbols(binary)
    perf("probe", "-q", "-d", f"{GROUP}:*", check=False)
    try:
        for probe, sym in syms.items():
            # The symbol is given by address: perf's name lookup also matches other functions.
            addr = next(ln.split()[0] for ln in subprocess.run(["nm", binary], capture_output=True, text=True).stdout.splitlines()
                        if ln.endswith(" " + sym))
            for suffix, spec in (("", f"0x{addr}"), ("_ret", f"0x{addr}%return")):
                p = perf("probe", "-q", "-x", binary, "-a", f"{GROUP}:{probe}{suffix}={spec}", check=False)
                if p.returncode != 0:
                    print(f"note: cannot probe {probe}{suffix}: {p.stderr.strip()[:200]}", file=sys.stderr)

        phases = collections.defaultdict(list)
        inside = collections.defaultdict(list)
        calls = collections.defaultdict(list)
        internal = []
        for _ in range(args.runs):
            if args.before_each:
                subprocess.run(args.before_each, shell=True, cwd=args.workspace, check=True)
            with tempfile.NamedTemporaryFile(suffix=".data") as data:
                rec = subprocess.run(["perf", "record", "-q", "-o", data.name, "-e", f"{GROUP}:*",
                                      "-e", "sched:sched_process_exec", "-e", "sched:sched_process_exit",
                                      "--", binary, *args.args.split()],
                                     cwd=args.workspace, capture_output=True, text=True,
                                     # executor_bench.py's commands append to $BENCH_RUNLOG.
                                     env={"BENCH_RUNLOG": "/dev/null", **os.environ})
                m = re.search(r"in ([0-9.]+) s", rec.stdout)
                if m:
                    internal.append(float(m.group(1)))
                script = perf("script", "-i", data.name, "-F", "tid,time,event").stdout
            events = []
            for ln in script.splitlines():
                m = re.match(r"\s*(\d+)\s+([0-9.]+):\s+(\S+):", ln)
                if m:
                    events.append((int(m.group(1)), float(m.group(2)), m.group(3)))
            exec_t = next(t for _, t, e in events if e == "sched:sched_process_exec")
            exit_t = max(t for _, t, e in events if e == "sched:sched_process_exit")
            first = {}
            open_calls: dict[tuple[int, str], list[float]] = collections.defaultdict(list)
            total = collections.defaultdict(float)
            count = collections.Counter()
            for tid, t, e in events:
                if not e.startswith(GROUP + ":"):
                    continue
                name = e.split(":", 1)[1]
                if name.endswith("_ret__return") or name.endswith("_ret"):
                    base = name.replace("_ret__return", "").replace("_ret", "")
                    stack = open_calls[(tid, base)]
                    if stack:
                        start = stack.pop()
                        if not stack:  # outermost call only, so recursion is not counted twice
                            total[base] += t - start
                        first.setdefault(base + ":end", t)
                else:
                    open_calls[(tid, name)].append(t)
                    count[name] += 1
                    first.setdefault(name, t)
            for k, v in total.items():
                inside[k].append(v)
            for k, v in count.items():
                calls[k].append(v)
            cli = first.get("parse_cli", exec_t)
            phases["exec -> CLI parsing (loader, runtime and static init)"].append(cli - exec_t)
            phases["CLI parsing -> config load"].append(first.get("config_load", cli) - cli)
            phases["config load (read, parse, validate pipeline.json)"].append(total.get("config_load", 0.0))
            phases["config load -> Runner.run (store open: SQLite pool, migrations)"].append(
                first.get("runner_run", exit_t) - first.get("config_load:end", first.get("runner_run", exit_t)))
            phases["Runner.run (the figure printed as \"in T s\")"].append(total.get("runner_run", 0.0))
            phases["after Runner.run -> process exit"].append(exit_t - first.get("runner_run:end", exit_t))
            phases["whole process (exec -> exit)"].append(exit_t - exec_t)

        def ms(x: float) -> str:
            return f"{x * 1000:.1f} ms"
        print(f"{args.runs} runs of `pipeline {args.args}` in {args.workspace}; medians")
        print("(uprobes add a few microseconds per probed call; the calls column says how many)\n")
        print("| phase | median |\n|---|---|")
        for k, v in phases.items():
            print(f"| {k} | {ms(statistics.median(v))} |")
        print("\n| function (inclusive, summed per run) | median | calls per run |\n|---|---|---|")
        for k in FUNCTIONS:
            if k in inside:
                print(f"| {k} | {ms(statistics.median(inside[k]))} | {statistics.median(calls[k]):.0f} |")
        if internal:
            print(f"\npipeline's own figure: {ms(statistics.median(internal))} (median)")
    finally:
        perf("probe", "-q", "-d", f"{GROUP}:*", check=False)


if __name__ == "__main__":
    main()

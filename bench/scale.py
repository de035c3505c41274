"""The real workflow at several sizes: cost and memory per stage, exponents, learning curve.

    .venv/bin/python bench/scale.py sizes --objects 25 80 250 750 [--chunks 2] [--cores 2]
        [--max-epochs 12] [--gpus 0] [--workdir /tmp/elasticc_scale] [--name cpu2]
    .venv/bin/python bench/scale.py overhead [--chunks 5] [--variant "--scheduler ilp" "--scheduler greedy"]
    .venv/bin/python bench/scale.py dag [--chunks 40]                     # dry run of the full layout
    .venv/bin/python bench/scale.py plot bench/figures/scale_cpu2.json    # figures from a saved run

``sizes`` copies the workflow (Snakefile, rules/, scripts/, config/, report/, profiles/, envs/)
to ``--workdir`` and, for each objects-per-chunk size, runs it end to end (mock -> convert ->
tensorize -> train -> calibrate -> evaluate -> plots) with ``--configfile config/scale.yaml`` and
a per-size YAML (mock size, epochs, results_dir). Every rule writes a Snakemake ``benchmark:``
TSV under ``<results>/benchmarks/`` (rules that lack one get it added in the copy only). Per
stage it collects jobs, wall and CPU seconds per job (median, max), peak RSS per job (median,
max), bytes on disk and the stage's totals; it fits total CPU cost ~ N^k and per-job peak RSS ~
N^m over the sizes (N = objects in the sample) and prints k and m; and it reads macro-F1 per
taxonomy level at +1 d, +8 d and on full light curves from ``evaluation/metrics.json`` for the
learning curve. Writes ``bench/figures/scale_<name>.json`` and, with ``--plots DIR``,
``scale_cost.png``, ``scale_memory.png`` and ``learning_curve.png``.

``overhead`` runs the mock -> tensorize part of the 32-model layout at 2 objects per chunk
(jobs whose own work is ~0.5 s) and splits the run's CPU time into the jobs' own (the benchmark
TSVs) and the rest (the Snakemake process and each job's interpreter start), per job; it repeats
with each ``--variant`` (extra Snakemake arguments) to see what cuts that. ``dag`` times the dry
run of the whole 32 x 40 layout (2,597 jobs).

Timings on a shared machine vary with load; the exponents, memory and the learning curve do not.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parents[1]
COPY = ("Snakefile", "rules", "scripts", "config", "report", "profiles", "envs")
N_MODELS = 32
# stage -> (rule, benchmark path below <results>/benchmarks with Snakemake wildcards, output globs below <results>)
STAGES: dict[str, tuple[str, str, tuple[str, ...]]] = {
    "mock": ("mock", "mock/{model}.tsv", ("mock_raw/**/*",)),
    "convert": ("convert", "convert/{model}/{chunk}.tsv", ("parquet/**/*.parquet",)),
    "tensorize": ("tensorize", "tensorize/{model}/{chunk}.tsv", ("shards/**/*.arrow",)),
    "gallery": ("lightcurve_gallery", "lightcurve_gallery/{model}.tsv", ("plots/lightcurves/*.png",)),
    "train": ("train", "train.tsv", ("model/model.ckpt", "model/metrics.csv", "model/checkpoints/**/*")),
    "calibrate": ("calibrate", "calibrate.tsv", ("model/model_calibrated.ckpt", "evaluation/calibration.json")),
    "evaluate": ("evaluate", "evaluate.tsv", ("evaluation/metrics.*", "evaluation/per_class.csv", "evaluation/*.npz")),
    "plots": ("evaluation_plots", "evaluation_plots.tsv", ("evaluation/plots/*.png",)),
}
PER_CHUNK = ("mock", "convert", "tensorize", "gallery")  # jobs that hold one chunk (mock, gallery: one model)
LEVELS = ("level_1", "level_2", "level_3", "leaf")
CURVE_DAYS = ("1", "8", "full")


# --- workflow copy ---------------------------------------------------------------------------
def copy_workflow(dest: Path, ref: str = "HEAD") -> Path:
    """Write the workflow definition and the package (``src/``) as of git ``ref`` to ``dest`` (fresh;
    ``ref`` "worktree": the working tree's files), add config/scale.yaml from the working tree, and
    give every rule a benchmark file. Jobs import the package from ``dest/src`` (see :func:`env_for`),
    so edits in the working tree during a long run do not change what is measured."""
    if dest.exists():
        shutil.rmtree(dest)
    dest.mkdir(parents=True)
    names = [n for n in (*COPY, "src") if (ROOT / n).exists()]
    if ref == "worktree":
        for name in names:
            src = ROOT / name
            if src.is_dir():
                shutil.copytree(src, dest / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info"))
            else:
                shutil.copy2(src, dest / name)
    else:
        tar = subprocess.run(["git", "-C", str(ROOT), "archive", ref, *names], check=True, capture_output=True).stdout
        subprocess.run(["tar", "-x", "-C", str(dest)], input=tar, check=True)
    shutil.copy2(ROOT / "config" / "scale.yaml", dest / "config" / "scale.yaml")
    (dest / ".scale_commit").write_text(commit_of(ref) + "\n")
    add_benchmarks(dest / "rules")
    return dest


def env_for(wf: Path) -> dict[str, str]:
    """Environment whose Python imports the package from the copy ``wf/src``, with OpenMP threads
    that sleep at barriers (OMP_WAIT_POLICY=PASSIVE, as scripts/train.py sets for itself): on a
    loaded machine, spinning threads made evaluate ~30x slower (14 vs ~500 light curves/s)."""
    path = os.pathsep.join([str(wf / "src"), os.environ.get("PYTHONPATH", "")]).rstrip(os.pathsep)
    return {**os.environ, "PYTHONPATH": path, "OMP_WAIT_POLICY": os.environ.get("OMP_WAIT_POLICY", "PASSIVE")}


def commit_of(ref: str) -> str:
    if ref == "worktree":
        return "worktree"
    r = subprocess.run(["git", "-C", str(ROOT), "rev-parse", ref], capture_output=True, text=True)
    return r.stdout.strip()


def add_benchmarks(rules_dir: Path) -> list[str]:
    """Insert ``benchmark: RESULTS / "benchmarks/<path>"`` before ``log:`` of every rule in STAGES
    that has none (in the copy). Returns the rules changed."""
    changed = []
    for smk in rules_dir.glob("*.smk"):
        text = smk.read_text()
        for rule, path, _ in STAGES.values():
            m = re.search(rf"^(\s*)rule {rule}:\n", text, re.M)
            if not m:
                continue
            end = re.search(r"^\s*(?:rule|checkpoint) \w+:|^\S", text[m.end() :], re.M)
            block = text[m.end() : m.end() + (end.start() if end else len(text))]
            if re.search(r"^\s*benchmark:", block, re.M):
                continue
            log = re.search(r"^(\s*)log:\n", block, re.M)
            if not log:
                continue
            ind = log.group(1).strip("\n")
            at = m.end() + log.start() + (len(log.group(1)) - len(ind))
            text = text[:at] + f'{ind}benchmark:\n{ind}    RESULTS / "benchmarks/{path}"\n' + text[at:]
            changed.append(rule)
        smk.write_text(text)
    return changed


def run_snakemake(wf: Path, args: list[str], log: Path, cores: int) -> dict[str, float]:
    """Run Snakemake (nice 10) in ``wf``; returns wall s, the process tree's CPU s (children's
    rusage) and the Snakemake process's own CPU s (sampled every 0.2 s until it exits)."""
    import psutil

    cmd = ["nice", "-n", "10", sys.executable, "-m", "snakemake", "--cores", str(cores), *args]
    ru0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    with open(log, "w") as fh:
        p = subprocess.Popen(cmd, cwd=wf, stdout=fh, stderr=subprocess.STDOUT, env=env_for(wf))
        own = 0.0
        proc = psutil.Process(p.pid)  # nice execs python: this is the Snakemake process
        while p.poll() is None:
            try:
                ct = proc.cpu_times()
                own = ct.user + ct.system
            except (psutil.NoSuchProcess, psutil.AccessDenied):
                pass
            time.sleep(0.2)
    wall = time.perf_counter() - t0
    ru1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        tail = log.read_text()[-3000:]
        raise SystemExit(f"snakemake {' '.join(args)} failed ({p.returncode}); log {log}:\n{tail}")
    tree = (ru1.ru_utime - ru0.ru_utime) + (ru1.ru_stime - ru0.ru_stime)
    return {"wall_s": wall, "tree_cpu_s": tree, "snakemake_cpu_s": own}


# --- collection ------------------------------------------------------------------------------
def read_benchmark(path: Path) -> dict[str, float]:
    """One Snakemake benchmark TSV (first repeat): s, max_rss (MB), cpu_time (s), ..."""
    head, row = path.read_text().splitlines()[:2]
    out = {}
    for k, v in zip(head.split("\t"), row.split("\t")):
        try:
            out[k] = float(v)
        except ValueError:
            out[k] = float("nan")
    return out


def _bench_glob(path: str) -> str:
    return re.sub(r"\{\w+\}", "*", path)


def _bytes(res: Path, globs: tuple[str, ...]) -> int:
    return sum(p.stat().st_size for g in globs for p in res.glob(g) if p.is_file())


def _stats(xs: list[float]) -> dict[str, float]:
    xs = [x for x in xs if x == x]
    if not xs:
        return {"median": float("nan"), "max": float("nan"), "sum": 0.0}
    return {"median": statistics.median(xs), "max": max(xs), "sum": sum(xs)}


def collect(res: Path) -> dict[str, Any]:
    """Per stage: jobs, wall/CPU s per job, peak RSS MB per job, bytes on disk, totals."""
    stages = {}
    for stage, (_, path, globs) in STAGES.items():
        rows = [read_benchmark(p) for p in sorted((res / "benchmarks").glob(_bench_glob(path)))]
        if not rows:
            continue
        wall, cpu, rss = (_stats([r.get(k, float("nan")) for r in rows]) for k in ("s", "cpu_time", "max_rss"))
        stages[stage] = {
            "jobs": len(rows),
            "wall_s": wall,
            "cpu_s": cpu,
            "max_rss_mb": rss,
            "bytes": _bytes(res, globs),
        }
    return stages


def read_sample(res: Path) -> dict[str, Any]:
    """Objects in the sample (shards), training/validation objects used and the epochs run (train log)."""
    out: dict[str, Any] = {}
    log = res / "logs" / "train.log"
    if log.exists():
        text = log.read_text()
        m = re.search(
            r"training set: (\d+) objects in (\d+) shard\(s\); (\d+) train \(of (\d+)\), (\d+) validation", text
        )
        if m:
            out.update(objects=int(m[1]), shards=int(m[2]), train_used=int(m[3]), train_total=int(m[4]), val=int(m[5]))
        m = re.search(r"best epoch (\d+), val_loss ([\d.eE+-]+)", text)
        if m:
            out.update(best_epoch=int(m[1]), best_val_loss=float(m[2]))
        rates = [float(x) for x in re.findall(r"\(([\d.]+) windows/s", text)]
        if rates:
            out["train_windows_per_s_median"] = statistics.median(rates)
    csv = res / "model" / "metrics.csv"
    if csv.exists():
        import csv as _csv

        rows = list(_csv.DictReader(csv.open()))
        vals = [(int(r["epoch"]), float(r["val_loss"])) for r in rows if r.get("val_loss") not in (None, "")]
        if vals:
            ep = [e for e, _ in vals]
            vl = [v for _, v in vals]
            out["epochs_run"] = max(ep) + 1
            out["val_loss"] = vl
            best = int(np.argmin(vl))
            # still improving: the best epoch is among the last two
            out["val_loss_still_falling"] = bool(best >= len(vl) - 2)
    return out


def learning_point(res: Path) -> dict[str, dict[str, float | None]]:
    """macro-F1 per level at +1 d, +8 d and full light curves (metrics.json)."""
    path = res / "evaluation" / "metrics.json"
    if not path.exists():
        return {}
    recs = json.loads(path.read_text())
    out: dict[str, dict[str, float | None]] = {lv: {} for lv in LEVELS}
    for r in recs:
        d = str(r["days"])
        if r["level"] in out and d in CURVE_DAYS:
            out[r["level"]][d] = r["macro_f1"]
    return out


def leaf_errors(res: Path, top: int = 8) -> dict[str, Any]:
    """Leaf F1 per class on full light curves (per_class.csv) and the most frequent leaf confusions
    (true -> predicted, share of the true class; predictions.npz, arg-max over the leaves)."""
    import csv as _csv

    out: dict[str, Any] = {}
    pc = res / "evaluation" / "per_class.csv"
    if pc.exists():
        out["leaf_f1_full"] = {
            r["class"]: float(r["f1"])
            for r in _csv.DictReader(pc.open())
            if r["level"] == "leaf" and r["days"] == "full"
        }
    npz = res / "evaluation" / "predictions.npz"
    if npz.exists():
        z = np.load(npz)
        try:  # node order of the model's taxonomy
            from elasticc_classification.features.taxonomy import Taxonomy

            names = list(Taxonomy.from_dict(json.loads(str(z["taxonomy"])), str(npz)).nodes)
        except Exception as e:  # noqa: BLE001 (a working tree mid-edit: keep the rest of the record)
            print(f"  (no confusions: {e})")
            names = None
        days = [str(d) for d in z["days"]]
        if "full" in days and names:
            marg = z["marginals"][days.index("full")]
            leaf = z["leaf"]
            leaves = np.array(sorted(set(leaf.tolist())))
            pred = leaves[np.argmax(marg[:, leaves], axis=1)]
            pairs: dict[tuple[int, int], int] = {}
            for t, p_ in zip(leaf[leaf != pred], pred[leaf != pred]):
                pairs[(int(t), int(p_))] = pairs.get((int(t), int(p_)), 0) + 1
            support = {int(t): int((leaf == t).sum()) for t in leaves}
            worst = sorted(pairs.items(), key=lambda kv: -kv[1] / support[kv[0][0]])[:top]
            out["confusions_full"] = [
                {"true": names[t], "pred": names[p_], "share": n / support[t], "n": n} for (t, p_), n in worst
            ]
    return out


def fit_exponent(n: list[float], y: list[float]) -> float:
    """Least-squares slope of log y vs log n (cost ~ n^k)."""
    n_, y_ = np.asarray(n, float), np.asarray(y, float)
    ok = (n_ > 0) & (y_ > 0) & np.isfinite(y_)
    if ok.sum() < 2:
        return float("nan")
    return float(np.polyfit(np.log(n_[ok]), np.log(y_[ok]), 1)[0])


def exponents(runs: list[dict[str, Any]]) -> dict[str, dict[str, float]]:
    """Per stage: k of total CPU s, k of total wall s, m of the per-job max peak RSS, vs objects."""
    out = {}
    for stage in STAGES:
        pts = [(r["objects"], r["stages"][stage]) for r in runs if stage in r["stages"]]
        if len(pts) < 2:
            continue
        n = [p for p, _ in pts]
        out[stage] = {
            "k_cpu": fit_exponent(n, [s["cpu_s"]["sum"] for _, s in pts]),
            "k_wall": fit_exponent(n, [s["wall_s"]["sum"] for _, s in pts]),
            "m_rss": fit_exponent(n, [s["max_rss_mb"]["max"] for _, s in pts]),
            "rss_growth": pts[-1][1]["max_rss_mb"]["max"] / pts[0][1]["max_rss_mb"]["max"] - 1,
            "span": max(n) / min(n),
        }
    return out


# --- commands --------------------------------------------------------------------------------
def cmd_sizes(a: argparse.Namespace) -> int:
    work = Path(a.workdir)
    wf = work / "wf"
    if not (a.keep and wf.exists()):  # --keep: the same copy (code) as the runs being continued
        copy_workflow(wf, a.ref)
    runs = []
    for obj in a.objects:
        res = work / f"results_{a.chunks}x{obj}"
        if res.exists() and not a.keep:
            shutil.rmtree(res)
        size_yaml = work / f"size_{a.chunks}x{obj}.yaml"
        size_yaml.write_text(
            json.dumps(
                {
                    "results_dir": str(res),
                    "mock": {"chunks": a.chunks, "objects_per_chunk": obj, "models": a.models},
                    "train": {
                        "max_epochs": a.max_epochs,
                        "patience": a.patience or a.max_epochs,
                        "gpus": a.gpus,
                        "threads": a.train_threads or a.cores,
                        "progress_bar": False,
                    },
                    "evaluate": {"threads": a.cores},
                }
            )
        )
        args = ["--configfile", "config/scale.yaml", str(size_yaml), *a.snakemake_args]
        print(f"== {a.chunks} chunks x {obj} objects per chunk: snakemake {' '.join(args)}", flush=True)
        record = work / f"run_{a.chunks}x{obj}.json"
        if a.collect_only:  # results already there: read them, run nothing
            proc = json.loads(record.read_text())["snakemake"] if record.exists() else {}
        else:
            proc = run_snakemake(wf, args, work / f"snakemake_{a.chunks}x{obj}.log", a.cores)
        if a.collect_only:
            pass
        elif a.keep and record.exists():  # a rerun of a part: keep the first full run's Snakemake figures
            proc = json.loads(record.read_text())["snakemake"]
        else:
            record.write_text(json.dumps({"snakemake": proc}) + "\n")
        stages = collect(res)
        sample = read_sample(res)
        run = {
            "objects_per_chunk": obj,
            "chunks": a.chunks,
            "models": N_MODELS if a.models == "all" else len(a.models),
            "objects": sample.get("objects", 0),
            "sample": sample,
            "snakemake": proc,
            "jobs": sum(s["jobs"] for s in stages.values()),
            "stages": stages,
            "learning": learning_point(res),
            "errors": leaf_errors(res),
            "bytes_total": _bytes(res, ("**/*",)),
        }
        runs.append(run)
        print_run(run, flush=True)
    out = {
        "machine": {"cpus": os.cpu_count(), "load_1min_end": os.getloadavg()[0]},
        "date_utc": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()),
        "args": {k: v for k, v in vars(a).items() if k != "func"},
        "commit": (wf / ".scale_commit").read_text().strip() if (wf / ".scale_commit").exists() else "?",
        "runs": runs,
        "exponents": exponents(runs),
    }
    save(out, a)
    return 0


def print_run(run: dict[str, Any], flush: bool = False) -> None:
    s = run["sample"]
    p = run["snakemake"]
    print(
        f"  {run['objects']} objects ({run['models']} x {run['chunks']} x {run['objects_per_chunk']}), "
        f"train {s.get('train_used')} / val {s.get('val')}, {run['jobs']} jobs, "
        f"wall {p.get('wall_s', float('nan')):.0f} s, snakemake CPU {p.get('snakemake_cpu_s', float('nan')):.1f} s, "
        f"disk {run['bytes_total'] / 1e6:.1f} MB"
    )
    print(
        f"  {'stage':10s} {'jobs':>5s} {'wall med':>9s} {'wall max':>9s} {'cpu med':>8s} {'cpu max':>8s} "
        f"{'rss med':>8s} {'rss max':>8s} {'wall Σ':>8s} {'cpu Σ':>8s} {'MB disk':>8s}"
    )
    for st, v in run["stages"].items():
        print(
            f"  {st:10s} {v['jobs']:5d} {v['wall_s']['median']:9.2f} {v['wall_s']['max']:9.2f} "
            f"{v['cpu_s']['median']:8.2f} {v['cpu_s']['max']:8.2f} {v['max_rss_mb']['median']:8.0f} "
            f"{v['max_rss_mb']['max']:8.0f} {v['wall_s']['sum']:8.1f} {v['cpu_s']['sum']:8.1f} {v['bytes'] / 1e6:8.2f}"
        )
    lp = run["learning"]
    if lp:
        print("  macro-F1   " + "  ".join(f"{d:>5s}" for d in CURVE_DAYS))
        for lv in LEVELS:
            print(f"  {lv:10s} " + "  ".join(_f(lp[lv].get(d)) for d in CURVE_DAYS))
    conf = run.get("errors", {}).get("confusions_full")
    if conf:
        print(
            "  leaf confusions, full light curves: "
            + "; ".join(f"{c['true']} -> {c['pred']} {100 * c['share']:.0f} %" for c in conf)
        )
    if "val_loss_still_falling" in s:
        print(
            f"  epochs {s['epochs_run']}, best {s.get('best_epoch')}, val_loss still falling: {s['val_loss_still_falling']}"
        )
    sys.stdout.flush()


def _f(x: float | None) -> str:
    return f"{x:5.3f}" if isinstance(x, (int, float)) else "    -"


def save(out: dict[str, Any], a: argparse.Namespace) -> None:
    dest = Path(a.figures) / f"scale_{a.name}.json"
    dest.parent.mkdir(parents=True, exist_ok=True)
    dest.write_text(json.dumps(out, indent=1, default=float) + "\n")
    print(f"wrote {dest}")
    report(out)
    if a.plots:
        plot(out, Path(a.plots), a.name)


def report(out: dict[str, Any]) -> None:
    ex = out.get("exponents", {})
    if not ex:
        return
    print(f"\nexponents over {next(iter(ex.values()))['span']:.0f}x in objects (cost ~ N^k, per-job peak RSS ~ N^m):")
    print(f"  {'stage':10s} {'k (CPU)':>8s} {'k (wall)':>8s} {'m (RSS)':>8s} {'RSS +%':>7s}")
    for st, v in ex.items():
        print(f"  {st:10s} {v['k_cpu']:8.2f} {v['k_wall']:8.2f} {v['m_rss']:8.2f} {100 * v['rss_growth']:7.0f}")


def plot(out: dict[str, Any], dest: Path, name: str) -> None:
    """scale_cost.png, scale_memory.png, learning_curve.png in ``dest``."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    runs = [r for r in out["runs"] if r["objects"]]
    n = np.array([r["objects"] for r in runs], float)
    ex = out.get("exponents", {})
    dest.mkdir(parents=True, exist_ok=True)
    suffix = "" if name in ("", "cpu2") else f"_{name}"

    fig, ax = plt.subplots(1, 2, figsize=(11, 4.2))
    for st in STAGES:
        y = [r["stages"].get(st, {}).get("cpu_s", {}).get("sum", np.nan) for r in runs]
        w = [r["stages"].get(st, {}).get("wall_s", {}).get("sum", np.nan) for r in runs]
        if np.all(np.isnan(y)):
            continue
        k = ex.get(st, {}).get("k_cpu", np.nan)
        ax[0].loglog(n, y, "o-", label=f"{st} (k={k:.2f})")
        ax[1].loglog(n, w, "o-", label=st)
    ax[0].loglog(n, [r["snakemake"]["snakemake_cpu_s"] for r in runs], "k--", label="Snakemake process")
    ax[0].set(xlabel="objects in the sample", ylabel="CPU s (stage total)", title="cost per stage")
    ax[1].set(xlabel="objects in the sample", ylabel="wall s (sum over the stage's jobs)", title="wall per stage")
    ax[0].legend(fontsize=7)
    ax[1].legend(fontsize=7)
    for a_ in ax:
        a_.grid(True, which="both", alpha=0.3)
    fig.tight_layout()
    fig.savefig(dest / f"scale_cost{suffix}.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for st in STAGES:
        y = [r["stages"].get(st, {}).get("max_rss_mb", {}).get("max", np.nan) for r in runs]
        if np.all(np.isnan(y)):
            continue
        m = ex.get(st, {}).get("m_rss", np.nan)
        ax.loglog(n, y, "o-", label=f"{st} (m={m:.2f})")
    ax.set(xlabel="objects in the sample", ylabel="peak RSS per job, MB (max over jobs)", title="memory per job")
    ax.grid(True, which="both", alpha=0.3)
    ax.legend(fontsize=7)
    fig.tight_layout()
    fig.savefig(dest / f"scale_memory{suffix}.png", dpi=110)
    plt.close(fig)

    fig, ax = plt.subplots(1, 3, figsize=(12, 3.8), sharey=True)
    ntrain = np.array([r["sample"].get("train_used", np.nan) for r in runs], float)
    for i, d in enumerate(CURVE_DAYS):
        for lv in LEVELS:
            y = [(r["learning"].get(lv) or {}).get(d) for r in runs]
            ax[i].semilogx(ntrain, [np.nan if v is None else v for v in y], "o-", label=lv)
        ax[i].set(xlabel="training objects", title=f"+{d} d" if d != "full" else "full light curves", ylim=(0, 1.0))
        ax[i].grid(True, which="both", alpha=0.3)
    ax[0].set_ylabel("macro-F1 (test split)")
    ax[0].legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(dest / f"learning_curve{suffix}.png", dpi=110)
    plt.close(fig)
    print(f"wrote {dest}/scale_cost{suffix}.png, scale_memory{suffix}.png, learning_curve{suffix}.png")


def markdown(out: dict[str, Any]) -> str:
    """Per-stage table (one row per stage and size) and the exponents, as Markdown."""
    runs = [r for r in out["runs"] if r["objects"]]
    ex = out.get("exponents", {})
    sizes = " / ".join(f"{r['objects']:,}" for r in runs)
    lines = [
        f"| stage | jobs | CPU s per job, median ({sizes} objects) | peak RSS per job, max, MB | MB on disk | k (CPU) | m (RSS) |",
        "|---|---|---|---|---|---|---|",
    ]
    for st in STAGES:
        rs = [r["stages"].get(st) for r in runs]
        if any(v is None for v in rs):
            continue
        e = ex.get(st, {})
        cpu = " / ".join(f"{v['cpu_s']['median']:.2f}" for v in rs)
        rss = " / ".join(f"{v['max_rss_mb']['max']:.0f}" for v in rs)
        disk = " / ".join(f"{v['bytes'] / 1e6:.1f}" for v in rs)
        k, m = e.get("k_cpu", float("nan")), e.get("m_rss", float("nan"))
        lines.append(f"| {st} | {rs[-1]['jobs']} | {cpu} | {rss} | {disk} | {k:.2f} | {m:.2f} |")
    heads = " | ".join(f"{r['sample'].get('train_used', 0):,} train" for r in runs)
    lines += ["", f"| macro-F1 (test) | {heads} |"]
    lines.append("|---" * (len(runs) + 1) + "|")
    for lv in LEVELS:
        for d in CURVE_DAYS:
            vals = [(r["learning"].get(lv) or {}).get(d) for r in runs]
            lines.append(f"| {lv} +{d} d | " + " | ".join(_f(v).strip() for v in vals) + " |")
    return "\n".join(lines)


def cmd_plot(a: argparse.Namespace) -> int:
    out = json.loads(Path(a.json).read_text())
    for run in out["runs"]:  # results still on disk: refresh what is read from them
        res = Path(out["args"]["workdir"]) / f"results_{run['chunks']}x{run['objects_per_chunk']}"
        if res.exists():
            run["errors"] = leaf_errors(res)
    out["exponents"] = exponents(out["runs"])
    if a.name is None or a.name == Path(a.json).stem.removeprefix("scale_"):
        Path(a.json).write_text(json.dumps(out, indent=1, default=float) + "\n")
    for run in out["runs"]:
        print_run(run)
    report(out)
    if a.plots:
        plot(out, Path(a.plots), a.name or Path(a.json).stem.removeprefix("scale_"))
    if a.markdown:
        print(markdown(out))
    return 0


def leaf_counts(res: Path) -> dict[str, int]:
    """Training objects per leaf (the model artifact's provenance)."""
    import torch

    d = torch.load(res / "model" / "model.ckpt", map_location="cpu", weights_only=False)
    return dict(d["hyper_parameters"]["provenance"]["train_leaf_counts"])


def _linear(x: list[float], y: list[float]) -> tuple[float, float]:
    """(intercept, slope) of y = a + b x, both >= 0 (least squares)."""
    b, a_ = np.polyfit(np.asarray(x, float), np.asarray(y, float), 1)
    return max(float(a_), 0.0), max(float(b), 0.0)


def extrapolate(out: dict[str, Any], a: argparse.Namespace) -> dict[str, Any]:
    """Wall time of the full layout (32 models x ``a.chunks`` x ``a.objects``) on ``a.node_cores`` cores
    and one GPU, from the measured runs: per-job CPU of each per-chunk stage = a + b x objects in the
    job (fitted over the sizes) and jobs / cores in parallel; train and evaluate from the measured
    per-object CPU cost scaled to the capped training set, the validation and the test split at
    full size, divided by the GPU/CPU throughput ratio given (README: train 80,000-120,000
    windows/s on an H100/H200 vs ~1,100/s on 2 CPU cores; evaluate 131,000 vs 8,600 lc/s). A per-chunk
    stage takes at least jobs x the Snakemake process's CPU per job (it runs on one core)."""
    runs = [r for r in out["runs"] if r["objects"]]
    big = runs[-1]
    res = Path(out["args"]["workdir"]) / f"results_{big['chunks']}x{big['objects_per_chunk']}"
    n_full = N_MODELS * a.chunks * a.objects
    objs_per_run = [r["objects"] for r in runs]
    est: dict[str, Any] = {"objects": n_full, "chunks": a.chunks, "objects_per_chunk": a.objects, "cores": a.node_cores}
    per_job_objects = {
        "mock": lambda r: r["objects"] / r["models"],
        "convert": lambda r: r["objects"] / (r["models"] * r["chunks"]),
        "tensorize": lambda r: r["objects"] / (r["models"] * r["chunks"]),
        "gallery": lambda r: 0.0,  # stops reading once it has its 6 objects
    }
    full_job_objects = {"mock": a.chunks * a.objects, "convert": a.objects, "tensorize": a.objects, "gallery": 0.0}
    full_jobs = {
        "mock": N_MODELS,
        "convert": N_MODELS * a.chunks,
        "tensorize": N_MODELS * a.chunks,
        "gallery": N_MODELS,
    }
    total = 0.0
    for st, fn in per_job_objects.items():
        x = [fn(r) for r in runs]
        y = [r["stages"][st]["cpu_s"]["sum"] / r["stages"][st]["jobs"] for r in runs]
        w = [r["stages"][st]["wall_s"]["median"] for r in runs]
        c0, c1 = _linear(x, y) if st != "gallery" else (float(np.mean(y)), 0.0)
        w0, _ = _linear(x, w) if st != "gallery" else (float(np.median(w)), 0.0)
        cpu_job = c0 + c1 * full_job_objects[st]
        wall_job = max(cpu_job, 0.0) + min(w0, 1.0)  # + the job's start-up not seen by the CPU sampling (<= 1 s)
        # the Snakemake process starts and finishes every job on one core: at most 1 / a.snakemake_s_per_job jobs/s
        wall = max(full_jobs[st] * wall_job / a.node_cores, full_jobs[st] * a.snakemake_s_per_job)
        est[st] = {"cpu_s_per_job": cpu_job, "cpu_s_fixed": c0, "cpu_s_per_object": c1, "wall_s": wall}
        total += wall
    # training: windows per epoch = capped training set; validation = every val object at len(val_days) truncations
    counts = leaf_counts(res)
    scale_up = n_full / big["objects"]
    train_full = sum(min(a.cap, round(c * scale_up)) for c in counts.values())
    val_full = big["sample"]["val"] * scale_up
    epochs = a.epochs
    rate_cpu = big["sample"].get("train_windows_per_s_median") or 1000.0
    train_s = epochs * (train_full / a.gpu_train_rate + 4 * val_full / a.gpu_eval_rate)
    load_s = 2e-5 * n_full  # reading and concatenating the shards: ~20 us/object (assumed)
    est["train"] = {
        "train_windows_per_epoch": train_full,
        "val_windows_per_epoch": 4 * val_full,
        "epochs": epochs,
        "wall_s": train_s + load_s,
        "cpu_windows_per_s_measured": rate_cpu,
        "holds_objects": n_full,
    }
    test_full = 0.3 * n_full
    n_days = 13
    est["calibrate"] = {"wall_s": val_full * n_days / a.gpu_eval_rate + load_s}
    est["evaluate"] = {"wall_s": test_full * n_days / a.gpu_eval_rate + load_s, "light_curves": test_full * n_days}
    total += est["train"]["wall_s"] + est["calibrate"]["wall_s"] + est["evaluate"]["wall_s"]
    est["plots"] = {"wall_s": big["stages"]["plots"]["wall_s"]["max"]}
    total += est["plots"]["wall_s"]
    est["total_wall_s"] = total
    est["objects_measured"] = objs_per_run
    return est


def cmd_extrapolate(a: argparse.Namespace) -> int:
    out = json.loads(Path(a.json).read_text())
    est = extrapolate(out, a)
    print(
        f"EXTRAPOLATED (not measured): 32 x {a.chunks} x {a.objects} = {est['objects']:,} objects on {a.node_cores} cores + 1 GPU "
        f"(train {a.gpu_train_rate:,.0f} windows/s, inference {a.gpu_eval_rate:,.0f} lc/s), {a.epochs} epochs"
    )
    for st in ("mock", "convert", "tensorize", "gallery"):
        e = est[st]
        print(
            f"  {st:10s} {e['wall_s']:7.0f} s  ({e['cpu_s_per_job']:.2f} CPU s/job = {e['cpu_s_fixed']:.2f} + "
            f"{1e3 * e['cpu_s_per_object']:.3f} ms/object)"
        )
    t = est["train"]
    print(
        f"  {'train':10s} {t['wall_s']:7.0f} s  ({t['train_windows_per_epoch']:,.0f} training + "
        f"{t['val_windows_per_epoch']:,.0f} validation windows per epoch, {t['epochs']} epochs)"
    )
    for st in ("calibrate", "evaluate", "plots"):
        print(f"  {st:10s} {est[st]['wall_s']:7.0f} s")
    print(f"  total      {est['total_wall_s']:7.0f} s = {est['total_wall_s'] / 60:.1f} min")
    dest = Path(a.json).with_name(Path(a.json).stem + f"_extrapolated_{a.chunks}x{a.objects}.json")
    dest.write_text(json.dumps(est, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0


def cmd_overhead(a: argparse.Namespace) -> int:
    """Snakemake's own CPU per job on the light jobs (mock, convert, tensorize, gallery)."""
    work = Path(a.workdir)
    wf = copy_workflow(work / "wf_overhead", a.ref)
    results = []
    for i, variant in enumerate(a.variant):
        res = work / f"overhead_{i}"
        if res.exists():
            shutil.rmtree(res)
        size_yaml = work / f"overhead_{i}.yaml"
        size_yaml.write_text(
            json.dumps({"results_dir": str(res), "mock": {"chunks": a.chunks, "objects_per_chunk": a.objects}})
        )
        args = ["--configfile", "config/scale.yaml", str(size_yaml), "--until", "tensorize", "lightcurve_gallery"]
        args += variant.split()
        print(f"== overhead, variant {variant or '(plain)'!r}: snakemake {' '.join(args)}", flush=True)
        shutil.rmtree(wf / ".snakemake", ignore_errors=True)
        proc = run_snakemake(wf, args, work / f"overhead_{i}.log", a.cores)
        stages = collect(res)
        jobs = sum(s["jobs"] for s in stages.values())
        job_cpu = sum(s["cpu_s"]["sum"] for s in stages.values())
        job_wall = sum(s["wall_s"]["sum"] for s in stages.values())
        rest = proc["tree_cpu_s"] - job_cpu
        r = {
            "variant": variant,
            "jobs": jobs,
            **proc,
            "jobs_cpu_s": job_cpu,
            "jobs_wall_s": job_wall,
            "outside_jobs_cpu_s_per_job": rest / jobs,
            "snakemake_cpu_s_per_job": proc["snakemake_cpu_s"] / jobs,
            "wall_s_per_job": proc["wall_s"] / jobs,
        }
        results.append(r)
        print(
            f"  {jobs} jobs in {proc['wall_s']:.0f} s wall ({r['wall_s_per_job']:.2f} s/job at {a.cores} cores); "
            f"CPU: tree {proc['tree_cpu_s']:.0f} s = jobs' own {job_cpu:.0f} s + {rest:.0f} s outside them "
            f"({r['outside_jobs_cpu_s_per_job']:.2f} s/job), of which the Snakemake process "
            f"{proc['snakemake_cpu_s']:.0f} s ({r['snakemake_cpu_s_per_job']:.2f} s/job); "
            f"jobs' own wall {job_wall:.0f} s",
            flush=True,
        )
    dest = Path(a.figures) / f"scale_overhead_{a.name}.json"
    stamp = {"date_utc": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "commit": commit_of(a.ref)}
    dest.write_text(json.dumps({**stamp, "runs": results}, indent=1) + "\n")
    print(f"wrote {dest}")
    return 0


def cmd_dag(a: argparse.Namespace) -> int:
    """Dry run of the whole workflow over the 32-model mock layout at 1 and ``--chunks`` chunks per
    model (best of 2 each): the wall time, and the marginal seconds per job between the two (the
    1-chunk DAG pays Snakemake's start-up and parsing, ~the same at any size)."""
    work = Path(a.workdir)
    wf = copy_workflow(work / "wf_dag", a.ref)
    out: dict[str, Any] = {}
    for label, extra in (("local", []), ("slurm-profile", ["--workflow-profile", "profiles/slurm"])):
        for chunks in (1, a.chunks):
            size_yaml = work / f"dag_{chunks}.yaml"
            size_yaml.write_text(json.dumps({"results_dir": str(work / "dag_results"), "mock": {"chunks": chunks}}))
            walls = []
            for _ in range(2):
                t0 = time.perf_counter()
                r = subprocess.run(
                    [sys.executable, "-m", "snakemake", "-n", "--quiet", "rules", "--cores", str(a.cores)]
                    + ["--configfile", "config/scale.yaml", str(size_yaml), *extra],
                    cwd=wf,
                    capture_output=True,
                    text=True,
                    env=env_for(wf),
                )
                walls.append(time.perf_counter() - t0)
                if r.returncode:
                    raise SystemExit(r.stderr[-3000:])
            m = re.search(r"^total\s+(\d+)", r.stdout + r.stderr, re.M)
            out[f"{label}_{chunks}"] = {"jobs": int(m[1]) if m else 0, "best_s": min(walls), "walls_s": walls}
        lo, hi = out[f"{label}_1"], out[f"{label}_{a.chunks}"]
        per_job = (hi["best_s"] - lo["best_s"]) / max(1, hi["jobs"] - lo["jobs"])
        out[f"{label}_ms_per_job"] = 1000 * per_job
        print(
            f"dry run ({label}): {hi['jobs']} jobs {hi['best_s']:.2f} s (best of {', '.join(f'{w:.2f}' for w in hi['walls_s'])}); "
            f"{lo['jobs']} jobs {lo['best_s']:.2f} s; marginal {1000 * per_job:.1f} ms per job; load {os.getloadavg()[0]:.1f}"
        )
    dest = Path(a.figures) / f"scale_dag_{a.name}.json"
    dest.write_text(
        json.dumps(
            {"date_utc": time.strftime("%Y-%m-%dT%H:%MZ", time.gmtime()), "commit": commit_of(a.ref), **out}, indent=1
        )
        + "\n"
    )
    print(f"wrote {dest}")
    return 0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    sub = ap.add_subparsers(required=True)
    common = argparse.ArgumentParser(add_help=False)
    common.add_argument("--workdir", default="/tmp/elasticc_scale", help="workflow copy and results (not the repo)")
    common.add_argument("--cores", type=int, default=2)
    common.add_argument("--figures", default=str(ROOT / "bench" / "figures"), help="where the JSON goes")
    common.add_argument("--plots", default=None, help="directory for the PNGs (e.g. docs)")
    common.add_argument("--name", default=None, help="label of the JSON/PNGs (default cpu2; plot: from the JSON)")
    common.add_argument("--ref", default="HEAD", help="git ref of the workflow and package to run ('worktree': as is)")
    p = sub.add_parser("sizes", parents=[common], help="run the workflow at several sizes")
    p.add_argument("--objects", type=int, nargs="+", default=[25, 80, 250, 750], help="objects per chunk")
    p.add_argument("--chunks", type=int, default=2, help="chunk pairs per model")
    p.add_argument("--models", default="all")
    p.add_argument("--max-epochs", type=int, default=12)
    p.add_argument("--patience", type=int, default=0, help="early-stopping patience (0: = max-epochs)")
    p.add_argument("--gpus", type=int, default=0, help="train.gpus")
    p.add_argument("--train-threads", type=int, default=0, help="train.threads (0: --cores)")
    p.add_argument("--keep", action="store_true", help="keep existing results and workflow copy (rerun what is stale)")
    p.add_argument("--collect-only", action="store_true", help="read existing results of these sizes, run nothing")
    p.add_argument("--snakemake-args", nargs=argparse.REMAINDER, default=[], help="passed on to snakemake")
    p.set_defaults(func=cmd_sizes)
    p = sub.add_parser("overhead", parents=[common], help="Snakemake's own cost per job")
    p.add_argument("--chunks", type=int, default=5)
    p.add_argument("--objects", type=int, default=2)
    p.add_argument("--variant", nargs="+", default=[""], help="extra snakemake arguments per run ('' = plain)")
    p.set_defaults(func=cmd_overhead)
    p = sub.add_parser("dag", parents=[common], help="dry run of the full layout")
    p.add_argument("--chunks", type=int, default=40)
    p.set_defaults(func=cmd_dag)
    p = sub.add_parser("extrapolate", parents=[common], help="full-size wall time from a saved run")
    p.add_argument("json")
    p.add_argument("--chunks", type=int, default=40)
    p.add_argument("--objects", type=int, default=4000)
    p.add_argument("--epochs", type=int, default=20)
    p.add_argument("--cap", type=int, default=40000, help="train.max_per_leaf")
    p.add_argument("--gpu-train-rate", type=float, default=80000.0, help="training windows/s on the GPU")
    p.add_argument("--gpu-eval-rate", type=float, default=130000.0, help="inference light curves/s on the GPU")
    p.add_argument("--node-cores", type=int, default=16, help="CPU cores of the GPU node")
    p.add_argument(
        "--snakemake-s-per-job",
        type=float,
        default=0.22,
        help="CPU s the Snakemake process spends per job (bench/scale.py overhead: 0.22 plain, 0.18 greedy)",
    )
    p.set_defaults(func=cmd_extrapolate)
    p = sub.add_parser("plot", parents=[common], help="print and plot a saved run")
    p.add_argument("json")
    p.add_argument("--markdown", action="store_true", help="also print the tables as Markdown")
    p.set_defaults(func=cmd_plot)
    a = ap.parse_args(argv)
    if a.name is None and a.func is not cmd_plot:
        a.name = "cpu2"
    return a.func(a)


if __name__ == "__main__":
    raise SystemExit(main())

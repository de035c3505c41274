"""Sim-to-real check: train on the mock, classify the real ELAsTiCC2 objects, print the fractions.

    .venv/bin/python bench/sim2real.py [--workdir /tmp/sim2real] [--config config/sim2real.yaml]
        [--real ../shared/realdata/elasticc2_train_1percent] [--cores 2] [--model CKPT] [--json out.json]

1. Copies the workflow (Snakefile, rules/, scripts/, config/, report/, profiles/) and the package
   (envs/, src/) into ``<workdir>/wf``, so that edits to the working tree during the run change nothing,
   and runs ``nice -n 10 snakemake --cores N --configfile <config> --config results_dir=<workdir>/results``
   up to the evaluation's metrics.json (mock -> convert -> tensorize -> train -> calibrate -> evaluate).
   ``--model`` skips this and uses a model artifact already trained.
2. ``elasticc-classification predict`` on each real model directory under ``--real``, with the model's
   own (balanced) prior and with ``--prior published`` (the ELAsTiCC2 training set's class proportions).
3. Prints, per real class, the fraction of objects whose prediction is right at each taxonomy level
   (level_1 Transient/Variable, level_2 e.g. SN or Fast, leaf), and the most frequent answers; with
   the model's own test-split figures (metrics.json) where the workflow ran.

The real objects' labels are only read here, to count; nothing is trained or tuned on them.
Goal (issue 14): >= 80 % of the real SNIb called SN at level 2, >= 80 % of the real M-dwarf flares
called Fast, the leaf right for >= 50 % of each.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path

import pyarrow.parquet as pq
import yaml

ROOT = Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "realdata" / "elasticc2_train_1percent"
WORKFLOW = ("Snakefile", "rules", "scripts", "config", "report", "profiles", "envs", "src")
GOALS = {"SNIb-Templates": {"level_2": 0.8, "leaf": 0.5}, "Mdwarf-flare": {"level_2": 0.8, "leaf": 0.5}}


def ancestors(taxonomy: Path, model: str) -> list[str]:
    """[level_1, level_2, ..., leaf] of a model under the taxonomy file's tree (root excluded)."""
    tax = yaml.safe_load(taxonomy.read_text())
    parent = {c: p for p, children in tax["tree"].items() for c in children}
    path = [tax["models"][model]]
    while parent.get(path[-1], tax["root"]) != tax["root"]:
        path.append(parent[path[-1]])
    return path[::-1]


def train(workdir: Path, config: Path, cores: int, from_head: bool = False) -> tuple[Path, Path]:
    """Run the workflow copy up to the evaluation; returns (model artifact, metrics.json).

    ``from_head``: copy the committed workflow and package (``git archive HEAD``) and only the
    working tree's mock package and sim2real config over it (a tree others are editing)."""
    wf = workdir / "wf"
    if wf.exists():
        shutil.rmtree(wf)
    wf.mkdir(parents=True)
    if from_head:
        archive = subprocess.run(["git", "archive", "HEAD", *WORKFLOW], cwd=ROOT, check=True, capture_output=True)
        subprocess.run(["tar", "-x", "-C", str(wf)], input=archive.stdout, check=True)
        for rel in ("src/elasticc_classification/mock", "config/sim2real.yaml"):
            dest = wf / rel
            shutil.rmtree(dest, ignore_errors=True) if (ROOT / rel).is_dir() else None
            (shutil.copytree if (ROOT / rel).is_dir() else shutil.copy2)(ROOT / rel, dest)
    else:
        for name in WORKFLOW:
            src = ROOT / name
            (shutil.copytree if src.is_dir() else shutil.copy2)(src, wf / name)
    results = workdir / "results"
    target = results / "evaluation" / "metrics.json"
    env = dict(os.environ, PYTHONPATH=str(wf / "src"), OMP_NUM_THREADS="2")
    snakemake = Path(sys.executable).with_name("snakemake")
    cmd = ["nice", "-n", "10", str(snakemake), "--cores", str(cores), "--configfile", str(config.resolve())]
    cmd += ["--config", f"results_dir={results}", "--", str(target)]
    t = time.time()
    subprocess.run(cmd, cwd=wf, env=env, check=True)
    print(f"workflow: {time.time() - t:.0f} s wall")
    model = results / "model" / "model_calibrated.ckpt"
    return (model if model.exists() else results / "model" / "model.ckpt"), target


def predict(model: Path, real: Path, workdir: Path, src: Path | None, prior: str = "training") -> dict[str, Path]:
    """``elasticc-classification predict --prior PRIOR`` on every real model directory -> {model: parquet}."""
    out = {}
    env = dict(os.environ, PYTHONPATH=str(src)) if src else None
    cli = ["-c", "from elasticc_classification.cli import main; raise SystemExit(main())"]
    for d in sorted(p for p in real.iterdir() if p.is_dir()):
        name = d.name.split("_")[-1]
        dest = workdir / f"predictions_{name}{'' if prior == 'training' else '_' + prior}.parquet"
        cmd = [sys.executable, *cli, "predict", "--prior", prior, str(model), str(d), str(dest)]
        subprocess.run(cmd, check=True, env=env)
        out[name] = dest
    return out


def fractions(pred: Path, truth: list[str]) -> dict:
    """Per level, the fraction of rows whose prediction equals the true node, and the top answers."""
    t = pq.read_table(pred)
    n = t.num_rows
    out: dict = {"objects": n}
    levels = [f"level_{k}" for k in range(1, len(truth))] + ["leaf"]
    for k, level in enumerate(levels):
        col = t.column(f"pred_{level}").to_pylist()
        out[level] = {
            "true": truth[k],
            "fraction": sum(c == truth[k] for c in col) / max(n, 1),
            "answers": dict(Counter(col).most_common(5)),
        }
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--workdir", type=Path, default=Path("/tmp/sim2real"))
    ap.add_argument("--config", type=Path, default=ROOT / "config" / "sim2real.yaml")
    ap.add_argument("--real", type=Path, default=REAL)
    ap.add_argument("--cores", type=int, default=2)
    ap.add_argument("--model", type=Path, default=None, help="use this model artifact instead of training")
    ap.add_argument("--json", type=Path, default=None)
    ap.add_argument("--from-head", action="store_true", help="committed workflow + the working tree's mock package")
    args = ap.parse_args(argv)
    if not args.real.is_dir():
        print(f"error: no real files at {args.real}", file=sys.stderr)
        return 2
    args.workdir.mkdir(parents=True, exist_ok=True)
    metrics = None
    src = None
    if args.model is None:
        args.model, metrics = train(args.workdir, args.config, args.cores, args.from_head)
        src = args.workdir / "wf" / "src"
    taxonomy = (args.workdir / "wf" if src else ROOT) / "config" / "taxonomy.yaml"
    report: dict = {"model": str(args.model)}
    for prior, key in (("training", "classes"), ("published", "classes_published_prior")):
        report[key] = {}
        for name, pred in predict(args.model, args.real, args.workdir, src, prior).items():
            report[key][name] = fractions(pred, ancestors(taxonomy, name))
    if metrics is not None and metrics.exists():
        report["test_split"] = json.loads(metrics.read_text())
    for key, title in (("classes", "the model's balanced prior"), ("classes_published_prior", "--prior published")):
        print(f"\n== {title}")
        for name, r in report[key].items():
            print(f"real {name}: {r['objects']} objects")
            for level in [k for k in r if k != "objects"]:
                v = r[level]
                goal = GOALS.get(name, {}).get(level)
                met = "" if goal is None else ("met" if v["fraction"] >= goal else "NOT met")
                mark = "" if goal is None else f"  goal >= {goal:.0%}: {met}"
                print(f"  {level:8s} {v['true']:14s} {v['fraction']:6.1%}{mark}   answers {v['answers']}")
    if args.json:
        args.json.write_text(json.dumps(report, indent=1, default=str) + "\n")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

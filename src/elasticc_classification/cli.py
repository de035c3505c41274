"""Command line: ``elasticc-classification <command> ...``.

Each command imports its module lazily so that light commands (convert, mock) start fast
and never import torch. Bad input ends with one ``error: ...`` line and exit status 2.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path

from elasticc_classification import __version__
from elasticc_classification.errors import InputError
from elasticc_classification.logs import setup_logging


# --- commands ------------------------------------------------------------------------------
def _cmd_convert(args: argparse.Namespace) -> None:
    from elasticc_classification.io.snana import convert_pair

    convert_pair(args.head, args.phot, args.out, model=args.model)


def _cmd_mock(args: argparse.Namespace) -> None:
    from elasticc_classification.mock import generate

    generate(
        args.outdir,
        models=args.models,
        n_chunks=args.chunks,
        objects_per_chunk=args.objects_per_chunk,
        seed=args.seed,
        prefix=args.prefix,
        mix=args.mix,
    )


def _cmd_tensorize(args: argparse.Namespace) -> None:
    from elasticc_classification.features.tensorize import load_config, tensorize

    cfg, taxonomy = load_config(args.config)
    tensorize(args.parquet, args.out, cfg=cfg, taxonomy=args.taxonomy or taxonomy)


def _cmd_train(args: argparse.Namespace) -> None:
    import os

    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")  # before torch loads OpenMP (see scripts/train.py)
    from elasticc_classification.model.train import run_cli

    run_cli(
        args.shards,
        args.out,
        config_path=args.config,
        taxonomy=args.taxonomy,
        metrics=args.metrics,
        checkpoints=args.checkpoints,
        threads=args.threads,
    )


def _cmd_evaluate(args: argparse.Namespace) -> None:
    from elasticc_classification import config
    from elasticc_classification.configfile import read_config
    from elasticc_classification.evaluation.calibration import calibrate
    from elasticc_classification.evaluation.evaluate import evaluate, make_plots

    # the config's evaluate section (validated, schema defaults filled); options given override it
    spec = read_config(args.config) if args.config is not None else {}
    cfg = config.validate(spec, source=str(args.config or "config"))["evaluate"]
    days = args.days if args.days is not None else cfg["days"]
    confusion_days = args.confusion_days if args.confusion_days is not None else cfg["confusion_days"]
    batch_size = args.batch_size if args.batch_size is not None else cfg["batch_size"]
    bins = cfg["reliability_bins"]
    model = args.model
    if args.calibrate or (args.config is not None and cfg["calibrate"]):
        model = args.out_dir / "model_calibrated.ckpt"
        calibrate(
            args.model,
            args.shards,
            model,
            args.out_dir / "calibration.json",
            days=[*days, "full"],
            batch_size=batch_size,
            n_bins=bins,
        )
    conf = [d for d in confusion_days if d in days]
    evaluate(model, args.shards, args.out_dir, days=days, batch_size=batch_size, n_bins=bins, plot_days=conf)
    if args.plots:
        make_plots(args.out_dir, args.out_dir / "plots", confusion_days=conf, n_bins=bins, loss_csv=args.loss_csv)


def _cmd_predict(args: argparse.Namespace) -> None:
    from elasticc_classification.inference.predict import predict

    predict(
        args.model,
        args.input,
        args.out,
        days=args.days,
        per_epoch=args.per_epoch,
        runtime=args.runtime,
        batch_size=args.batch_size,
        prior=args.prior,
    )


def _cmd_export(args: argparse.Namespace) -> None:
    from elasticc_classification.inference.export import export

    export(args.model, args.out, args.format)


def _cmd_download(args: argparse.Namespace) -> None:
    from elasticc_classification.io.download import URL, download

    marker = download(
        args.dest, url=args.url or URL, size_bytes=args.size_bytes, sha256=args.sha256, keep_tarball=args.keep_tarball
    )
    print(marker)


def _cmd_classify_alerts(args: argparse.Namespace) -> None:
    from elasticc_classification.inference.alerts import classify_alerts

    names = {
        k: v
        for k, v in (
            ("broker_name", args.broker_name),
            ("broker_version", args.broker_version),
            ("classifier_name", args.classifier_name),
            ("classifier_params", args.classifier_params),
        )
        if v is not None
    }
    classify_alerts(
        args.model,
        args.input,
        args.out,
        runtime=args.runtime,
        fmt=args.format,
        skip_bad=args.skip_bad,
        batch_size=args.batch_size,
        taxonomy=args.taxonomy,
        **names,
    )


def _cmd_alerts(args: argparse.Namespace) -> None:
    from elasticc_classification.io.alerts import simulate

    simulate(args.input, args.outdir, chunk_size=args.chunk_size, schemaless=args.schemaless)


# --- parser --------------------------------------------------------------------------------
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="elasticc-classification",
        description="Hierarchical classification of ELAsTiCC2 alerts (SNANA FITS -> parquet -> shards -> model).",
    )
    p.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    p.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = p.add_subparsers(dest="command", required=True, metavar="COMMAND")

    c = sub.add_parser("convert", help="SNANA HEAD/PHOT FITS pair -> one parquet, one row per object")
    c.add_argument("head", type=Path, help="HEAD file (.FITS or .FITS.gz)")
    c.add_argument("phot", type=Path, help="PHOT file (.FITS or .FITS.gz)")
    c.add_argument("out", type=Path, help="output parquet")
    c.add_argument("--model", help="model name for the MODEL column (default: from the directory name)")
    c.set_defaults(func=_cmd_convert)

    m = sub.add_parser("mock", help="write a synthetic ELAsTiCC2-like training sample in the real SNANA format")
    m.add_argument("outdir", type=Path)
    m.add_argument("--models", nargs="+", default=None, help="model names (default: all 32)")
    m.add_argument("--chunks", type=int, default=2, help="chunk pairs per model (default 2)")
    m.add_argument(
        "--objects-per-chunk", type=int, default=100, help="mean objects per chunk pair (Poisson; default 100)"
    )
    m.add_argument("--seed", type=int, default=42)
    m.add_argument("--prefix", default="ELASTICC2_TRAIN_02", help="file prefix (default ELASTICC2_TRAIN_02)")
    m.add_argument(
        "--mix",
        choices=["equal", "published"],
        default="equal",
        help="objects per model: equal (default) or the ELAsTiCC2 training set's relative numbers",
    )
    m.set_defaults(func=_cmd_mock)

    t = sub.add_parser(
        "tensorize", help="converted chunk parquet -> tensor shard (preprocessing, features, labels, split)"
    )
    t.add_argument("parquet", type=Path, help="chunk parquet written by convert")
    t.add_argument("out", type=Path, help="output shard (.arrow)")
    t.add_argument(
        "--config",
        type=Path,
        help="workflow config YAML (its tensorize section and taxonomy) or a tensorize section alone; default: built-in defaults",
    )
    t.add_argument(
        "--taxonomy",
        type=Path,
        help="taxonomy YAML (default: the config's taxonomy, else the built-in ORACLE taxonomy)",
    )
    t.set_defaults(func=_cmd_tensorize)

    tr = sub.add_parser("train", help="train the hierarchical classifier on tensor shards -> model artifact")
    tr.add_argument("shards", type=Path, nargs="+", help="tensor shards (.arrow) holding train and validation objects")
    tr.add_argument("--out", type=Path, required=True, help="model artifact to write (model.ckpt)")
    tr.add_argument(
        "--config", type=Path, help="workflow config YAML: its train and augment sections (default: built-in defaults)"
    )
    tr.add_argument(
        "--taxonomy", type=Path, help="taxonomy YAML (default: the config's, else the one stored in the shards)"
    )
    tr.add_argument("--metrics", type=Path, help="merged training log CSV (default: metrics.csv beside --out)")
    tr.add_argument(
        "--checkpoints",
        type=Path,
        help="Lightning checkpoint directory, resumed from (default: checkpoints/ beside --out)",
    )
    tr.add_argument("--threads", type=int, help="torch CPU threads (default: the config's train.threads)")
    tr.set_defaults(func=_cmd_train)

    ev = sub.add_parser(
        "evaluate", help="metrics per taxonomy level on the test split, by days since the first detection"
    )
    ev.add_argument("model", type=Path, help="model artifact (model.ckpt)")
    ev.add_argument("shards", type=Path, nargs="+", help="tensor shards (the test split is evaluated)")
    ev.add_argument(
        "out_dir", type=Path, help="output directory (metrics.json, metrics.csv, per_class.csv, predictions.npz)"
    )
    ev.add_argument(
        "--days",
        type=int,
        nargs="+",
        default=None,
        help="truncations, days after the first detection (default: the config's evaluate.days, 0 1 2 4 ... 1024)",
    )
    ev.add_argument(
        "--confusion-days",
        type=int,
        nargs="*",
        default=None,
        help="confusion matrices at these truncations (those in --days) and on full light curves (default: the config's, 0 8 64)",
    )
    ev.add_argument(
        "--config",
        type=Path,
        help="workflow config YAML (whole or partial): its evaluate section, checked against the schema; "
        "evaluate.calibrate applies (default: the schema defaults, no calibration unless --calibrate)",
    )
    ev.add_argument("--calibrate", action="store_true", help="fit a temperature on the validation split first")
    ev.add_argument("--plots", action="store_true", help="also write the PNG figures to OUT_DIR/plots")
    ev.add_argument("--loss-csv", type=Path, help="the trainer's CSVLogger metrics.csv (adds loss.png to --plots)")
    ev.add_argument("--batch-size", type=int, default=None, help="default: the config's evaluate.batch_size (1024)")
    ev.set_defaults(func=_cmd_evaluate)

    pr = sub.add_parser(
        "predict", help="classify alerts: HEAD/PHOT pair, raw directory or converted parquet -> parquet"
    )
    pr.add_argument("model", type=Path, help="model artifact (.ckpt), or an exported .onnx with --runtime onnx")
    pr.add_argument("input", type=Path, nargs="+", help="HEAD [PHOT] FITS file(s), a raw directory, or parquet file(s)")
    pr.add_argument("out", type=Path, help="output parquet: one row per object (per observation with --per-epoch)")
    pr.add_argument(
        "--days", type=float, help="classify as of DAYS days after the first detection (default: everything)"
    )
    pr.add_argument("--per-epoch", action="store_true", help="probabilities after each observation")
    pr.add_argument("--runtime", choices=["torch", "onnx"], default="torch")
    pr.add_argument("--batch-size", type=int, default=1024)
    pr.add_argument(
        "--prior",
        choices=["training", "published"],
        default="training",
        help="class prior of the probabilities: the model's own (balanced classes; default) or the "
        "ELAsTiCC2 training set's published class proportions (the taxonomy's prior)",
    )
    pr.set_defaults(func=_cmd_predict)

    ex = sub.add_parser(
        "export", help="export a model artifact to TorchScript or ONNX (outputs marginal probabilities)"
    )
    ex.add_argument("model", type=Path, help="model artifact (model.ckpt)")
    ex.add_argument("out", type=Path, help="output file (.pt for torchscript, .onnx)")
    ex.add_argument("--format", choices=["torchscript", "onnx"], default="onnx")
    ex.set_defaults(func=_cmd_export)

    dl = sub.add_parser(
        "download", help="fetch, verify and unpack the official ELAsTiCC2 training tarball (7.9 GB) into DEST"
    )
    dl.add_argument(
        "dest", type=Path, help="directory to unpack into (then use it as raw_dir); the tarball goes to DEST.tar.bz2"
    )
    dl.add_argument("--url", default=None, help="tarball URL (default: the official NERSC one)")
    dl.add_argument("--size-bytes", type=int, default=None, help="expected tarball size in bytes")
    dl.add_argument("--sha256", default=None, help="expected SHA-256 (default: computed and recorded)")
    dl.add_argument("--keep-tarball", action="store_true", help="keep DEST.tar.bz2 after unpacking")
    dl.set_defaults(func=_cmd_download)

    ca = sub.add_parser(
        "classify-alerts", help="broker mode: ELAsTiCC Avro alerts -> brokerClassification records (or parquet)"
    )
    ca.add_argument("model", type=Path, help="model artifact (.ckpt), or an exported .onnx with --runtime onnx")
    ca.add_argument(
        "input",
        type=Path,
        nargs="+",
        help="Avro container files (.avro[.gz]), schemaless message files, directories of them, or parquet of alerts",
    )
    ca.add_argument("out", type=Path, help="output: Avro container of brokerClassification records (or parquet)")
    ca.add_argument("--runtime", choices=["torch", "onnx"], default="torch")
    ca.add_argument(
        "--format",
        choices=["avro", "parquet"],
        default="avro",
        help="avro: brokerClassification records; parquet: every node's probability and pred_* per alert",
    )
    ca.add_argument("--skip-bad", action="store_true", help="skip bad files and alerts (counted in the log)")
    ca.add_argument("--batch-size", type=int, default=1024)
    ca.add_argument("--taxonomy", type=Path, help="taxonomy YAML with class_ids, for a model whose taxonomy has none")
    ca.add_argument("--broker-name", help="brokerName (default ELAsTiCC-Classification)")
    ca.add_argument("--broker-version", help="brokerVersion (default: this package's version)")
    ca.add_argument("--classifier-name", help="classifierName (default: package, version and model kind)")
    ca.add_argument("--classifier-params", help="classifierParams (default: model file name, SHA-256, runtime)")
    ca.set_defaults(func=_cmd_classify_alerts)

    al = sub.add_parser(
        "alerts", help="simulate the ELAsTiCC alert stream of SNANA files: one alert per detection (Avro)"
    )
    al.add_argument(
        "input", type=Path, nargs="+", help="HEAD [PHOT] FITS file(s), a raw/model directory, or converted parquet"
    )
    al.add_argument("outdir", type=Path, help="output directory (alerts_NNNNNN.avro, or <alertId>.avro-msg)")
    al.add_argument("--chunk-size", type=int, default=10_000, help="alerts per container file (default 10000)")
    al.add_argument("--schemaless", action="store_true", help="one schemaless message per file (as on Kafka)")
    al.set_defaults(func=_cmd_alerts)

    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    setup_logging(level=logging.DEBUG if args.verbose else logging.INFO)
    try:
        args.func(args)
    except InputError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print("interrupted", file=sys.stderr)
        return 130
    return 0


if __name__ == "__main__":
    sys.exit(main())

"""Logging set-up shared by the CLI and the Snakemake scripts."""

from __future__ import annotations

import logging
import sys
from pathlib import Path

LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"


def setup_logging(log_file: str | Path | None = None, level: int = logging.INFO) -> None:
    """Log to stderr and, when given, to ``log_file`` (a Snakemake rule's ``log:``)."""
    handlers: list[logging.Handler] = [logging.StreamHandler(sys.stderr)]
    if log_file:
        Path(log_file).parent.mkdir(parents=True, exist_ok=True)
        handlers.append(logging.FileHandler(log_file, mode="w"))
    logging.basicConfig(level=level, format=LOG_FORMAT, handlers=handlers, force=True)


def run_script(main, snakemake) -> None:
    """Run ``main(snakemake)`` in a Snakemake script: log to ``snakemake.log[0]``; on bad input,
    log the one clear message and exit 1 (no traceback), so the job fails cleanly."""
    from elasticc_classification.errors import InputError

    setup_logging(snakemake.log[0] if len(snakemake.log) else None)
    try:
        main(snakemake)
    except InputError as e:
        logging.getLogger("elasticc_classification").error("%s", e)
        sys.exit(1)

"""Exceptions for bad user input, and atomic output files (JSON among them).

Every error a user can cause derives from :class:`InputError`; the CLI and the Snakemake
scripts print its message alone (what, which file/object, what to do) and exit non-zero.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any


class InputError(ValueError):
    """Bad input from the user: the message says what, where, and what to do."""


@contextlib.contextmanager
def atomic_output(path: str | Path, suffix: str | None = None) -> Iterator[Path]:
    """Yield a temporary path next to ``path``; rename it to ``path`` only on success.

    On any exception the temporary file is removed and ``path`` is left untouched, so a
    failed job never leaves a partial output behind.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix or ".tmp", dir=path.parent)
    os.close(fd)
    umask = os.umask(0)
    os.umask(umask)
    os.chmod(tmp, 0o666 & ~umask)  # mkstemp makes 0600; outputs get the usual permissions
    tmp_path = Path(tmp)
    try:
        yield tmp_path
        os.replace(tmp_path, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp_path.unlink()
        raise


def write_json_atomic(path: str | Path, obj: Any) -> None:
    """Write ``obj`` to ``path`` as JSON (indent 1, trailing newline) via :func:`atomic_output`."""
    with atomic_output(path, suffix=".json") as tmp:
        tmp.write_text(json.dumps(obj, indent=1) + "\n")

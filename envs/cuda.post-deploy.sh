#!/usr/bin/env bash
# Run by Snakemake inside the new environment, in the workflow directory: install this package
# (editable, no dependencies: the environment file has them) so rules' scripts can import it.
set -euo pipefail
grep -q '^name = "elasticc-classification"' pyproject.toml || {
    echo "post-deploy: run Snakemake from the ELAsTiCC-Classification directory (no pyproject.toml in $PWD)" >&2
    exit 1
}
python -m pip install --no-deps --no-build-isolation -q -e .

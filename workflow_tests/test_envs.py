"""envs/cpu.yaml and envs/cuda.yaml hold exactly pyproject's runtime dependencies, same lower bounds."""

from __future__ import annotations

import re
import tomllib
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[1]
ENVS = ("cpu", "cuda")
# pyproject (PyPI) name -> conda-forge name per environment; other names are the same.
CONDA_NAME = {
    "cpu": {"torch": "pytorch-cpu", "isal": "python-isal"},
    "cuda": {"torch": "pytorch-gpu", "isal": "python-isal"},
}
# Present in the environments for building/installing the package, not runtime dependencies.
TOOLING = {"python", "pip", "setuptools", "cuda-version"}
_REQ = re.compile(r"^\s*([A-Za-z0-9_.\-]+)\s*(.*)$")


def _split(req: str) -> tuple[str, str]:
    """``"numpy>=1.26"`` -> ``("numpy", ">=1.26")`` (name lower-cased, spaces dropped)."""
    m = _REQ.match(req.split("#")[0])
    assert m, f"cannot parse requirement {req!r}"
    return m[1].lower().replace("_", "-"), m[2].replace(" ", "")


def _pyproject_deps() -> dict[str, str]:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    return dict(_split(r) for r in data["project"]["dependencies"])


def _env_deps(name: str) -> dict[str, str]:
    env = yaml.safe_load((ROOT / "envs" / f"{name}.yaml").read_text())
    deps = env["dependencies"]
    assert all(isinstance(d, str) for d in deps), f"envs/{name}.yaml: conda-forge packages only, no pip: section"
    return dict(_split(d) for d in deps)


@pytest.mark.parametrize("env", ENVS)
def test_env_matches_pyproject(env: str) -> None:
    want = {CONDA_NAME[env].get(n, n): spec for n, spec in _pyproject_deps().items()}
    have = {n: s for n, s in _env_deps(env).items() if n not in TOOLING}
    missing = sorted(set(want) - set(have))
    extra = sorted(set(have) - set(want))
    assert not missing, f"envs/{env}.yaml lacks pyproject dependencies {missing}: add them"
    assert not extra, f"envs/{env}.yaml has {extra}, not in pyproject's dependencies: add them there or drop them"
    differ = {n: (want[n], have[n]) for n in want if want[n] != have[n]}
    assert not differ, f"envs/{env}.yaml version bounds differ from pyproject (pyproject, env): {differ}"


@pytest.mark.parametrize("env", ENVS)
def test_env_python_matches_requires_python(env: str) -> None:
    data = tomllib.loads((ROOT / "pyproject.toml").read_text())
    floor = data["project"]["requires-python"].removeprefix(">=")
    spec = _env_deps(env)["python"]
    assert spec.startswith(f">={floor}"), f"envs/{env}.yaml python {spec} vs requires-python >={floor}"


def test_cuda_env_has_gpu_torch_and_cpu_env_has_not() -> None:
    assert "pytorch-gpu" in _env_deps("cuda") and "pytorch-cpu" not in _env_deps("cuda")
    assert "pytorch-cpu" in _env_deps("cpu") and "pytorch-gpu" not in _env_deps("cpu")


@pytest.mark.parametrize("env", ENVS)
def test_post_deploy_installs_package_without_deps(env: str) -> None:
    script = ROOT / "envs" / f"{env}.post-deploy.sh"
    text = script.read_text()
    assert "pip install --no-deps" in text and "-e ." in text
    assert script.stat().st_mode & 0o111, f"{script} must be executable"

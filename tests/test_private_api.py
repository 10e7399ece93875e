"""The modules below a library's public API (armada/private_api/): each is in the one table of
the versions they were checked with, and each library installed and pinned is that version."""

from __future__ import annotations

import configparser
import importlib.metadata
import pkgutil
from pathlib import Path

import pytest

from armada import private_api
from armada.private_api import CHECKED_WITH

SETUP_CFG = Path(__file__).resolve().parent.parent / "setup.cfg"


def pinned() -> dict[str, str]:
    """setup.cfg's install_requires, distribution -> the version pinned with ==."""
    setup = configparser.ConfigParser()
    setup.read(SETUP_CFG)
    lines = setup["options"]["install_requires"].splitlines()
    return dict(line.split(";")[0].strip().partition("==")[::2] for line in lines
                if "==" in line and not line.strip().startswith("#"))


def test_every_module_below_a_library_api_has_its_row_in_the_table() -> None:
    modules = {module.name for module in pkgutil.iter_modules(private_api.__path__)}
    assert modules == set(CHECKED_WITH)


@pytest.mark.parametrize("module", sorted(CHECKED_WITH))
def test_each_library_installed_and_pinned_is_the_version_its_module_was_checked_with(
        module: str) -> None:
    distribution, checked_with = CHECKED_WITH[module]
    installed = importlib.metadata.version(distribution)
    pin = pinned()[distribution]
    assert installed == pin == checked_with, (
        f"armada/private_api/{module}.py reaches below {distribution}'s public API and was "
        f"checked on {checked_with}; setup.cfg pins {pin} and {installed} is installed. Read "
        f"what it relies on in the new version and run its tests against it, then change its "
        f"row in CHECKED_WITH (armada/private_api/__init__.py), the pin and the installed "
        f"version together.")

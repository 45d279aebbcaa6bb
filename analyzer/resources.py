"""Where the package's data lives: `patterns/` and `reports/` beside it in a checkout, or their
copies inside an installed wheel (`analyzer/_data/`, see pyproject's force-include)."""

from __future__ import annotations

from pathlib import Path


def data_dir(name: str) -> Path:
    """The `patterns` or `reports` directory, whichever way the package was installed."""
    here = Path(__file__).resolve().parent
    for candidate in (here / "_data" / name, here.parent / name):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError(f"{here}: the {name}/ directory is missing from the install")

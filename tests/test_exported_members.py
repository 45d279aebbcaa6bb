"""The library surface is exactly what `analyzer.__all__` says (as httpx pins its own)."""

from __future__ import annotations

import subprocess
import sys

import analyzer


def test_all_exports_exist_and_nothing_public_is_left_out():
    for name in analyzer.__all__:
        assert hasattr(analyzer, name), name
    public = {
        name
        for name in dir(analyzer)
        if not name.startswith("_")
        and name not in {"annotations", "TYPE_CHECKING", "Any"}
        # submodules are reachable as attributes once imported; they are not the surface
        and type(getattr(analyzer, name)).__name__ != "module"
    }
    assert public == set(analyzer.__all__) - {"__version__", "LokiConfig"}


def test_the_surface_is_pinned():
    assert analyzer.__all__ == [
        "Analysis",
        "AnalyzerError",
        "FileSource",
        "Inputs",
        "LokiConfig",
        "LokiSource",
        "Overrides",
        "Provenance",
        "RenderOptions",
        "Source",
        "SourceResult",
        "Wants",
        "__version__",
        "analyze",
        "render_json",
        "render_markdown",
        "to_json",
    ]


def test_importing_the_package_does_not_load_httpx():
    code = "import sys, analyzer; print('httpx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
    assert analyzer.LokiConfig.__name__ == "LokiConfig"


def test_both_built_in_sources_follow_the_protocol(tmp_path):
    from analyzer.sources.loki import LokiConfig

    assert isinstance(analyzer.FileSource([str(tmp_path)]), analyzer.Source)
    assert isinstance(analyzer.LokiSource(LokiConfig("http://127.0.0.1:3100")), analyzer.Source)

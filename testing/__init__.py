"""Test support shared by `tests/`, `benchmarks/` and `scripts/`; not shipped in the wheel.

* `mover`: every line the VolSync Kopia mover prints, from entry.sh v3 section by section down
  to the tests' smallest pods;
* `write`: the envelopes around them (CRI, kubectl, docker, Kopia CLI log) and their times;
* `assertions`: checks several test files make on a report;
* `examples`: the bundled example corpus as the tests and benchmarks read it;
* `loki_streams`: mover output as Loki streams, and the pushdown line filters;
* `loki_emulator`: Loki's HTTP API on 127.0.0.1 to serve them from.

Importable when the repository root is on `sys.path`: under pytest (`pythonpath = ["."]`), when
a benchmark or the example generator runs as a module from the root
(`python -m benchmarks.bench_pipeline`, `python -m scripts.generate_examples`), after an
editable install (`pip install -e '.[test]'`), or with `PYTHONPATH=.`.
"""

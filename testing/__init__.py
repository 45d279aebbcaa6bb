"""Test support shared by `tests/`, `benchmarks/` and `scripts/`; not shipped in the wheel.

`mover` holds what the VolSync Kopia mover prints, `write` the log envelopes around it,
`loki_streams` and `examples` the inputs of the Loki tests and benchmarks, `assertions` the checks
several test files make on a report, and `loki_emulator` an emulated Loki to serve it all from.

Importable when the repository root is on `sys.path`: under pytest (`pythonpath = ["."]`), after
an editable install (`pip install -e '.[test]'`), or when a benchmark or the example generator is
run as a module from the root (`python -m benchmarks.bench_pipeline`,
`python -m scripts.generate_examples`).
"""

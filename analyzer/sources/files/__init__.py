"""Local files as a source: paths, directories, globs, `.gz`, stdin -> events, behind `FileSource`.

The package follows the reader's seams:

- `paths`: which files to read (expansion, skip rules, non-mover pods) and what a path says
  about its lines (namespace, pod, container, Kopia command, ReplicationSource);
- `gunzip`: gzip read member by member, damage named, decompressed size capped;
- `decode`: what bytes become lines (binary and archive checks, UTF-16 and byte-order marks, NUL
  runs, the line-length bound), one transform both readers apply;
- `blocks`: a file as blocks of bytes, and what its first block decides (envelope kind, dump);
- `keep`: the keep rule, reducing a block to the lines the analysis reads (pure functions);
- `scan`: the streaming reader (blocks on a thread pool, merged back into files);
- `memory`: the in-memory reader, the reference the streaming one is tested against;
- `source`: `FileSource`, the two readers behind the `Source` protocol.
"""

from __future__ import annotations

from .gunzip import BINARY_SNIFF, GZIP_MAGIC, damaged_gzip
from .keep import GENERIC, PLAIN, TIMED, KeepRule
from .memory import read_files
from .paths import (
    InputError,
    Overrides,
    ReadReport,
    entries_to_read,
    expand_paths,
    path_metadata,
    paths_metadata,
)
from .scan import DROPPED_SCHEMA, ScanResult, scan_files
from .source import FileSource

__all__ = [
    "BINARY_SNIFF",
    "DROPPED_SCHEMA",
    "GENERIC",
    "GZIP_MAGIC",
    "PLAIN",
    "TIMED",
    "FileSource",
    "InputError",
    "KeepRule",
    "Overrides",
    "ReadReport",
    "ScanResult",
    "damaged_gzip",
    "entries_to_read",
    "expand_paths",
    "path_metadata",
    "paths_metadata",
    "read_files",
    "scan_files",
]

"""Response bodies: Go's JSON encoding, the `stats` block of the recorded Loki build, and the reply
a handler sends.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any


def go_json(obj: Any) -> bytes:
    """Compact JSON with Go's HTML escaping of <, > and & (and U+2028/U+2029)."""
    text = json.dumps(obj, ensure_ascii=False, separators=(",", ":"))
    for raw, escaped in (("<", "\\u003c"), (">", "\\u003e"), ("&", "\\u0026")):
        text = text.replace(raw, escaped)
    text = text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")
    return text.encode("utf-8", "replace")


_CACHE_NAMES = ("chunk", "index", "result", "statsResult", "volumeResult", "seriesResult")
_CACHE_NAMES += ("labelResult", "instantMetricResult", "logResult", "taskResult")
_CACHE_KEYS = ("entriesFound", "entriesRequested", "entriesStored", "bytesReceived", "bytesSent")
_CACHE_KEYS += ("requests", "downloadTime", "queryLengthServed")
_CHUNK_KEYS = ("headChunkBytes", "headChunkLines", "decompressedBytes", "decompressedLines")
_CHUNK_KEYS += ("compressedBytes", "totalDuplicates", "postFilterLines")
_CHUNK_KEYS += ("headChunkStructuredMetadataBytes", "decompressedStructuredMetadataBytes")
_DATAOBJ_KEYS = ("prePredicateDecompressedRows", "prePredicateDecompressedBytes")
_DATAOBJ_KEYS += ("prePredicateDecompressedStructuredMetadataBytes", "postPredicateRows")
_DATAOBJ_KEYS += ("postPredicateDecompressedBytes", "postPredicateStructuredMetadataBytes")
_DATAOBJ_KEYS += ("postFilterRows", "pagesScanned", "pagesDownloaded", "pagesDownloadedBytes")
_DATAOBJ_KEYS += ("pageBatches", "totalRowsAvailable", "totalPageDownloadTime")
_DATAOBJ_KEYS += ("wireBytesTransferred",)


def _store_stats(lines: int = 0, size: int = 0) -> dict[str, Any]:
    chunk = dict.fromkeys(_CHUNK_KEYS, 0) | {"headChunkBytes": size, "headChunkLines": lines}
    chunk["postFilterLines"] = lines
    return {
        "totalChunksRef": 0, "totalChunksDownloaded": 0, "chunksDownloadTime": 0,
        "queryReferencedStructuredMetadata": False, "queryUsedV2Engine": False, "chunk": chunk,
        "chunkRefsFetchTime": 0, "congestionControlLatency": 0,
        "pipelineWrapperFilteredLines": 0, "dataobj": dict.fromkeys(_DATAOBJ_KEYS, 0),
    }  # fmt: skip


def stats_block(returned: int, lines: int, size: int, seconds: float) -> dict[str, Any]:
    """A `stats` object with the layout of the recorded Loki build (numbers are approximate)."""
    rate = int(size / seconds) if seconds else 0
    summary = {
        "bytesProcessedPerSecond": rate, "linesProcessedPerSecond": int(lines / seconds),
        "totalBytesProcessed": size, "totalLinesProcessed": lines, "execTime": seconds,
        "queueTime": 0.0001, "subqueries": 0, "totalEntriesReturned": returned, "splits": 0,
        "shards": 1, "totalPostFilterLines": returned,
        "totalStructuredMetadataBytesProcessed": 0,
    }  # fmt: skip
    return {
        "summary": summary,
        "querier": {"store": _store_stats(), "querierExecTime": seconds},
        "ingester": {
            "totalReached": 1,
            "totalChunksMatched": 1,
            "totalBatches": 1,
            "totalLinesSent": lines,
            "store": _store_stats(lines, size),
            "recvWaitTime": 0.0,
        },  # fmt: skip
        "cache": {name: dict.fromkeys(_CACHE_KEYS, 0) for name in _CACHE_NAMES},
        "index": {
            "totalChunks": 0,
            "postFilterChunks": 0,
            "shardsDuration": 0,
            "usedBloomFilters": False,
            "totalStreams": 0,
            "chunkRefsLookupTime": 0,
            "bloomFilterTime": 0,
        },  # fmt: skip
    }


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json; charset=UTF-8"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def text(cls, status: int, body: str, **headers: str) -> Reply:
        """A plain-text error body as Loki's WriteError sends it."""
        return cls(status, body.encode(), "text/plain; charset=utf-8", headers)

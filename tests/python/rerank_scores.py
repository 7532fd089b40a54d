"""A Python copy of the mock's rerank scores (`src/mock/rerank.rs`), so tests assert exact values.

A score is the share of the query's distinct words found in the document, mapped into (0, 1):
`(hits + 1) / (query_words + 2)`. Words are runs of ASCII letters and digits, lowercased (bytes:
any other byte separates words). Results are best first, ties by index, cut to `top_n`.
"""

from __future__ import annotations

import re

_WORD = re.compile(rb"[a-z0-9]+")


def words(s: str) -> set[bytes]:
    return set(_WORD.findall(s.encode().lower()))


def score(query: str, document: str) -> float:
    q, d = words(query), words(document)
    return (len(q & d) + 1) / (len(q) + 2)


def ranked(query: str, documents: list[str], top_n: int | None = None) -> list[tuple[int, float]]:
    out = sorted(((i, score(query, d)) for i, d in enumerate(documents)), key=lambda r: -r[1])
    return out if top_n is None else out[:top_n]


def rank_text(doc: dict, rank_fields: list[str]) -> str:
    """The text a Cohere v1 document object is ranked by with `rank_fields`: `key: value` lines."""
    return "\n".join(f"{f}: {doc[f]}" for f in rank_fields)

"""Streamed bodies: a resource whose list attribute is read row by row as it is sent (a
group's members), so that a group of any size is never held in memory twice."""

from __future__ import annotations

from collections.abc import Container, Iterable, Iterator

from .http import json_bytes
from .scim.resource import render_reference


class Stream:
    """A streamed body and the rows it is read from, closed when the response is, whether or
    not the body was sent (a client may leave first)."""

    def __init__(self, chunks, rows) -> None:
        self.chunks, self.rows = chunks, rows

    def __iter__(self):
        return self.chunks

    def close(self) -> None:
        self.chunks.close()
        self.rows.close()


def with_references(head: dict, name: str, rows, base: str, kept: Container[str]) -> Stream:
    """Return the JSON body of `head` with the list attribute `name` made of a reference
    (`render_reference`) to each resource of `rows`, kept to the sub-attributes `kept`;
    closing the body closes `rows`."""
    chunks = (
        json_bytes(
            {key: value for key, value in render_reference(base, row).items() if key in kept}
        )
        for row in rows
    )
    return Stream(_with_list(head, name, chunks), rows)


def _with_list(head: dict, name: str, items: Iterable[bytes]) -> Iterator[bytes]:
    """Yield the JSON of `head` with the list attribute `name` made of the JSON `items`."""
    opening = json_bytes(head)
    yield opening[:-1] + (b"," if len(head) else b"") + json_bytes(name) + b":["
    first = True
    for item in items:
        yield item if first else b"," + item
        first = False
    yield b"]}"

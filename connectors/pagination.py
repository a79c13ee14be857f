"""Pagination as small async generators: the connector says how to fetch a page and read it.

Each helper takes two functions, so one helper serves many vendors: `fetch` asks the vendor
for one page (usually a `SourceHttpClient.get_json` call with the page's parameters) and
`extract` turns the raw payload into items (and, for cursors, the next cursor). Vendors that
loop forever (a cursor repeated, an offset ignored) are stopped with `SourceResponseError`.
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import Generic, TypeVar

from syncd.errors import SourceResponseError

__all__ = ["Page", "paginate_cursor", "paginate_offset", "require_total"]

PayloadT = TypeVar("PayloadT")
ItemT = TypeVar("ItemT")


@dataclass(frozen=True)
class Page(Generic[ItemT]):
    """One page's items and the cursor of the next page (None or empty on the last page)."""

    items: Sequence[ItemT]
    next_cursor: str | None


async def paginate_offset(
    fetch: Callable[[int, int], Awaitable[PayloadT]],
    extract: Callable[[PayloadT], Sequence[ItemT]],
    *,
    limit: int,
    max_pages: int | None = None,
    source: str = "",
) -> AsyncIterator[ItemT]:
    """Yield items of pages fetched as `fetch(offset, limit)` until a page shorter than `limit`.

    For vendors that give no total (lemlist): a short page, empty included, is the last one.
    """
    offset = 0
    for _ in _page_numbers(max_pages, source):
        items = extract(await fetch(offset, limit))
        for item in items:
            yield item
        if len(items) < limit:
            return
        offset += len(items)


async def paginate_cursor(
    fetch: Callable[[str | None], Awaitable[PayloadT]],
    extract: Callable[[PayloadT], Page[ItemT]],
    *,
    max_pages: int | None = None,
    source: str = "",
) -> AsyncIterator[ItemT]:
    """Yield items of pages fetched as `fetch(cursor)`, starting from None, until no next cursor."""
    cursor: str | None = None
    seen: set[str] = set()
    for _ in _page_numbers(max_pages, source):
        page = extract(await fetch(cursor))
        for item in page.items:
            yield item
        if not page.next_cursor:
            return
        if page.next_cursor in seen:
            raise SourceResponseError(
                f"{source or 'the vendor'} returned a pagination cursor it had already returned",
                source=source,
            )
        seen.add(page.next_cursor)
        cursor = page.next_cursor


def require_total(received: int, total: int, *, source: str, what: str) -> None:
    """Fail when a vendor that states a total sent fewer items: a short or empty page is an error, not the end.

    Taking it as the end would store a truncated day, which the next good read then has to undo.
    """
    if received < total:
        raise SourceResponseError(
            f"{source or 'the vendor'}: {what} stopped after {received} of the {total} items it announced",
            source=source,
        )


def _page_numbers(max_pages: int | None, source: str) -> Iterator[int]:
    """Count pages, failing once more than `max_pages` would be fetched."""
    number = 0
    while max_pages is None or number < max_pages:
        yield number
        number += 1
    raise SourceResponseError(f"{source or 'the vendor'} still had more pages after {max_pages}", source=source)

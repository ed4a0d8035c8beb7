"""A base for objects that own a file or stream and are used in `with` blocks."""

from __future__ import annotations

from types import TracebackType
from typing import Self


class Closing:
    """`with obj:` returns `obj` and calls `obj.close()` on the way out, error or not."""

    def close(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

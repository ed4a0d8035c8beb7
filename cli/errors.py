"""The one error the `motflow` command reports: a cause and a fix on one line (exit code 2)."""

from __future__ import annotations


class CliError(ValueError):
    """An expected failure; `str()` is the line the user sees."""

    def __init__(self, cause: str, fix: str) -> None:
        # A cause that ends its own sentence (a job's reason often does) is not followed by ";".
        cause = cause.rstrip().rstrip(".;")
        super().__init__(f"{cause}; {fix}")
        self.cause, self.fix = cause, fix

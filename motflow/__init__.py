"""The installed `motflow` client: the one top-level name a wheel puts into site-packages.

The wheel carries the repository's packages under this one (``motflow.cli``, ``motflow.lambdas``,
``motflow.stacks``, ``motflow.local``, ``motflow.model_code``; pyproject's ``package-dir``), the
same files as in the checkout and, for ``lambdas/``, the Lambda asset. Their imports name them as
the repository does (``from lambdas import jobs``), so `use_repository_names` registers each under
that name before the command runs (even where another `cli` or `local` is installed).
"""

from __future__ import annotations

import importlib
import sys

# In import order: each one's package __init__ may import the ones before it.
PACKAGES = ("model_code", "lambdas", "stacks", "local", "cli")


def use_repository_names() -> None:
    """Make ``cli``, ``lambdas`` … name this package's modules (in a wheel its copies, in an
    editable install the checkout's folders), even where another package of the same generic
    name is installed: the console script calls this before anything else is imported."""
    for name in PACKAGES:
        if name in sys.modules:
            continue
        try:
            sys.modules[name] = importlib.import_module(f"{__name__}.{name}")
        except ModuleNotFoundError as error:
            if error.name != f"{__name__}.{name}":
                raise
            # This `motflow` is the checkout's own folder (the checkout is on the path): its
            # packages are the top-level ones beside it.
            importlib.import_module(name)

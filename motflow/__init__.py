"""The installed `motflow` client: the one top-level name a wheel puts into site-packages.

The wheel carries the repository's packages under this one (``motflow.cli``, ``motflow.lambdas``,
``motflow.stacks``, ``motflow.local``, ``motflow.model_code``; pyproject's ``package-dir``), the
same files as in the checkout and, for ``lambdas/``, the Lambda asset. Their imports name them as
the repository does (``from lambdas import jobs``), so `use_repository_names` registers each under
that name when it cannot be imported as such, before the command runs.
"""

from __future__ import annotations

import importlib
import importlib.util
import sys

# In import order: each one's package __init__ may import the ones before it.
PACKAGES = ("model_code", "lambdas", "stacks", "local", "cli")


def use_repository_names() -> None:
    """Make ``cli``, ``lambdas`` … importable: the checkout's own where it is on the path, else
    this package's copy of it (an installed wheel)."""
    for name in PACKAGES:
        if name in sys.modules or importlib.util.find_spec(name) is not None:
            continue
        sys.modules[name] = importlib.import_module(f"{__name__}.{name}")

"""motflow for another CDK app (``pip install motflow[cdk]``)::

    from motflow.cdk import MotflowPipeline, Settings, apply_feature_flags

    app = App()
    apply_feature_flags(app)
    stack = Stack(app, "Tracking")
    pipeline = MotflowPipeline(stack, "Motflow", settings=Settings(name_prefix="acme-mot"))

docs/OPERATIONS.md, "Composing motflow into your own CDK app", says what else the app owns.
"""

from __future__ import annotations

from motflow import use_repository_names

use_repository_names()  # the stacks import their siblings by the repository's names

from stacks.application import settings_from_app  # noqa: E402
from stacks.pipeline import FEATURE_FLAGS, MotflowPipeline, apply_feature_flags  # noqa: E402
from stacks.settings import Settings, SettingsError  # noqa: E402

__all__ = [
    "FEATURE_FLAGS",
    "MotflowPipeline",
    "Settings",
    "SettingsError",
    "apply_feature_flags",
    "settings_from_app",
]

"""One synthesized app for the whole infra suite: two deployments side by side, cdk-nag on."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from tests.infra.deployment_constants import ACCOUNT, ALT_CONTEXT, REGION


@dataclass
class Synthesized:
    outdir: Path
    templates: dict[str, dict[str, Any]]
    error: str | None
    nag_violations: list[dict[str, Any]] = field(default_factory=list)
    stacks: dict[str, Any] = field(default_factory=dict)

    def template(self, stack_name: str):
        from aws_cdk.assertions import Template

        return Template.from_json(self.templates[stack_name])


@pytest.fixture(scope="session")
def cdk_context(repo_root: Path) -> dict[str, Any]:
    return json.loads((repo_root / "cdk.json").read_text())["context"]


@pytest.fixture(scope="session")
def synthesized(tmp_path_factory, cdk_context) -> Synthesized:
    import aws_cdk as cdk

    from stacks import context
    from stacks.application import build_stacks, create_app
    from stacks.settings import Settings

    outdir = tmp_path_factory.mktemp("cdk.out")
    build_dir = tmp_path_factory.mktemp("build")
    app = create_app(outdir=str(outdir), context=cdk_context)
    env = cdk.Environment(account=ACCOUNT, region=REGION)
    default = build_stacks(app, environment=env, build_dir=build_dir)
    alternate = build_stacks(
        app,
        Settings.from_context(
            {**cdk_context, **{context.key(k): v for k, v in ALT_CONTEXT.items()}}
        ),
        environment=env,
        build_dir=build_dir,
    )
    error = None
    try:
        app.synth()
    except Exception as exc:  # the nag test reports it; the templates are written anyway
        error = str(exc)
    templates = {
        path.name.removesuffix(".template.json"): json.loads(path.read_text())
        for path in outdir.glob("*.template.json")
    }
    violations: list[dict[str, Any]] = []
    report = outdir / "validation-report.json"
    if report.exists():
        for plugin in json.loads(report.read_text()).get("pluginReports", []):
            violations.extend(plugin.get("violations", []))
    stacks = {stack.stack_name: stack for stack in (*default, *alternate)}
    return Synthesized(outdir, templates, error, violations, stacks)

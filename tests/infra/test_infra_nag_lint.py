"""Security and template checks: cdk-nag AwsSolutions, cfn-lint, and the real pinned CLI."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def test_cdk_nag_has_no_unacknowledged_findings(synthesized) -> None:
    rules = sorted(v["ruleName"] for v in synthesized.nag_violations)
    assert rules == [], f"cdk-nag findings: {rules}"
    assert synthesized.error is None, synthesized.error


def test_every_acknowledgement_has_a_reason_and_one_resource_scope(synthesized) -> None:
    acknowledgements = []
    for metadata_file in synthesized.outdir.glob("*.metadata.json"):
        for path, entries in json.loads(metadata_file.read_text()).items():
            for entry in entries:
                if entry["type"] == "aws:cdk:acknowledged-rules":
                    acknowledgements.extend(
                        (path, rule, why) for rule, why in entry["data"].items()
                    )
    assert acknowledgements
    stack_roots = {f"/{name}" for name in synthesized.templates}
    for path, rule, reason in acknowledgements:
        assert path not in stack_roots and path != "/", f"{rule} acknowledged on a whole stack"
        assert rule.startswith("AwsSolutions::AwsSolutions-"), rule
        assert len(reason.split()) >= 8, f"{rule} at {path} needs a real reason"


def test_cfn_lint_reports_no_errors(synthesized) -> None:
    templates = sorted(synthesized.outdir.glob("*.template.json"))
    assert len(templates) == 4
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("cfn-lint")),
            "--ignore-checks",
            "W3005",
            "--",
            *map(str, templates),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    errors = [line for line in result.stdout.splitlines() if line[:1] == "E"]
    assert result.returncode in (0, 4, 8), result.stdout + result.stderr  # 2 = errors
    assert errors == [], result.stdout


@pytest.mark.integration
@pytest.mark.slow
def test_make_synth_runs_the_pinned_cli(repo_root: Path, tmp_path: Path) -> None:
    cli = repo_root / "node_modules" / ".bin" / "cdk"
    if not cli.exists():
        pytest.skip("pinned aws-cdk CLI not installed (make setup installs it)")
    if shutil.which("node") is None:
        pytest.skip("node is not on PATH")
    env = {
        **os.environ,
        "PYTHONPATH": str(repo_root),
        "CDK_DISABLE_VERSION_CHECK": "true",
        "CDK_DISABLE_CLI_TELEMETRY": "true",
        "CDK_DEFAULT_REGION": "eu-west-1",
    }
    out = tmp_path / "cdk.out"
    result = subprocess.run(
        [str(cli), "synth", "-q", "--no-notices", "-o", str(out)],
        cwd=repo_root,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    produced = sorted(p.name for p in out.glob("*.template.json"))
    assert produced == ["MotflowData.template.json", "MotflowTracking.template.json"]
    tracking = json.loads((out / "MotflowTracking.template.json").read_text())
    kinds = {r["Type"] for r in tracking["Resources"].values()}
    assert {"AWS::SageMaker::Endpoint", "AWS::ApplicationAutoScaling::ScalableTarget"} <= kinds


def test_a_bad_context_value_stops_synth_naming_the_setting(tmp_path: Path) -> None:
    import aws_cdk as cdk

    from stacks.application import build_stacks

    app = cdk.App(outdir=str(tmp_path), context={"instance_type": "g4dn.xlarge"})
    with pytest.raises(SystemExit, match="'instance_type'"):
        build_stacks(app, build_dir=tmp_path)

"""The roles' policies as the synthesized templates give them, evaluated by the IAM simulator:
the stitch's reads are granted, and without the results grant they are denied."""

from __future__ import annotations

import copy
from collections.abc import Iterator

import pytest

from local.iam_gate import ALLOWED, Simulator
from local.iam_policies import local_role_policies
from local.moto_service import ACCOUNT, REGION
from stacks import contract
from stacks.settings import Settings
from tests.unit.local.test_local_iam_gate import needs_simulator

pytestmark = needs_simulator
NAMES = contract.resource_names("motflow", ACCOUNT, REGION)
WORK = f"arn:aws:s3:::{NAMES.work_bucket}"
SEGMENT = "walk-ded461ea3875c1f3-s003"
STITCH_READS = [f"{WORK}/results/{SEGMENT}/tracks.jsonl", f"{WORK}/results/{SEGMENT}/summary.json"]


@pytest.fixture(scope="module")
def policies() -> dict:
    return local_role_policies(Settings(), ACCOUNT, REGION)


@pytest.fixture(scope="module")
def simulator() -> Iterator[Simulator]:
    running = Simulator()
    yield running
    running.close()


def test_every_role_is_found_by_what_runs_under_it(policies) -> None:
    assert sorted(policies) == ["complete", "endpoint", "notifier", "operator", "submit", "sweeper"]


@pytest.mark.parametrize("resource", STITCH_READS)
def test_the_endpoint_role_may_read_segment_results(policies, simulator, resource) -> None:
    assert simulator.evaluate(policies["endpoint"], "s3:GetObject", resource, {}) == ALLOWED
    # No listing: the stitch reads keys that exist, and a missing one fails it either way.
    listing = {"s3:prefix": f"results/{SEGMENT}/summary.json"}
    assert simulator.evaluate(policies["endpoint"], "s3:ListBucket", WORK, listing) != ALLOWED


def test_without_the_results_grant_the_stitch_read_is_denied(policies, simulator) -> None:
    policy = copy.deepcopy(policies["endpoint"])
    for statement in policy["Statement"]:
        resources = statement["Resource"]
        if isinstance(resources, list):
            statement["Resource"] = [r for r in resources if f"{WORK}/results/" not in r] or "none"
    decision = simulator.evaluate(policy, "s3:GetObject", STITCH_READS[0], {})
    assert decision == "ImplicitlyDenied"


def test_conditions_scope_listing_to_the_roles_prefixes(policies, simulator) -> None:
    submit = policies["submit"]
    bucket = f"arn:aws:s3:::{NAMES.input_bucket}"
    assert simulator.evaluate(submit, "s3:ListBucket", bucket, {"s3:prefix": "videos/a"}) == ALLOWED
    assert simulator.evaluate(submit, "s3:ListBucket", bucket, {"s3:prefix": "other/a"}) != ALLOWED


def test_the_operator_reads_jobs_and_results_but_writes_no_job_state(policies, simulator) -> None:
    operator = policies["operator"]
    table = f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{NAMES.jobs_table}"
    for action, resource in [
        ("dynamodb:BatchGetItem", table),
        ("dynamodb:Query", f"{table}/index/{contract.STATUS_INDEX}"),
        ("s3:PutObject", f"arn:aws:s3:::{NAMES.input_bucket}/videos/clip.mp4"),
        ("s3:GetObject", f"{WORK}/results/job/tracks.txt"),
    ]:
        assert simulator.evaluate(operator, action, resource, {}) == ALLOWED, action
    for action, resource in [
        ("dynamodb:UpdateItem", table),
        ("s3:PutObject", f"{WORK}/results/job/tracks.txt"),
        ("s3:GetObject", f"{WORK}/jobs/job.json"),
    ]:
        assert simulator.evaluate(operator, action, resource, {}) != ALLOWED, action

"""Issue 11 load with faults, small: a burst through the local stack while the model server's
workers are killed mid-job, storage writes stall, the endpoint throttles, and every SageMaker
notification is delivered twice and out of order, and SNS's answer to a share of the user's
messages is lost after the publish succeeded. Nothing is lost or processed twice, and each job is
told one message: a repeat (a lost answer) carries the same dedup id. `python -m
bench.burst_faults` is the large version with figures."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.burst_faults import run_faulty_burst
from local.stack import local_stack
from stacks.settings import Settings

pytestmark = [pytest.mark.integration, pytest.mark.slow]

CLIPS = 8


def test_a_faulty_burst_loses_nothing_and_tells_each_job_once(tmp_path: Path) -> None:
    settings = Settings.from_context({"max_concurrent_invocations_per_instance": 2})
    with local_stack(tmp_path / "run", settings) as stack:
        report = run_faulty_burst(
            stack, tmp_path, CLIPS, pause_s=(0.5, 2.0), answer_lost_share=0.3, timeout_s=240.0
        )
    burst = report.burst
    assert report.faults.workers_killed >= 1 and report.throttled >= 1
    assert report.faults.paused >= 1 and report.faults.duplicates_sent >= CLIPS
    assert (burst.jobs, burst.lost) == (CLIPS, 0)
    assert burst.succeeded == CLIPS, report.attempts
    assert report.double_processed == 0, report.runs_per_job
    assert report.not_told_once == 0, burst.dedup_ids_per_job
    assert report.faults.answers_lost >= 1
    # Every repeat is one of the lost answers, with the job's one dedup id.
    repeats = sum(burst.messages_per_job.values()) - CLIPS
    assert repeats == sum(report.duplicates.values()) - len(report.duplicates) >= 1
    assert all(ids == ids[:1] * len(ids) for ids in burst.dedup_ids_per_job.values())
    # The killed workers' job came back as a later attempt.
    assert sum(n for attempt, n in report.attempts.items() if attempt != "1") >= 1

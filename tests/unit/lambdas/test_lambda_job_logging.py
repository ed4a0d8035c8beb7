"""`job_id` on every log line of the handlers (Lambda's JSON log format makes it a field)."""

from __future__ import annotations

import logging

import pytest

from lambdas.job_logging import bind_job, job_context


def test_every_record_carries_the_job_it_was_logged_for(caplog: pytest.LogCaptureFixture) -> None:
    log = logging.getLogger("motflow.test")
    bind_job("outside-any-job")  # code run outside a handler binds nothing
    with caplog.at_level(logging.INFO, logger="motflow.test"):
        log.info("before")
        with job_context("job-1"):
            log.info("known from the start")
        with job_context():
            log.info("not known yet")
            bind_job("job-2")
            log.info("known now")
            with job_context("job-3"):
                log.info("nested")
            log.info("back")
        log.info("after")
    seen = [(record.getMessage(), record.job_id) for record in caplog.records]  # type: ignore[attr-defined]
    assert seen == [
        ("before", None),
        ("known from the start", "job-1"),
        ("not known yet", None),
        ("known now", "job-2"),
        ("nested", "job-3"),
        ("back", "job-2"),
        ("after", None),
    ]

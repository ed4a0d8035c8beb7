"""The job core (lambdas/job_core.py): what the CLI shares with the Lambdas, one definition each."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest

from lambdas import job_core, job_options, jobs, notify


def test_the_core_is_the_lambdas_own_code_not_a_copy() -> None:
    assert job_core.job_id_for is jobs.job_id_for
    assert job_core.JobStore is jobs.JobStore
    assert job_core.parse_options is job_options.from_pairs
    assert job_core.merge_options is job_options.merge_options
    assert job_core.notification is notify.notification
    assert job_core.OptionError is job_options.OptionError
    assert set(job_core.STATES) == {"QUEUED", "SUCCEEDED", "FAILED", "REJECTED"}
    assert set(job_core.STATES) - {job_core.QUEUED} == job_core.TERMINAL_STATES


def test_a_retry_replaces_options_whole_but_tracker_settings_one_by_one() -> None:
    before = {"stride": 2, "classes": ["person"], "tracker": {"track_buffer_s": 2, "coast_s": 1}}
    merged = job_core.merge_options(before, {"classes": ["car"], "tracker": {"coast_s": 3}})
    assert merged == {
        "stride": 2,
        "classes": ["car"],
        "tracker": {"track_buffer_s": 2, "coast_s": 3},
    }
    assert before["tracker"] == {"track_buffer_s": 2, "coast_s": 1}  # not changed in place
    assert job_core.merge_options({}, {"tracker": {"coast_s": 3}}) == {"tracker": {"coast_s": 3}}
    assert job_core.merge_options(before, {}) == before


def test_tracker_pairs_win_over_a_whole_tracker_object_in_either_order() -> None:
    for pairs in (
        {"tracker": '{"track_buffer_s": 2, "coast_s": 1}', "tracker.coast_s": "3"},
        {"tracker.coast_s": "3", "tracker": '{"track_buffer_s": 2, "coast_s": 1}'},
    ):
        assert job_core.parse_options(pairs) == {"tracker": {"track_buffer_s": 2, "coast_s": 3}}
    with pytest.raises(job_core.OptionError, match="tracker"):
        job_core.parse_options({"tracker.coast_s": "3", "tracker": "[1]"})


def test_timestamps_are_written_as_records_write_them_and_sort_as_text() -> None:
    moment = datetime(2026, 12, 1, 10, 0, 5, 123456, tzinfo=UTC)
    assert job_core.timestamp(moment) == "2026-12-01T10:00:05.123Z"
    shifted = moment.astimezone(timezone(timedelta(hours=2)))
    assert job_core.timestamp(shifted) == "2026-12-01T10:00:05.123Z"
    assert job_core.timestamp(moment - timedelta(seconds=1)) < job_core.timestamp(moment)
    assert len(jobs.utc_now()) == len(job_core.timestamp(moment))


def test_a_records_message_is_read_back_as_published() -> None:
    record = {"job_id": "j", "status": "FAILED", "failed_stage": "inference", "reason": "Boom."}
    outbox = notify.outbox_for({**record, "key": "videos/walk.mp4"})
    assert outbox is not None
    message = job_core.notification({**record, notify.OUTBOX: outbox})
    assert message is not None and message["subject"] == outbox["subject"]
    assert message["message"]["job_id"] == "j" and message["message"]["status"] == "FAILED"
    assert job_core.notification(record) is None
    assert job_core.notification({notify.OUTBOX: {"message": "not json"}}) is None

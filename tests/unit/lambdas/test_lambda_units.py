"""Pure parts of the job Lambdas: ids, magic bytes, event parsing, settings, messages."""

from __future__ import annotations

import json
import re

import pytest

from lambdas import config, inference, inspection, jobs, notify, s3_events, video_magic
from stacks import contract
from stacks.settings import Settings


def test_job_ids_are_deterministic_readable_and_version_sensitive() -> None:
    first = jobs.job_id_for("in", "videos/My Clip (1).MP4", "etag-a")
    assert first == jobs.job_id_for("in", "videos/My Clip (1).MP4", "etag-a")
    assert first.startswith("my-clip-1-")
    assert re.fullmatch(r"[a-z0-9-]{1,49}", first)
    others = {
        jobs.job_id_for("in", "videos/My Clip (1).MP4", "etag-b"),
        jobs.job_id_for("other", "videos/My Clip (1).MP4", "etag-a"),
        jobs.job_id_for("in", "videos/my clip (1).mp4", "etag-a"),
    }
    assert first not in others and len(others) == 3


def test_job_ids_of_unreadable_or_long_names_stay_short_and_safe() -> None:
    assert jobs.job_id_for("b", "videos/🎥🎥.mp4", "v").startswith("video-")
    long_id = jobs.job_id_for("b", "videos/" + "x" * 500 + ".mp4", "v")
    assert len(long_id) <= 49 and re.fullmatch(r"[a-z0-9-]+", long_id)


def test_utc_timestamps_sort_as_text() -> None:
    stamp = jobs.utc_now()
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", stamp)


def test_records_round_trip_through_dynamodb_types() -> None:
    record = {"job_id": "a", "timings": {"total_s": 1.25}, "counts": {"tracks": 3}, "x": None}
    stored = jobs.to_dynamo(record)
    assert "x" not in stored and stored["timings"] == {"M": {"total_s": {"N": "1.25"}}}
    assert jobs.from_dynamo(stored) == {"job_id": "a", "timings": {"total_s": 1.25},
                                        "counts": {"tracks": 3}}  # fmt: skip


@pytest.mark.parametrize(
    ("head", "kind"),
    [
        (b"\x00\x00\x00\x18ftypmp42\x00\x00\x00\x00", "iso-bmff"),
        (b"\x00\x00\x00\x14ftypqt  \x00\x00\x00\x00", "iso-bmff"),
        (b"\x00\x00\x00\x08wide\x00\x00\x00\x00mdat", "iso-bmff"),
        (b"\x00\x01\x00\x00moov", "iso-bmff"),
        (b"\x1a\x45\xdf\xa3\x01\x00\x00\x00", "matroska"),
        (b"RIFF\x00\x10\x00\x00AVI LIST", "avi"),
        (b"RIFF\x00\x10\x00\x00WAVEfmt ", None),
        (b"hello world, not a video", None),
        (b"%PDF-1.7", None),
        (b"", None),
        (b"\x00\x00\x00", None),
    ],
)
def test_containers_are_recognised_by_their_first_bytes(head: bytes, kind: str | None) -> None:
    assert video_magic.detect_container(head) == kind


def test_rejection_messages_describe_what_the_bytes_are() -> None:
    assert video_magic.describe_bytes(b"") == "no data"
    assert video_magic.describe_bytes(b"name,score\n1,2\n").startswith("text ('name,score")
    assert "ff d8 ff" in video_magic.describe_bytes(b"\xff\xd8\xff\xe0\x00\x10JFIF")
    cut_mid_character = "Grüße, Vidéo".encode()[:13]
    assert video_magic.describe_bytes(cut_mid_character) == "text ('Grüße, Vid')"


def test_sizes_in_reasons_are_human_readable() -> None:
    assert inspection._human_bytes(0) == "0 bytes"
    assert inspection._human_bytes(1_000_000) == "976.6 KiB"
    assert inspection._human_bytes(5 * 1024**3) == "5.0 GiB"
    assert inspection._human_bytes(3 * 1024**4) == "3072.0 GiB"


def _s3_record(key: str, **obj: object) -> dict:
    return {
        "eventSource": "aws:s3",
        "eventName": "ObjectCreated:Put",
        "s3": {"bucket": {"name": "in"}, "object": {"key": key, "size": 5, **obj}},
    }


def test_s3_keys_are_url_decoded_with_plus_for_space() -> None:
    obj = s3_events.parse_record(_s3_record("videos/a+b%2Bc/%C3%BCn%C3%AF.mp4", eTag="abc"))
    assert obj == s3_events.S3Object("in", "videos/a b+c/ünï.mp4", 5, "abc", None)
    assert obj.uri == "s3://in/videos/a b+c/ünï.mp4"


def test_version_ids_are_kept_and_etags_unquoted() -> None:
    obj = s3_events.parse_record(_s3_record("k.mp4", eTag='"q"', versionId="v1"))
    assert (obj.etag, obj.version_id) == ("q", "v1")


def test_test_events_and_other_records_are_skipped() -> None:
    assert (
        s3_events.records({"Service": "Amazon S3", "Event": "s3:TestEvent", "Bucket": "in"}) == []
    )
    removed = {**_s3_record("k.mp4"), "eventName": "ObjectRemoved:Delete"}
    assert s3_events.parse_record(removed) is None
    with pytest.raises(s3_events.EventError, match="no 'Records'"):
        s3_events.records({"hello": "world"})
    with pytest.raises(s3_events.EventError, match="bucket name or object key"):
        s3_events.parse_record({"eventSource": "aws:s3", "eventName": "ObjectCreated:Put"})


def test_s3_uris_split_into_bucket_and_key() -> None:
    assert s3_events.split_s3_uri("s3://b/k/x y.json") == ("b", "k/x y.json")
    for bad in ("https://b/k", "s3://b", "s3:///k", "s3://b/"):
        with pytest.raises(ValueError, match="not an s3://bucket/key URI"):
            s3_events.split_s3_uri(bad)


BASE_ENV = contract.submit_environment(
    jobs_table="t",
    notify_topic_arn="arn:t",
    work_bucket="w",
    endpoint_name="e",
    defaults=contract.job_defaults(Settings()),
)


def test_submit_settings_parsing() -> None:
    settings = config.SubmitSettings.from_env(
        {**BASE_ENV, "VIDEO_SUFFIXES": "MP4, .mov", "JOB_OPTIONS": '{"stride": 3}'}
    )
    assert settings.video_suffixes == (".mp4", ".mov")
    assert settings.job_options == {"stride": 3}
    assert (settings.invocation_timeout_s, settings.request_ttl_s) == (3600, 21600)
    assert settings.input_prefix == "videos/"


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"WORK_BUCKET": ""}, "WORK_BUCKET is required"),
        ({"INVOCATION_TIMEOUT_S": "7200"}, "INVOCATION_TIMEOUT_S must be between 1 and 3600"),
        ({"REQUEST_TTL_S": "ten"}, "REQUEST_TTL_S must be a whole number"),
        ({"JOB_OPTIONS": "[1]"}, "JOB_OPTIONS must be a JSON object"),
        ({"JOB_OPTIONS": "{oops"}, "JOB_OPTIONS must be a JSON object"),
        ({"VIDEO_SUFFIXES": " , "}, "VIDEO_SUFFIXES must list at least one suffix"),
        ({"MAX_VIDEO_BYTES": ""}, "MAX_VIDEO_BYTES is required"),
        ({"RESULTS_PREFIX": "results"}, "RESULTS_PREFIX must be a key prefix ending in '/'"),
    ],
)
def test_bad_settings_name_the_variable(change: dict, message: str) -> None:
    with pytest.raises(config.ConfigError, match=message):
        config.SubmitSettings.from_env({**BASE_ENV, **change})


def test_notification_subjects_are_sns_safe() -> None:
    record = {"job_id": "j", "status": jobs.REJECTED, "key": "videos/" + "é" * 200 + ".mp4"}
    subject = notify.subject_for(record)
    assert len(subject) < 100 and subject.endswith("... rejected")
    assert subject.startswith("motflow: éé")
    assert (
        notify.subject_for({**record, "key": "videos/a\nb\x07.mp4"}) == "motflow: a?b?.mp4 rejected"
    )


def test_success_bodies_list_counts_and_artifacts() -> None:
    body = notify.body_for(
        {
            "job_id": "j",
            "status": jobs.SUCCEEDED,
            "video": "s3://in/videos/a.mp4",
            "counts": {"tracks": 4, "detections": 90, "frames_processed": 30},
            "timings": {"total_s": 2.25},
            "outputs": {"tracks_mot": "s3://w/results/j/tracks.txt"},
        }
    )
    assert body.splitlines()[0] == "Your video was tracked."
    assert "Tracks: 4, boxes: 90, frames processed: 30" in body
    assert "Processing time: 2.2 s" in body and "tracks_mot: s3://w/results/j/tracks.txt" in body


def test_sagemaker_notifications_parse_into_results() -> None:
    success = inference.parse_notification(
        json.dumps(
            {
                "invocationStatus": "Completed",
                "inferenceId": "job-1",
                "responseParameters": {"outputLocation": "s3://w/async-output/x.out"},
            }
        )
    )
    assert success == inference.InferenceResult(
        "job-1", True, "Completed", "s3://w/async-output/x.out", None, None
    )
    failure = inference.parse_notification(
        json.dumps(
            {
                "invocationStatus": "Failed",
                "inferenceId": "job-2",
                "failureReason": "ClientError: boom",
                "responseParameters": {"failureLocation": "s3://w/async-failures/x"},
            }
        )
    )
    assert failure is not None and not failure.succeeded
    assert (failure.failure_reason, failure.failure_location) == (
        "ClientError: boom",
        "s3://w/async-failures/x",
    )
    assert inference.parse_notification('{"eventName": "TestNotification"}') is None
    assert inference.parse_notification("not json") is None


def test_expired_requests_count_as_failures() -> None:
    expired = inference.parse_notification(
        json.dumps({"invocationStatus": "Expired", "inferenceId": "job-3"})
    )
    assert expired is not None and not expired.succeeded
    assert inference.failure_reason(expired) == (
        "The job ended as Expired before it could run (it waited too long in the queue)."
        " Upload the video again."
    )


def test_result_fields_keep_only_real_artifacts() -> None:
    fields = inference.result_fields(
        {"artifacts": {"tracks_mot": "s3://w/t.txt", "annotated": None}, "counts": {"tracks": 1}},
        "s3://w/async-output/x.out",
    )
    assert fields == {
        "outputs": {"tracks_mot": "s3://w/t.txt"},
        "summary_location": "s3://w/async-output/x.out",
        "counts": {"tracks": 1},
    }


def test_the_documented_transition_table_is_the_code() -> None:
    """docs/RELIABILITY.md prints lifecycle.TRANSITIONS; regenerate it with
    ``lifecycle.markdown_table()`` when the table changes."""
    from pathlib import Path

    from lambdas import lifecycle

    doc = (Path(__file__).resolve().parents[3] / "docs" / "RELIABILITY.md").read_text()
    assert lifecycle.markdown_table() in doc


class _ThrottledBatches:
    """A DynamoDB client whose BatchGetItem answers one key a request, the rest unprocessed."""

    def __init__(self, table: str, throttled_rounds: int) -> None:
        self.table, self.throttled_rounds, self.requests = table, throttled_rounds, 0

    def batch_get_item(self, RequestItems: dict) -> dict:
        self.requests += 1
        keys = RequestItems[self.table]["Keys"]
        if self.requests <= self.throttled_rounds:
            return {"Responses": {self.table: []}, "UnprocessedKeys": RequestItems}
        first, rest = keys[0], keys[1:]
        item = {"job_id": first["job_id"], "status": {"S": jobs.QUEUED}}
        unprocessed = {self.table: {**RequestItems[self.table], "Keys": rest}} if rest else {}
        return {"Responses": {self.table: [item]}, "UnprocessedKeys": unprocessed}


def test_unprocessed_batch_keys_are_asked_again_after_a_growing_pause(monkeypatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(jobs.time, "sleep", pauses.append)
    client = _ThrottledBatches("t", throttled_rounds=2)
    found = jobs.JobStore("t", client).get_many(["a", "b", "c"])
    assert set(found) == {"a", "b", "c"} and client.requests == 5
    assert len(pauses) == 4 and all(p > 0 for p in pauses)
    assert [jobs.batch_get_backoff_s(n) <= 0.05 * 2 ** (n - 1) for n in (1, 2, 3)] == [True] * 3
    assert jobs.batch_get_backoff_s(20) <= 2.0 and jobs.batch_get_backoff_s(4) >= 0.2


def test_a_batch_that_stays_unprocessed_is_an_error_not_a_tight_loop(monkeypatch) -> None:
    pauses: list[float] = []
    monkeypatch.setattr(jobs.time, "sleep", pauses.append)
    client = _ThrottledBatches("t", throttled_rounds=10_000)
    with pytest.raises(RuntimeError, match="unprocessed"):
        jobs.JobStore("t", client).get_many(["a"])
    assert client.requests == len(pauses) + 1 <= 10


def test_a_jobs_analytics_figures_reach_the_record_and_the_notification() -> None:
    from lambdas import inference, messages
    from tests.schemas import validate

    figures = {
        "lines": {"door": {"total": 2, "forward": 2, "backward": 0, "directions": {"in": 2}}},
        "zones": {},
        "tracks": 2,
        "mean_speed_px_s": 41.5,
    }
    summary = {"artifacts": {"tracks_mot": "s3://w/r/j/tracks.txt"}, "analytics": figures}
    fields = inference.result_fields(summary, "s3://w/async-output/j.out")
    assert fields["analytics"] == figures
    record = {"job_id": "j", "status": "SUCCEEDED", **fields}
    body = validate(messages.body_for(record, "done"), "notification.schema.json")
    assert body["analytics"]["lines"]["door"]["directions"] == {"in": 2}
    plain = messages.body_for({"job_id": "k", "status": "SUCCEEDED"}, "done")
    assert validate(plain, "notification.schema.json")["analytics"] is None

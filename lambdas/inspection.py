"""Upload inspection for submit: what HeadObject and a few ranged reads say about an upload.

Never downloads the whole file: the first bytes name the container, and for MP4/MOV the box
structure read with a few ranged GETs (``video_magic.mp4_tracks``) says whether it has an index,
a video track and frames; for the other containers the header's duration is read.
"""

from __future__ import annotations

from typing import Any

from botocore.exceptions import ClientError

try:
    from . import (
        analytics_spec,
        clients,
        config,
        header_duration,
        job_options,
        s3_events,
        segments,
        stream_duration,
        video_magic,
    )
except ImportError:  # Lambda runtime: the asset root is this folder, modules are top-level
    import analytics_spec
    import clients
    import config
    import header_duration
    import job_options
    import s3_events
    import segments
    import stream_duration
    import video_magic


def _human_bytes(size: int) -> str:
    if size < 1024:
        return f"{size} bytes"
    value = size / 1024
    for unit in ("KiB", "MiB", "GiB"):
        if value < 1024 or unit == "GiB":
            break
        value /= 1024
    return f"{value:.1f} {unit}"


def inspect_upload(
    obj: s3_events.S3Object, settings: config.SubmitSettings
) -> tuple[str | None, dict[str, Any]]:
    """(rejection reason or None, facts) from HeadObject and a ranged read of the first bytes."""
    name = obj.key.rsplit("/", 1)[-1]
    if not obj.key.lower().endswith(settings.video_suffixes):
        accepted = ", ".join(settings.video_suffixes)
        return f"'{name}' is not a video file name (accepted extensions: {accepted}).", {}
    s3 = clients.client("s3")
    if obj.version_id:
        selector = {"VersionId": obj.version_id}
    elif obj.etag:
        selector = {"IfMatch": f'"{obj.etag}"'}
    else:
        selector = {}
    try:
        head = s3.head_object(Bucket=obj.bucket, Key=obj.key, **selector)
    except ClientError as error:
        code = str(error.response.get("Error", {}).get("Code"))
        if code in ("404", "NoSuchKey", "NotFound", "NoSuchVersion"):
            return "The upload was deleted before it could be checked.", {}
        if code in ("412", "PreconditionFailed"):
            return (
                "The file was replaced by a newer upload before it could be checked;"
                " the newer upload is processed as its own job.",
                {},
            )
        raise
    size = int(head["ContentLength"])
    facts: dict[str, Any] = {"size_bytes": size}
    try:
        options, tag, retry_of = job_options.from_metadata(head.get("Metadata") or {})
        job_options.check_for_deployment(options, settings.job_options, settings.trained_classes)
    except job_options.OptionError as error:
        return f"'{name}' has a bad per-job option: {error}. Fix it and upload again.", facts
    if "analytics" not in options:
        try:
            spec = analytics_spec.read_sidecar(s3, obj.bucket, obj.key)
        except job_options.OptionError as error:
            sidecar = analytics_spec.sidecar_key(name)
            reason = f"'{sidecar}' is not a usable analytics spec: {error}."
            return f"{reason} Fix it and upload the video again.", facts
        if spec is not None:
            options = {**options, "analytics": spec}
    facts.update(options=options, tag=tag, retry_of=retry_of)
    if size == 0:
        return f"'{name}' is empty (0 bytes).", facts
    if size > settings.max_video_bytes:
        limit = _human_bytes(settings.max_video_bytes)
        return f"'{name}' is {_human_bytes(size)}, over the {limit} limit.", facts
    head_range = f"bytes=0-{video_magic.HEAD_BYTES - 1}"
    first = s3.get_object(Bucket=obj.bucket, Key=obj.key, Range=head_range, **selector)
    leading = first["Body"].read()
    container = video_magic.detect_container(leading)
    if container is None:
        return (
            f"'{name}' is not a video we can read: it starts with "
            f"{video_magic.describe_bytes(leading)}, not an MP4/MOV, Matroska/WebM or AVI header.",
            facts,
        )
    facts["container"] = video_magic.CONTAINER_NAMES[container]

    def read(offset: int, length: int) -> bytes:
        last = min(offset + length, size) - 1
        reply = s3.get_object(
            Bucket=obj.bucket, Key=obj.key, Range=f"bytes={offset}-{last}", **selector
        )
        return reply["Body"].read()

    if container == "iso-bmff":
        reason = _inspect_mp4_tracks(name, size, read, facts)
        return reason or _check_duration(name, size, settings, facts), facts
    header = read(0, header_duration.HEADER_BYTES)
    duration = header_duration.header_duration_s(container, header)
    if duration is None and container == "matroska":  # a live recording: no Duration
        duration = stream_duration.matroska_tail_duration_s(read, size, header)
        facts["duration_from"] = "last cluster" if duration is not None else None
    if duration is not None:
        facts["duration_s"] = round(duration, 3)
    return _check_duration(name, size, settings, facts), facts


def _check_duration(
    name: str, size: int, settings: config.SubmitSettings, facts: dict[str, Any]
) -> str | None:
    """Keep `facts["duration_s"]` only when the file's size can hold it (else the header is not
    believed: ``duration_note`` says what it claimed, as text whatever its size, and the video
    runs in one piece); a reason when the video needs more segments than a deployment takes."""
    duration = facts.get("duration_s")
    if duration is None:
        return None
    if not segments.believable(duration, size):
        del facts["duration_s"]
        facts["duration_note"] = (
            f"the header claims {duration:.6g} s, more than {_human_bytes(size)} can hold;"
            " the video was not split"
        )
        return None
    problem = segments.too_long(duration, settings.segment_threshold_s)
    return f"'{name}' is too long to track: {problem}." if problem else None


def _inspect_mp4_tracks(
    name: str, size: int, read: stream_duration.Read, facts: dict[str, Any]
) -> str | None:
    """A reason when the MP4's index says it cannot be tracked: no index, no video track, or
    a video track without frames (a few small ranged reads, never the whole file). A
    fragmented MP4's duration comes from its sidx or its last fragment."""
    tracks = video_magic.mp4_tracks(read, size)
    if tracks is None:
        return None
    duration = tracks.duration_s
    if duration is None and tracks.fragmented and tracks.video_tracks:
        duration = stream_duration.fragmented_mp4_duration_s(
            read, size, tracks.moov, tracks.moov_end
        )
        facts["duration_from"] = "fragments" if duration is not None else None
    if duration is not None:
        facts["duration_s"] = round(duration, 3)
    if not tracks.has_index:
        return (
            f"'{name}' is an MP4 without its index (no moov box): the upload is probably"
            " incomplete or the file was cut. Upload the complete file."
        )
    if tracks.video_tracks == 0 and not tracks.other_tracks:
        return (
            f"'{name}' has no frames: its index lists no tracks at all (a recording stopped"
            " before its first frame?). Upload a video with frames."
        )
    if tracks.video_tracks == 0:
        holds = " and ".join(tracks.other_tracks)
        return f"'{name}' has no video track (it holds only {holds}). Upload a video file."
    if tracks.video_samples == 0 and not tracks.fragmented:
        return f"'{name}' has a video track with no frames. Upload a video with frames."
    return None

"""Job-outcome metrics as embedded-metric-format lines (issue 23), and the dashboard's names."""

from __future__ import annotations

import json

import pytest

from lambdas import job_metrics


def test_an_outcome_line_is_valid_emf_with_video_seconds_and_cost(
    capsys: pytest.CaptureFixture[str],
) -> None:
    job_metrics.emit(
        "motflow-jobs",
        "SUCCEEDED",
        *job_metrics.summary_figures({"video": {"duration_s": 30.0}, "cost": {"usd": 0.0021}}),
    )
    (line,) = capsys.readouterr().out.splitlines()
    record = json.loads(line)
    directives = record["_aws"]["CloudWatchMetrics"]
    assert isinstance(record["_aws"]["Timestamp"], int)
    # Every metric's value and every dimension's value sit at the top level (the EMF rule).
    for directive in directives:
        assert directive["Namespace"] == "Motflow"
        for metric in directive["Metrics"]:
            assert isinstance(record[metric["Name"]], int | float)
        for dimension_set in directive["Dimensions"]:
            assert all(isinstance(record[name], str) for name in dimension_set)
    assert (record["Jobs"], record["Outcome"], record["JobsTable"]) == (
        1,
        "SUCCEEDED",
        "motflow-jobs",
    )
    assert (record["VideoSeconds"], record["CostUsd"]) == (30.0, 0.0021)


def test_a_failure_without_figures_counts_the_job_only() -> None:
    record = job_metrics.emf_record("t", "FAILED")
    assert [m["Name"] for d in record["_aws"]["CloudWatchMetrics"] for m in d["Metrics"]] == [
        "Jobs"
    ]
    assert job_metrics.summary_figures({"cost": None, "video": {"duration_s": "x"}}) == (None, None)


def test_the_dashboard_graphs_the_metrics_the_lambdas_write() -> None:
    from stacks.constructs import monitoring

    assert monitoring.JOB_METRICS_NAMESPACE == job_metrics.NAMESPACE
    assert set(monitoring.JOB_OUTCOMES) == {"SUCCEEDED", "FAILED", "REJECTED"}


def test_the_local_stack_sends_the_lines_to_a_file_not_stdout(
    capsys: pytest.CaptureFixture[str], tmp_path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "job-metrics.jsonl"
    monkeypatch.setenv(job_metrics.METRICS_FILE_ENV, str(target))
    job_metrics.emit("motflow-jobs", "REJECTED")
    job_metrics.emit("motflow-jobs", "FAILED")
    assert capsys.readouterr().out == ""
    outcomes = [json.loads(line)["Outcome"] for line in target.read_text().splitlines()]
    assert outcomes == ["REJECTED", "FAILED"]

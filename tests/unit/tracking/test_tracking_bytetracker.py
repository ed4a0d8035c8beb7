"""ByteTracker behaviour on small synthetic scenes."""

from __future__ import annotations

import numpy as np
import pytest

from model_code.tracking import (
    ByteTracker,
    TrackerConfig,
    TrackerConfigError,
    TrackState,
    upright_labels,
)

EMPTY = (np.zeros((0, 4)), np.zeros(0))


def person(x: float, y: float = 100.0) -> list[float]:
    return [x, y, x + 40.0, y + 100.0]


def step(tracker: ByteTracker, boxes: list[list[float]], scores: list[float], labels=None):
    return tracker.update(np.array(boxes, dtype=float).reshape(-1, 4), np.array(scores), labels)


def test_first_frame_tracks_are_reported_with_ids_from_one():
    tracker = ByteTracker()
    out = step(tracker, [person(10), person(300)], [0.9, 0.95])
    assert sorted(out.ids.tolist()) == [1, 2]
    assert out.ids.dtype == np.int64 and out.labels.dtype == np.int64
    assert out.boxes.shape == (2, 4)


def test_ids_persist_while_objects_move():
    tracker = ByteTracker()
    history = []
    for t in range(20):
        out = step(tracker, [person(10 + 3 * t), person(400 - 2 * t)], [0.9, 0.85])
        history.append(dict(zip(out.ids.tolist(), out.boxes[:, 0].tolist(), strict=True)))
    assert all(set(frame) == {1, 2} for frame in history)
    assert history[-1][1] == pytest.approx(10 + 3 * 19, abs=2.0)
    assert history[-1][2] == pytest.approx(400 - 2 * 19, abs=2.0)


def test_track_survives_two_frame_gap_on_low_score_boxes():
    tracker = ByteTracker()
    scores = [0.9, 0.9, 0.9, 0.3, 0.3, 0.9, 0.9]
    reported = [step(tracker, [person(10 + 4 * t)], [s]).ids.tolist() for t, s in enumerate(scores)]
    assert reported == [[1]] * len(scores)


def test_low_score_boxes_alone_never_start_a_track():
    tracker = ByteTracker()
    for t in range(5):
        assert len(step(tracker, [person(10 + 4 * t)], [0.4])) == 0


def test_later_tracks_need_a_second_frame_before_being_reported():
    tracker = ByteTracker()
    step(tracker, [person(10)], [0.9])
    out = step(tracker, [person(12), person(300)], [0.9, 0.9])
    assert out.ids.tolist() == [1]
    out = step(tracker, [person(14), person(302)], [0.9, 0.9])
    assert sorted(out.ids.tolist()) == [1, 2]


def test_empty_frames_and_lost_track_recovery():
    tracker = ByteTracker(TrackerConfig(coast_s=0.0), frame_rate=30.0)
    for _ in range(5):
        step(tracker, [person(100)], [0.9])
    for _ in range(3):
        assert len(tracker.update(*EMPTY)) == 0
    assert step(tracker, [person(100)], [0.9]).ids.tolist() == [1]


@pytest.mark.parametrize(
    ("frame_rate", "buffer_frames", "same_id"), [(10.0, 10, False), (30.0, 30, True)]
)
def test_lost_buffer_is_in_seconds_and_scales_with_frame_rate(frame_rate, buffer_frames, same_id):
    tracker = ByteTracker(TrackerConfig(track_buffer_s=1.0, coast_s=0.0), frame_rate=frame_rate)
    assert tracker.buffer_frames == buffer_frames
    for _ in range(3):
        step(tracker, [person(100)], [0.9])
    for _ in range(15):
        tracker.update(*EMPTY)
    step(tracker, [person(100)], [0.9])
    out = step(tracker, [person(100)], [0.9])
    assert (out.ids.tolist() == [1]) is same_id


@pytest.mark.parametrize(("frame_rate", "coast_frames"), [(10.0, 2), (30.0, 6)])
def test_lost_track_is_reported_at_its_prediction_for_the_coast_period(frame_rate, coast_frames):
    tracker = ByteTracker(
        TrackerConfig(coast_s=0.2, coast_max_drift=1.0, coast_min_s=0.0), frame_rate=frame_rate
    )
    assert tracker.coast_frames == coast_frames
    for t in range(5):
        step(tracker, [person(100 + 2 * t)], [0.9])
    coasted = [tracker.update(*EMPTY) for _ in range(coast_frames + 1)]
    assert [out.ids.tolist() for out in coasted] == [[1]] * coast_frames + [[]]
    # Reported where the track was heading, not where it was last seen.
    assert coasted[coast_frames - 1].boxes[0, 0] > 100 + 2 * 4


def test_only_lost_tracks_near_their_last_box_coast():
    tracker = ByteTracker(
        TrackerConfig(coast_s=1.0, coast_max_drift=0.03, coast_min_s=0.0), frame_rate=10.0
    )
    for t in range(5):
        # Height 100: the slow one moves 1 px a frame, the fast one 10 px.
        step(tracker, [person(100 + t), person(400 + 10 * t)], [0.9, 0.9])
    coasted = [tracker.update(*EMPTY).ids.tolist() for _ in range(4)]
    assert coasted == [[1], [1], [1], []]


def test_no_coast_means_a_missed_frame_reports_nothing():
    tracker = ByteTracker(TrackerConfig(coast_s=0.0))
    for _ in range(3):
        step(tracker, [person(100)], [0.9])
    assert len(tracker.update(*EMPTY)) == 0


def test_low_score_box_keeps_a_coasting_track_alive():
    tracker = ByteTracker(TrackerConfig(coast_s=0.2, coast_min_s=0.0), frame_rate=10.0)
    for _ in range(3):
        step(tracker, [person(100)], [0.9])
    tracker.update(*EMPTY)  # lost, still coasting
    assert step(tracker, [person(100)], [0.3]).ids.tolist() == [1]
    assert tracker.tracks.state.tolist() == [TrackState.TRACKED]


@pytest.mark.parametrize(("low_match", "kept"), [(0.5, True), (0.4, False), (None, False)])
def test_second_stage_match_threshold_decides_if_a_loose_low_score_box_keeps_a_track(
    low_match, kept
):
    """A low-score box 12 px off a still person (IoU 0.54, cost 0.46) keeps the track only
    when the second stage accepts that cost; the default (None here) is 0.4."""
    config = TrackerConfig(coast_s=0.0)
    if low_match is not None:
        config = config.with_overrides({"low_match_threshold": low_match})
    tracker = ByteTracker(config)
    for _ in range(5):
        step(tracker, [person(100)], [0.9])
    assert (step(tracker, [person(112)], [0.3]).ids.tolist() == [1]) is kept


@pytest.mark.parametrize(("frame_rate", "tentative_frames"), [(10.0, 2), (30.0, 6)])
def test_tentative_period_is_in_seconds_before_an_id_is_shown(frame_rate, tentative_frames):
    tracker = ByteTracker(TrackerConfig(tentative_s=0.2), frame_rate=frame_rate)
    assert tracker.tentative_frames == tentative_frames
    step(tracker, [person(10)], [0.9])  # first frame: reported at once
    shown = [
        step(tracker, [person(11 + t), person(300)], [0.9, 0.9]).ids.tolist() for t in range(8)
    ]
    first_shown = next(i for i, ids in enumerate(shown) if 2 in ids)
    assert first_shown == tentative_frames
    assert all(ids[0] == 1 for ids in shown)


def test_a_tentative_track_missed_once_is_dropped_without_using_an_id():
    tracker = ByteTracker(TrackerConfig(tentative_s=0.2), frame_rate=10.0)
    step(tracker, [person(10)], [0.9])
    step(tracker, [person(10), person(300)], [0.9, 0.9])
    step(tracker, [person(10)], [0.9])  # the new one is missed while tentative
    for _ in range(3):
        out = step(tracker, [person(10), person(300)], [0.9, 0.9])
    assert sorted(out.ids.tolist()) == [1, 2]


def test_track_states_are_one_small_integer_column():
    tracker = ByteTracker(TrackerConfig(coast_s=0.0))
    step(tracker, [person(10)], [0.9])
    step(tracker, [person(10), person(300)], [0.9, 0.9])
    assert tracker.tracks.state.dtype == np.int8
    assert tracker.tracks.state.tolist() == [TrackState.TRACKED, TrackState.TENTATIVE]
    step(tracker, [person(300)], [0.9])
    assert tracker.tracks.state.tolist() == [TrackState.LOST, TrackState.TRACKED]


@pytest.mark.parametrize(("expansion", "expected_id"), [(0.0, 2), (0.3, 1)])
def test_lost_box_expansion_refinds_a_track_that_reappears_beside_its_prediction(
    expansion, expected_id
):
    tracker = ByteTracker(TrackerConfig(lost_box_expansion=expansion, coast_s=0.0))
    for _ in range(3):
        step(tracker, [person(100)], [0.9])
    for _ in range(3):
        tracker.update(*EMPTY)
    step(tracker, [person(145)], [0.9])
    assert step(tracker, [person(146)], [0.9]).ids.tolist() == [expected_id]


def test_reset_and_new_tracker_restart_ids_at_one():
    tracker = ByteTracker()
    for t in range(3):
        step(tracker, [person(10 + t), person(200 + t), person(400 + t)], [0.9] * 3)
    tracker.reset()
    assert step(tracker, [person(50)], [0.9]).ids.tolist() == [1]
    assert step(ByteTracker(), [person(50)], [0.9]).ids.tolist() == [1]


def test_output_filter_drops_small_and_wide_boxes_and_can_be_disabled():
    boxes = [person(10), [300, 100, 308, 110], [500, 100, 600, 150]]  # ok, 80 px², w/h = 2
    out = step(ByteTracker(), boxes, [0.9] * 3)
    assert len(out) == 1 and out.boxes[0, 0] == pytest.approx(10)
    config = TrackerConfig(min_box_area=0, max_aspect_ratio=None)
    assert len(step(ByteTracker(config), boxes, [0.9] * 3)) == 3


def test_default_filter_reports_upright_people_not_squat_or_tiny_clutter():
    # A small far person (15x40 = 600 px², w/h 0.375) is kept; a 26x23 blob (w/h 1.13, under
    # the old 1.6 limit) and a 12x20 speck (240 px², over the old 100 px²) are not.
    boxes = [[10, 100, 25, 140], [300, 100, 326, 123], [500, 100, 512, 120]]
    out = step(ByteTracker(), boxes, [0.9] * 3)
    assert out.boxes[:, 0].tolist() == pytest.approx([10])
    widths = [[10, 100, 42, 140], [300, 100, 350, 140]]  # w/h 0.8 kept, w/h 1.25 dropped
    assert step(ByteTracker(), widths, [0.9] * 2).boxes[:, 0].tolist() == pytest.approx([10])


def test_the_width_bound_applies_to_upright_classes_only():
    # A car (label 2) is wider than tall: with the person label (0) named upright it is reported,
    # while a person-labelled box of the same shape is not.
    wide = [[10, 100, 110, 150], [300, 100, 400, 150]]
    tracker = ByteTracker(upright_labels=[0])
    out = step(tracker, wide, [0.9, 0.9], labels=[2, 0])
    assert out.labels.tolist() == [2]
    assert len(step(ByteTracker(), wide, [0.9, 0.9], labels=[2, 0])) == 0  # no names: every box


def test_a_person_cut_off_by_the_bottom_of_the_picture_is_not_bounded():
    # Shoulders of a person walking in near the camera: wide, and reaching the bottom edge.
    cut_off = [[300, 300, 420, 432]]
    assert len(step(ByteTracker(frame_height=432), cut_off, [0.9], labels=[0])) == 1
    assert len(step(ByteTracker(), cut_off, [0.9], labels=[0])) == 0  # no picture size known
    inside = [[300, 200, 420, 320]]  # the same shape inside the picture stays bounded
    assert len(step(ByteTracker(frame_height=432), inside, [0.9], labels=[0])) == 0


def test_upright_labels_come_from_the_class_names():
    assert upright_labels(["person", "bicycle", "car"]) == [0]
    assert upright_labels(["forklift", "Pedestrian", "pallet"]) == [1]
    assert upright_labels(["car", "truck"]) == []


def test_tracks_never_switch_class():
    tracker = ByteTracker(TrackerConfig(coast_s=0.0))
    first = step(tracker, [person(10)], [0.9], labels=[0])
    assert first.labels.tolist() == [0]
    # Same place, other class: the person track is lost and a new tentative track starts.
    assert len(step(tracker, [person(11)], [0.9], labels=[2])) == 0
    out = step(tracker, [person(12)], [0.9], labels=[2])
    assert out.labels.tolist() == [2] and out.ids.tolist() == [2]


def test_overlapping_objects_of_different_classes_are_tracked_separately():
    tracker = ByteTracker()
    for t in range(4):
        out = step(tracker, [person(10 + t), person(12 + t)], [0.9, 0.8], labels=[0, 1])
    assert sorted(zip(out.ids.tolist(), out.labels.tolist(), strict=True)) == [(1, 0), (2, 1)]


@pytest.mark.parametrize(
    ("boxes", "scores", "message"),
    [
        (np.zeros((2, 3)), np.zeros(2), "shape"),
        (np.zeros((2, 4)), np.zeros(3), "scores"),
        (np.array([[0, 0, np.nan, 1.0]]), np.ones(1), "finite"),
    ],
)
def test_bad_inputs_are_rejected_clearly(boxes, scores, message):
    with pytest.raises(ValueError, match=message):
        ByteTracker().update(boxes, scores)


def test_bad_frame_rate_is_rejected():
    with pytest.raises(ValueError, match="frame_rate"):
        ByteTracker(frame_rate=0)


def test_config_from_dict_names_unknown_keys_and_bad_values():
    assert TrackerConfig.from_dict({"high_threshold": 0.5}).high_threshold == 0.5
    with pytest.raises(TrackerConfigError, match="bogus, extra"):
        TrackerConfig.from_dict({"bogus": 1, "extra": 2, "track_buffer_s": 1.0})
    with pytest.raises(TrackerConfigError, match="match_threshold"):
        TrackerConfig.from_dict({"match_threshold": 1.5})
    for name in ("track_buffer_s", "tentative_s", "coast_s"):
        with pytest.raises(TrackerConfigError, match=name):
            TrackerConfig.from_dict({name: "ten"})
        with pytest.raises(TrackerConfigError, match=name):
            TrackerConfig.from_dict({name: -1.0})
    with pytest.raises(TrackerConfigError, match="coast_s"):
        TrackerConfig(coast_s=2.0, track_buffer_s=1.0)
    with pytest.raises(TrackerConfigError, match="low_threshold"):
        TrackerConfig(low_threshold=0.7, high_threshold=0.6)


def test_weak_matches_move_a_track_less_than_confident_ones():
    """Score-scaled noise: a low-score box (second stage) pulls the state less than a high one."""
    shifted = {}
    for score in (0.3, 0.95):
        tracker = ByteTracker()
        for _ in range(3):
            step(tracker, [person(100)], [0.9])
        step(tracker, [person(110)], [score])
        shifted[score] = tracker.tracks.mean[0, 0] - (100 + 20)  # centre x minus the resting centre
    assert 0 < shifted[0.3] < shifted[0.95] < 10


def test_noise_scale_gain_must_be_positive():
    with pytest.raises(TrackerConfigError, match="noise_scale_gain"):
        TrackerConfig(noise_scale_gain=0)
    with pytest.raises(TrackerConfigError, match="noise_scale_gain"):
        TrackerConfig.from_dict({"noise_scale_gain": "five"})

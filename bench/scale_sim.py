"""A discrete-event model of the async endpoint's queue and of both of its scaling policies.

`python -m bench scale_sim` prints the model's run of AWS's published burst experiment beside the
published figures, the settings search, the step-cooldown question and the long-video fan-out.

What is modelled (each a named constant or a field of `ScalingPolicy` / `Workload`):
- the managed queue: first in, first out; an in-service instance takes a job whenever one of its
  `concurrency` slots is free; a job holds its slot for its service time;
- CloudWatch: one datapoint a minute, `Average` of `ApproximateBacklogSizePerInstance` (queued plus
  in-flight, divided by the in-service instances; missing while none serves) and `Maximum` of
  `HasBacklogWithoutCapacity`; a datapoint is seen `METRIC_LAG_S` after its minute ends;
- target tracking as Application Auto Scaling builds it: a high alarm on 3 of 3 datapoints above
  the target, a low alarm on 15 of 15 below 90% of it; new capacity = ceil(capacity x metric /
  target), clamped; scale-in waits out its cooldown (a scale-out ends it), scale-out only raises;
- the step policy: its alarm (1 of 1 datapoints >= 1) invokes it every minute while in alarm;
  `ChangeInCapacity` adds to the capacity once its cooldown is over (inside the cooldown only a
  larger total than the one that started it counts), `ExactCapacity` sets the capacity;
- instances: billed from the scaling decision to removal, serving after `startup_s`; scale-in
  removes idle instances first and lets busy ones finish their jobs.

Not modelled: failures and retries, per-job variation beyond the given service times, request
TTL expiry, and SageMaker refusing a capacity change while the endpoint is updating.
"""

from __future__ import annotations

import argparse
import heapq
import itertools
import math
import sys
from collections import deque
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

from stacks.scaling import CHANGE_IN_CAPACITY, EXACT_CAPACITY, ScalingPolicy, scaling_policy
from stacks.settings import Settings

# How Application Auto Scaling and CloudWatch behave (AWS documentation; not ours to choose).
HIGH_ALARM_DATAPOINTS = 3
LOW_ALARM_DATAPOINTS = 15
LOW_ALARM_FRACTION = 0.9
METRIC_LAG_S = 60.0

# AWS's published burst experiment (aws-samples/amazon-sagemaker-asynchronous-inference-computer-
# vision, mask-rcnn-async-inference.ipynb, and its blog post "Run computer vision inference on large
# videos with Amazon SageMaker asynchronous endpoints", 2021): 999 invocations in one burst on an
# endpoint already at one ml.g4dn.xlarge, target tracking only (target 5, cooldowns 120 s / 120 s),
# at most 5 instances, 2 concurrent invocations each, model latency about 30 s.
PUBLISHED_BURST = {
    "jobs": 999,
    "max_capacity": 5,
    "concurrency": 2,
    "target": 5.0,
    "cooldown_s": 120,
    "service_s": 30.0,
    "videos_per_minute": 18.0,
    "oldest_request_age_s": 3500.0,
}
# Stated assumption: a GPU instance is ready to serve about 6 minutes after the scaling decision
# (instance start plus image pull and model load; docs/OPERATIONS.md says 5-10 minutes).
GPU_STARTUP_S = 360.0


@dataclass(frozen=True)
class Workload:
    """Jobs arriving at the endpoint: arrival times and service times in seconds."""

    arrivals: tuple[float, ...]
    service_s: tuple[float, ...]

    @classmethod
    def burst(cls, jobs: int, service_s: float, at: float = 0.0) -> Workload:
        return cls((at,) * jobs, (service_s,) * jobs)


@dataclass
class _Instance:
    launched: float
    ready: float
    busy: int = 0
    draining: bool = False
    removed: float | None = None


@dataclass
class SimResult:
    """What one run produced; times in seconds from the first arrival's clock origin."""

    starts: list[float]
    finishes: list[float]
    arrivals: tuple[float, ...]
    instance_seconds: float
    launched: int
    timeline: list[tuple[float, int, int, int]] = field(default_factory=list)

    @property
    def drain_s(self) -> float:
        """Time from the first arrival to the last completion."""
        return max(self.finishes) - min(self.arrivals)

    @property
    def oldest_request_age_s(self) -> float:
        """The longest any job waited in the queue before an instance took it."""
        return max(s - a for s, a in zip(self.starts, self.arrivals, strict=True))

    def videos_per_minute_at(self, capacity: int) -> float:
        """Completions per minute from when `capacity` instances serve until the queue is empty."""
        full = [t for t, _, serving, _ in self.timeline if serving >= capacity]
        if not full:
            return 0.0
        until = max(self.starts)
        done = sum(1 for f in self.finishes if full[0] <= f <= until)
        return 60.0 * done / (until - full[0]) if until > full[0] else 0.0

    def cost(self, usd_per_hour: float) -> float:
        return self.instance_seconds * usd_per_hour / 3600.0


def simulate(
    policy: ScalingPolicy,
    workload: Workload,
    startup_s: float,
    initial_instances: int = 0,
    step_policy: bool = True,
    horizon_s: float = 7 * 24 * 3600.0,
) -> SimResult:
    """Run the queue and both policies until every job is done and capacity is back at the minimum.

    `initial_instances` are in service at time 0 and billed from then. `step_policy=False` leaves
    only target tracking (as in AWS's published experiment).
    """
    return _Run(policy, workload, startup_s, initial_instances, step_policy).run(horizon_s)


_ARRIVE, _FINISH, _READY, _TICK = range(4)


class _Run:
    """One simulation: the event loop and the state it changes."""

    def __init__(
        self,
        policy: ScalingPolicy,
        workload: Workload,
        startup_s: float,
        initial_instances: int,
        step_policy: bool,
    ) -> None:
        if len(workload.arrivals) != len(workload.service_s) or not workload.arrivals:
            raise ValueError("a workload needs one service time per arrival, and at least one job")
        self.policy = policy
        self.workload = workload
        self.startup_s = startup_s
        self.initial = initial_instances
        self.step_policy = step_policy
        self.now = 0.0
        self.queue: deque[int] = deque()
        self.instances = [_Instance(0.0, 0.0) for _ in range(initial_instances)]
        self.desired = initial_instances
        n = len(workload.arrivals)
        self.starts = [math.nan] * n
        self.finishes = [math.nan] * n
        self.on: dict[int, _Instance] = {}
        self.events: list[tuple[float, int, int, int]] = []
        self.seq = itertools.count()
        # (Average backlog per serving instance or None, HasBacklogWithoutCapacity, max backlog)
        self.datapoints: list[tuple[float | None, int, int]] = []
        self.area = 0.0  # integral of backlog per serving instance over this minute
        self.served = 0.0  # seconds of this minute with at least one instance serving
        self.without = False  # backlog with nothing serving at some time this minute
        self.peak = 0  # largest backlog this minute
        self.last_scale_in = -math.inf
        self.step_until = -math.inf
        self.step_total = 0
        self.timeline: list[tuple[float, int, int, int]] = []

    def push(self, t: float, kind: int, payload: int = 0) -> None:
        heapq.heappush(self.events, (t, kind, next(self.seq), payload))

    def serving(self) -> list[_Instance]:
        return [x for x in self.live() if x.ready <= self.now and not x.draining]

    def live(self) -> list[_Instance]:
        return [x for x in self.instances if x.removed is None]

    def backlog(self) -> int:
        return len(self.queue) + sum(x.busy for x in self.live())

    def dispatch(self) -> None:
        for inst in self.serving():
            while inst.busy < self.policy.concurrency and self.queue:
                job = self.queue.popleft()
                inst.busy += 1
                self.starts[job] = self.now
                self.on[job] = inst
                self.push(self.now + self.workload.service_s[job], _FINISH, job)

    def set_capacity(self, new: int) -> None:
        new = max(self.policy.min_capacity, min(self.policy.max_capacity, new))
        live = [x for x in self.live() if not x.draining]
        for _ in range(new - len(live)):
            inst = _Instance(self.now, self.now + self.startup_s)
            self.instances.append(inst)
            self.push(inst.ready, _READY)
        if new < len(live):
            # Idle serving instances go first, then those still starting, then busy ones (drain).
            order = sorted(live, key=lambda x: (x.busy > 0, x.ready > self.now))
            for inst in order[: len(live) - new]:
                inst.draining = True
                if inst.busy == 0:
                    inst.removed = self.now
        self.desired = new

    def step(self, visible: list[tuple[float | None, int, int]]) -> None:
        if not (self.step_policy and visible and visible[-1][1] >= 1):
            return
        p = self.policy
        if p.step_adjustment_type == EXACT_CAPACITY:
            wanted = p.step_capacity(visible[-1][2])
            if self.desired != wanted:
                self.set_capacity(wanted)
        elif self.now >= self.step_until:
            self.step_total = self.desired + p.step_adjustment
            self.set_capacity(self.step_total)
            self.step_until = self.now + p.step_cooldown_s
        elif self.desired < self.step_total:
            self.set_capacity(self.step_total)

    def track(self, visible: list[tuple[float | None, int, int]]) -> None:
        target = self.policy.target_backlog_per_instance
        high = [v for v, *_ in visible[-HIGH_ALARM_DATAPOINTS:]]
        if len(high) == HIGH_ALARM_DATAPOINTS and all(v is not None and v > target for v in high):
            new = math.ceil(self.desired * high[-1] / target)
            if new > self.desired:
                self.set_capacity(new)
                self.last_scale_in = -math.inf  # a scale-out ends the scale-in cooldown
            return
        low = [v for v, *_ in visible[-LOW_ALARM_DATAPOINTS:]]
        if (
            len(low) == LOW_ALARM_DATAPOINTS
            and all(v is not None and v < LOW_ALARM_FRACTION * target for v in low)
            and self.now - self.last_scale_in >= self.policy.scale_in_cooldown_s
        ):
            new = math.ceil(self.desired * low[-1] / target)
            if new < self.desired:
                self.set_capacity(new)
                self.last_scale_in = self.now

    def tick(self) -> bool:
        """Close the minute's datapoint, run the alarms; False once the run is over."""
        value = self.area / self.served if self.served > 0 else None
        self.datapoints.append((value, int(self.without), self.peak))
        self.area = self.served = 0.0
        self.without = bool(self.backlog() and not self.serving())
        self.peak = self.backlog()
        lag = math.ceil(METRIC_LAG_S / self.policy.alarm_period_s)
        visible = self.datapoints[: len(self.datapoints) - lag]
        self.step(visible)
        self.track(visible)
        live = self.live()
        self.timeline.append((self.now, self.backlog(), len(self.serving()), len(live)))
        done = not self.on and not self.queue and all(f == f for f in self.finishes)
        return not (done and self.desired == self.policy.min_capacity and len(live) == self.desired)

    def run(self, horizon_s: float) -> SimResult:
        for i, t in enumerate(self.workload.arrivals):
            self.push(t, _ARRIVE, i)
        period = float(self.policy.alarm_period_s)
        self.push(period, _TICK)
        self.dispatch()
        while self.events:
            t, kind, _, payload = heapq.heappop(self.events)
            if t > horizon_s:
                break
            if t > self.now:  # the state was constant over [now, t)
                backlog, serving = self.backlog(), len(self.serving())
                self.peak = max(self.peak, backlog)
                if serving:
                    self.area += (t - self.now) * backlog / serving
                    self.served += t - self.now
                elif backlog:
                    self.without = True
            self.now = t
            if kind == _ARRIVE:
                self.queue.append(payload)
            elif kind == _FINISH:
                inst = self.on.pop(payload)
                inst.busy -= 1
                self.finishes[payload] = t
                if inst.draining and inst.busy == 0:
                    inst.removed = t
            elif kind == _TICK and self.tick():
                self.push(t + period, _TICK)
            self.dispatch()
        billed = sum((x.removed if x.removed is not None else self.now) - x.launched
                     for x in self.instances)  # fmt: skip
        return SimResult(
            self.starts,
            self.finishes,
            self.workload.arrivals,
            billed,
            len(self.instances) - self.initial,
            self.timeline,
        )


def published_burst(startup_s: float = GPU_STARTUP_S) -> SimResult:
    """AWS's burst experiment through the model (target tracking only, starting at one instance)."""
    p = PUBLISHED_BURST
    policy = ScalingPolicy(
        min_capacity=0,
        max_capacity=p["max_capacity"],
        concurrency=p["concurrency"],
        target_backlog_per_instance=p["target"],
        scale_in_cooldown_s=p["cooldown_s"],
        scale_out_cooldown_s=p["cooldown_s"],
    )
    workload = Workload.burst(p["jobs"], p["service_s"])
    return simulate(policy, workload, startup_s, initial_instances=1, step_policy=False)


@dataclass(frozen=True)
class SearchRow:
    policy: ScalingPolicy
    drain_s: float
    oldest_s: float
    instance_seconds: float


def search(
    base: ScalingPolicy,
    instance_job_s: float,
    jobs: int,
    startup_s: float,
    targets: Sequence[float] = (1.0, 2.0, 4.0, 8.0, 16.0),
    scale_in_cooldowns_s: Sequence[int] = (120, 300, 600),
    concurrencies: Sequence[int] = (1, 2, 4),
    max_capacities: Sequence[int] = (2, 3, 4, 5),
) -> list[SearchRow]:
    """Every combination on one burst from zero.

    `instance_job_s` is the instance's time per video: with `c` concurrent invocations each job
    takes `c * instance_job_s` (the accelerator is shared), so concurrency changes the metric and
    the slot granularity, not the instance's throughput.
    """
    rows = []
    for target, cooldown, concurrency, cap in itertools.product(
        targets, scale_in_cooldowns_s, concurrencies, max_capacities
    ):
        policy = replace(
            base,
            target_backlog_per_instance=target,
            scale_in_cooldown_s=cooldown,
            concurrency=concurrency,
            max_capacity=cap,
        )
        result = simulate(policy, Workload.burst(jobs, concurrency * instance_job_s), startup_s)
        rows.append(
            SearchRow(policy, result.drain_s, result.oldest_request_age_s, result.instance_seconds)
        )
    return rows


def best(
    rows: Sequence[SearchRow], reference: SearchRow, cost_tolerance: float = 0.0
) -> tuple[SearchRow, SearchRow]:
    """The fastest drain costing at most `reference` (+ `cost_tolerance`, a fraction), and the
    cheapest draining no later than `reference`."""
    tolerance = 1e-9
    fastest = min(
        (
            r
            for r in rows
            if r.instance_seconds <= reference.instance_seconds * (1 + cost_tolerance + tolerance)
        ),
        key=lambda r: (r.drain_s, r.instance_seconds),
    )
    cheapest = min(
        (r for r in rows if r.drain_s <= reference.drain_s * (1 + tolerance)),
        key=lambda r: (r.instance_seconds, r.drain_s),
    )
    return fastest, cheapest


@dataclass(frozen=True)
class FanOut:
    instances: int
    segments: int
    finish_s: float
    instance_seconds: float


def segment_workload(
    video_s: float, segment_s: float, overlap_s: float, seconds_per_video_s: float, concurrency: int
) -> Workload:
    """One long video split into segments (each with `overlap_s` more), all submitted at once.

    `seconds_per_video_s` is the instance's processing time per second of video with every slot
    busy; a segment holding one of `concurrency` slots takes `concurrency` times its share.
    """
    count = max(1, math.ceil(video_s / segment_s))
    lengths = [min(segment_s, video_s - i * segment_s) + (overlap_s if count > 1 else 0.0)
               for i in range(count)]  # fmt: skip
    return Workload((0.0,) * count, tuple(concurrency * n * seconds_per_video_s for n in lengths))


def fan_out(
    video_s: float,
    seconds_per_video_s: float,
    instances: int,
    concurrency: int,
    segment_s: float,
    overlap_s: float = 2.0,
    startup_s: float = 0.0,
) -> FanOut:
    """Time to finish one long video on `instances` instances that start together (no scaling).

    `startup_s=0` means warm instances; pass the start-up time for instances launched at upload.
    With `segment_s >= video_s` this is the single-piece run.
    """
    workload = segment_workload(video_s, segment_s, overlap_s, seconds_per_video_s, concurrency)
    policy = ScalingPolicy(
        min_capacity=instances,
        max_capacity=instances,
        concurrency=concurrency,
        target_backlog_per_instance=1e9,
    )
    result = _Run(policy, workload, startup_s, 0, step_policy=False)
    result.set_capacity(instances)
    sim = result.run(horizon_s=30 * 24 * 3600.0)
    # Every instance is billed from launch until the video is done.
    return FanOut(instances, len(workload.arrivals), sim.drain_s, instances * sim.drain_s)


def _pct(model: float, published: float) -> str:
    return f"{100 * (model / published - 1):+.1f}%"


def report_published() -> SimResult:
    p = PUBLISHED_BURST
    result = published_burst()
    print(
        f"published burst: {p['jobs']} videos, 1..{p['max_capacity']} ml.g4dn.xlarge, "
        f"concurrency {p['concurrency']}, {p['service_s']:g} s per video, target "
        f"{p['target']:g}, cooldowns {p['cooldown_s']} s; model start-up {GPU_STARTUP_S:g} s"
    )
    print(f"{'figure':<34}{'published':>10}{'model':>10}{'diff':>9}")
    for name, published, model in (
        ("videos per minute at full scale", p["videos_per_minute"],
         result.videos_per_minute_at(p["max_capacity"])),
        ("oldest request age (s)", p["oldest_request_age_s"], result.oldest_request_age_s),
    ):  # fmt: skip
        print(f"{name:<34}{published:>10.0f}{model:>10.1f}{_pct(model, published):>9}")
    return result


# Workloads the step-policy question is asked on: (label, videos, instance-seconds per video).
STEP_WORKLOADS = (("1 video", 1, 150.0), ("10 videos", 10, 150.0), ("1,000 videos", 1000, 15.0))


def report_step_cooldown(policy: ScalingPolicy, usd_per_hour: float) -> None:
    print(
        f"leaving zero: bursts arriving at an endpoint at zero (max {policy.max_capacity}, "
        f"concurrency {policy.concurrency}, start-up {GPU_STARTUP_S:g} s)"
    )
    print(f"{'step policy':<36}{'workload':>13}{'launched':>9}{'drain s':>9}{'USD':>8}")
    for label, kind in (
        (f"ChangeInCapacity +1, cooldown {policy.step_cooldown_s} s", CHANGE_IN_CAPACITY),
        ("ExactCapacity 1 (deployed)", EXACT_CAPACITY),
        ("ExactCapacity by backlog (not deployed)", None),
    ):
        variant = (
            replace(policy, step_adjustment_type=kind)
            if kind
            else replace(policy, step_adjustment_type=EXACT_CAPACITY, step_scales_with_backlog=True)
        )
        for name, jobs, instance_s in STEP_WORKLOADS:
            r = simulate(
                variant, Workload.burst(jobs, policy.concurrency * instance_s), GPU_STARTUP_S
            )
            print(
                f"{label:<36}{name:>13}{r.launched:>9}{r.drain_s:>9.0f}{r.cost(usd_per_hour):>8.3f}"
            )


def _row(label: str, row: SearchRow, usd_per_hour: float) -> str:
    p = row.policy
    return (
        f"{label:<26}{p.target_backlog_per_instance:>7g}{p.scale_in_cooldown_s:>6}"
        f"{p.concurrency:>5}{p.max_capacity:>4}{row.drain_s:>9.0f}"
        f"{row.instance_seconds * usd_per_hour / 3600:>8.2f}"
    )


def report_search(policy: ScalingPolicy, instance_job_s: float, usd_per_hour: float) -> None:
    jobs = 1000
    rows = search(policy, instance_job_s, jobs, GPU_STARTUP_S)
    (reference,) = [r for r in rows if r.policy == policy]
    fastest, cheapest = best(rows, reference)
    print(
        f"settings search: {jobs} videos at once from zero, {instance_job_s:g} s of instance "
        f"time per video, start-up {GPU_STARTUP_S:g} s, {len(rows)} combinations"
    )
    print(f"{'':<26}{'target':>7}{'in-cd':>6}{'conc':>5}{'max':>4}{'drain s':>9}{'USD':>8}")
    print(_row("deployed defaults", reference, usd_per_hour))
    print(_row("fastest, same cost", fastest, usd_per_hour))
    print(_row("cheapest, same drain", cheapest, usd_per_hour))
    for cap in sorted({r.policy.max_capacity for r in rows}):
        at_cap = [r for r in rows if r.policy.max_capacity == cap]
        print(_row(f"cheapest with max {cap}", min(at_cap, key=lambda r: r.instance_seconds),
                   usd_per_hour))  # fmt: skip
    name, videos, instance_s = STEP_WORKLOADS[1]
    for label, p in (("deployed defaults", policy), ("cheapest, same drain", cheapest.policy)):
        r = simulate(p, Workload.burst(videos, p.concurrency * instance_s), GPU_STARTUP_S)
        print(
            f"  check on {name} of {instance_s:g} s: {label}: drain {r.drain_s:.0f} s, "
            f"USD {r.cost(usd_per_hour):.2f}"
        )


def report_fan_out(
    policy: ScalingPolicy, fps: float, segment_s: float = 600.0, overlap_s: float = 2.0
) -> tuple[list[tuple[int, float, float]], float]:
    video_s = 2 * 3600.0
    per_video_s = 30.0 / fps
    single = fan_out(video_s, per_video_s, 1, policy.concurrency, video_s)
    print(
        f"fan-out: one 2-hour 1080p30 video, {fps:g} fps per instance (stated), "
        f"concurrency {policy.concurrency}, {segment_s:g} s segments + {overlap_s:g} s overlap"
    )
    print(f"single piece on one warm instance: {single.finish_s / 60:.1f} min")
    print(f"{'instances':>9}{'warm (min)':>12}{'cold (min)':>12}")
    rows = []
    for n in (1, 2, 3, 4, 6, 8, 12):
        warm = fan_out(video_s, per_video_s, n, policy.concurrency, segment_s, overlap_s)
        cold = fan_out(
            video_s, per_video_s, n, policy.concurrency, segment_s, overlap_s, GPU_STARTUP_S
        )
        rows.append((n, warm.finish_s, cold.finish_s))
        print(f"{n:>9}{warm.finish_s / 60:>12.1f}{cold.finish_s / 60:>12.1f}")
    need = [n for n, warm, _ in rows if warm < 600.0]
    print(
        f"under 10 minutes (warm instances) needs {need[0] if need else 'more than 12'} "
        f"instances; the default max_capacity is {policy.max_capacity}"
    )
    return rows, single.finish_s


def plot_burst(result: SimResult, name: str, title: str) -> None:
    from bench.plots import figure

    times = [t / 60 for t, *_ in result.timeline]
    with figure(name, title) as ax:
        ax.plot(times, [b for _, b, _, _ in result.timeline], label="backlog (queued + running)")
        ax.set_xlabel("minutes after the burst")
        ax.set_ylabel("videos")
        other = ax.twinx()
        other.step(times, [s for _, _, s, _ in result.timeline], "tab:orange", label="serving")
        other.step(times, [n for *_, n in result.timeline], "tab:green", ls="--", label="billed")
        other.set_ylabel("instances")
        other.yaxis.get_major_locator().set_params(integer=True)
        handles = ax.get_legend_handles_labels()[0] + other.get_legend_handles_labels()[0]
        ax.figure.legend(handles=handles, loc="outside lower center", ncols=3, fontsize=8)


def plot_fan_out(rows: list[tuple[int, float, float]], single_s: float) -> None:
    from bench.plots import figure

    with figure("fan_out", "One 2-hour 1080p30 video split into 10-minute segments") as ax:
        counts = [n for n, _, _ in rows]
        ax.plot(counts, [w / 60 for _, w, _ in rows], marker="o", label="warm instances")
        ax.plot(counts, [c / 60 for *_, c in rows], marker="s", label="instances started at upload")
        ax.axhline(single_s / 60, color="gray", ls=":", label="single piece, one warm instance")
        ax.axhline(10, color="tab:red", ls="--", label="10-minute target")
        ax.set_xlabel("instances")
        ax.set_ylabel("minutes to finish")
        ax.set_ylim(bottom=0)
        ax.legend(fontsize=8)


def main(argv: Sequence[str] | None = None) -> int:
    from bench.cost import THROUGHPUT
    from model_code.pricing import hourly_price

    parser = argparse.ArgumentParser(prog="python -m bench scale_sim", description=__doc__)
    parser.add_argument("--no-plot", action="store_true", help="print the tables only")
    args = parser.parse_args(list(argv or []))
    settings = Settings()
    policy = scaling_policy(settings)
    price = hourly_price(settings.instance_type)
    burst = report_published()
    print()
    report_step_cooldown(policy, price)
    print()
    # The published figure: 30 s per video with 2 running at once, i.e. 15 s of instance time.
    report_search(policy, PUBLISHED_BURST["service_s"] / PUBLISHED_BURST["concurrency"], price)
    print()
    fan, single_s = report_fan_out(
        policy,
        THROUGHPUT[settings.instance_type].fps,
        settings.segment_threshold_s,
        settings.segment_overlap_s,
    )
    if not args.no_plot:
        plot_burst(burst, "burst_published", "AWS burst experiment through the model")
        ours = simulate(policy, Workload.burst(1000, policy.concurrency * 15.0), GPU_STARTUP_S)
        plot_burst(ours, "burst_defaults", "1,000 videos from zero, deployed defaults")
        plot_fan_out(fan, single_s)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))

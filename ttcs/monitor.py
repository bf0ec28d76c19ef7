"""The health monitor: rules over the label-free signals of ``metrics.jsonl`` that raise an alarm when a run goes wrong.

Each `Rule` watches one signal of one phase's rows (`ttcs.health`'s, or TRL's) and fires when
the signal stays beyond its threshold for ``window`` consecutive rows of that phase (rows of
consecutive iterations count as consecutive). An `Alarm` is one log line (signal, value, since
which step) and a line in ``results.json`` (``alarms``) and ``report.md``. ``health.on_alarm``
decides what follows: ``warn`` (the default) goes on; ``stop`` ends the run cleanly after the
phase in which the alarm fired, with the reason in ``results.json`` (``stopped``); rerunning the
same command stops there again, rerunning with ``health.on_alarm=warn`` goes on from there.

`RULES` holds only rules that were measured against gold on runs they were not tuned on (the
table, the commands and the signals that did not predict a collapse are in ``docs/health.md``);
each names its source and the measurement behind its threshold.

The monitor reads the rows as the run directory writes them (`Monitor.observe`), and a resumed
run replays the rows already written (`Monitor.replay`), so the alarms of a run do not depend on
whether it was interrupted. `scan` applies rules to a finished run's rows (``ttcs-health``).

Example:
    >>> rule = Rule("flips", "solver", "label_flip_rate", ">=", 0.5, window=2, source="example", why="")
    >>> rows = [{"phase": "solver", "iteration": 1, "step": s, "label_flip_rate": v}
    ...         for s, v in enumerate([0.6, 0.1, 0.7, 0.5], 1)]
    >>> [a.line() for a in scan(rows, [rule])]
    ['health alarm flips: label_flip_rate 0.5 >= 0.5 for 2 solver rows since iter_01/solver step 3 (example)']
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import asdict, dataclass, field, replace
from typing import Any

logger = logging.getLogger(__name__)

ON_ALARM = ("warn", "stop")


@dataclass(frozen=True)
class Rule:
    """Alarm when `signal` of the `phase`'s rows is `op` `threshold` on `window` consecutive rows of that phase.

    Args:
        name: the rule's name in logs and results.
        phase: the ``phase`` of the ``metrics.jsonl`` rows it reads (``solver``, ``synthesizer``, ``curriculum``).
        signal: the row key.
        op: ``>=`` or ``<=``.
        threshold: the bound.
        window: consecutive rows the signal must stay beyond the bound (a row without the signal breaks a streak).
        source: where the rule comes from.
        why: what the measurement here showed (docs/health.md).
    """

    name: str
    phase: str
    signal: str
    op: str
    threshold: float
    window: int = 1
    source: str = ""
    why: str = ""

    def __post_init__(self):
        if self.op not in (">=", "<="):
            raise ValueError(f"rule {self.name}: op must be >= or <=, not {self.op!r}")
        if self.window < 1:
            raise ValueError(f"rule {self.name}: window must be at least 1")

    def beyond(self, value) -> bool:
        """Whether one row's value is beyond the threshold (a missing value is not)."""
        if value is None:
            return False
        return value >= self.threshold if self.op == ">=" else value <= self.threshold


@dataclass
class Alarm:
    """A fired rule: the value of the row that completed the streak, where the streak began and where it fired.

    ``since_*`` and ``iteration``/``step`` name rows by their iteration and TRL step; ``phase_row`` counts the
    rule's phase rows of the whole run from 1 (the Solver's global step, for lead and lag against gold).
    """

    rule: str
    phase: str
    signal: str
    op: str
    threshold: float
    window: int
    value: float
    since_iteration: int
    since_step: int
    iteration: int
    step: int
    phase_row: int
    source: str = ""

    def line(self) -> str:
        rows = f"{self.window} {self.phase} row{'s' if self.window > 1 else ''}"
        return (
            f"health alarm {self.rule}: {self.signal} {self.value:.3g} {self.op} {self.threshold:g} for {rows} "
            f"since iter_{self.since_iteration:02d}/{self.phase} step {self.since_step} ({self.source})"
        )

    def to_dict(self) -> dict:
        return asdict(self)


# The rules the monitor applies by default: each measured against gold in docs/health.md, which also lists the
# signals that did not predict a collapse there (and so raise no alarm).
RULES: tuple[Rule, ...] = (
    Rule(
        "labels_moving",
        phase="solver",
        signal="label_flip_rate",
        op=">=",
        threshold=0.75,
        window=1,
        source="flip rate of TTRL-Guard, arXiv 2605.19444; threshold measured here",
        why="three quarters of a step's questions changing their majority answer since their last vote: training "
        "moved the answers wholesale. On the tuning seeds it fired at the step where avg@k fell, before the "
        "evaluation that showed it; the highest rate of their runs that did not collapse was 0.5 (TTRL-Guard's 0.3 "
        "fires on all of them)",
    ),
)


@dataclass
class Monitor:
    """Applies `rules` to ``metrics.jsonl`` rows one at a time; keeps every alarm raised.

    Args:
        rules: the rules (None: `RULES`).
        announce: called with each new alarm (the loop logs it); not called while replaying.
    """

    rules: Sequence[Rule] | None = None
    announce: Callable[[Alarm], None] | None = None
    alarms: list[Alarm] = field(default_factory=list)
    _streaks: dict[str, list[dict]] = field(default_factory=dict)
    _rows: dict[str, int] = field(default_factory=dict)

    def __post_init__(self):
        if self.rules is None:
            self.rules = RULES

    def observe(self, row: dict, *, quiet: bool = False) -> list[Alarm]:
        """Feed one row; the alarms it raises. A rule fires once per streak: when the streak reaches its window."""
        phase = row.get("phase")
        if phase is None:
            return []
        self._rows[phase] = self._rows.get(phase, 0) + 1
        raised = []
        for rule in self.rules or ():
            if rule.phase != phase:
                continue
            streak = self._streaks.setdefault(rule.name, [])
            if not rule.beyond(row.get(rule.signal)):
                streak.clear()
                continue
            streak.append({"iteration": row.get("iteration", 0), "step": row.get("step", 0)})
            if len(streak) == rule.window:
                raised.append(
                    Alarm(
                        rule=rule.name,
                        phase=phase,
                        signal=rule.signal,
                        op=rule.op,
                        threshold=rule.threshold,
                        window=rule.window,
                        value=float(row[rule.signal]),
                        since_iteration=streak[0]["iteration"],
                        since_step=streak[0]["step"],
                        iteration=row.get("iteration", 0),
                        step=row.get("step", 0),
                        phase_row=self._rows[phase],
                        source=rule.source,
                    )
                )
        self.alarms.extend(raised)
        if not quiet and self.announce is not None:
            for alarm in raised:
                self.announce(alarm)
        return raised

    def replay(self, rows: Iterable[dict]) -> None:
        """Feed the rows a run already wrote (on resume), without announcing their alarms again."""
        for row in rows:
            self.observe(row, quiet=True)

    def alarms_in(self, iteration: int, phase: str) -> list[Alarm]:
        """The alarms raised by the rows of one phase of one iteration."""
        return [a for a in self.alarms if a.iteration == iteration and a.phase == phase]


def scan(rows: Iterable[dict], rules: Sequence[Rule] | None = None) -> list[Alarm]:
    """Every alarm `rules` (None: `RULES`) raise over a run's ``metrics.jsonl`` rows, in order."""
    monitor = Monitor(rules)
    monitor.replay(rows)
    return monitor.alarms


def configured_rules(changes: Mapping[Any, Any] | None) -> tuple[Rule, ...]:
    """`RULES` with ``health.rules``'s changes: rule name -> ``{threshold: x, window: n}`` (either key), or
    false/null to switch the rule off.

    Raises:
        ValueError: a name that is not a rule, or a key other than threshold and window.
    """
    rules = {rule.name: rule for rule in RULES}
    for name, change in (changes or {}).items():
        if name not in rules:
            raise ValueError(f"health.rules.{name}: no such rule; the rules are {', '.join(rules) or 'none'}")
        if change is None or change is False:
            del rules[name]
            continue
        if not isinstance(change, Mapping) or not set(change) <= {"threshold", "window"}:
            raise ValueError(f"health.rules.{name}={change!r}: give threshold and/or window, or false to switch it off")
        rules[name] = replace(
            rules[name],
            threshold=float(change.get("threshold", rules[name].threshold)),
            window=int(change.get("window", rules[name].window)),
        )
    return tuple(rules.values())

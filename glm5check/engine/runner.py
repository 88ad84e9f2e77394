"""The runner: selects the checks for this profile and node, runs them concurrently, and turns every
way a check can go wrong (an exception, a failed probe, a hang) into an ERROR result with the reason."""

from __future__ import annotations

import fnmatch
import itertools
import queue
import threading
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any, NamedTuple

from glm5check.engine.check import Check, Fix, Origin, Result, Status, skipped_for
from glm5check.engine.context import BaseContext
from glm5check.engine.registry import LOAD_ERROR_CATEGORY, LoadError, plugin_fault
from glm5check.errors import ConfigError, NotRecorded, ProbeFailed, SeeCheck

DEFAULT_JOBS = 8
# Rows one check may add to a report (a serve script of 30000 repeated flags gave 30000 warnings, a 19 MB
# report); the rest are summed up in one row of their worst status, read up to RESULTS_READ_CAP.
RESULTS_SHOWN_CAP = 1000
RESULTS_READ_CAP = 100_000
_SEVERITY = (Status.PASS, Status.SKIP, Status.WARN, Status.FAIL, Status.ERROR)


@dataclass(frozen=True)
class Outcome:
    """One row of the report: the check that ran (id, category, title), the Result it gave, how long it
    took, and the --ignore reason when a waiver turned its FAIL/ERROR into a WARN (then `result` is the
    waived one). The result's fields are read through it, never copied."""

    id: str
    category: str
    title: str
    result: Result
    duration_ms: int = 0
    waived: str | None = None
    origin: Origin | None = None  # the entry point and distribution that supplied the check

    @property
    def status(self) -> Status:
        return self.result.status

    @property
    def message(self) -> str:
        return self.result.message

    @property
    def item(self) -> str | None:
        return self.result.item

    @property
    def expected(self) -> str | None:
        return self.result.expected

    @property
    def observed(self) -> str | None:
        return self.result.observed

    @property
    def remediation(self) -> str | None:
        return self.result.remediation

    @property
    def see(self) -> str | None:
        """The check that reports why this row could not be judged."""
        return self.result.see

    @property
    def fix(self) -> tuple[Fix, ...]:
        return self.result.fix

    @property
    def label(self) -> str:
        return f"{self.id}[{self.item}]" if self.item else self.id


class Waiver(NamedTuple):
    pattern: str
    reason: str

    @classmethod
    def parse(cls, text: str) -> Waiver:
        pattern, _, reason = text.partition(":")
        return cls(pattern.strip(), reason.strip() or "waived with --ignore")

    def matches(self, outcome: Outcome) -> bool:
        # An exact label first: `env.vars[HCCL_BUFFSIZE]` would otherwise be read as a glob character class.
        if self.pattern in (outcome.id, outcome.label):
            return True
        return fnmatch.fnmatchcase(outcome.id, self.pattern) or fnmatch.fnmatchcase(outcome.label, self.pattern)


class SelectionError(ConfigError):
    """A --check, --skip or --ignore pattern that names nothing (exit 2: a typo in a CI file must show)."""


def did_you_mean(pattern: str, names: Sequence[str]) -> str:
    """` (did you mean X?)` for the registered name closest to a mistyped pattern, else ``."""
    import difflib  # only for a did-you-mean (start-up time)

    close = difflib.get_close_matches(pattern, list(dict.fromkeys(names)), n=1, cutoff=0.6)
    return f" (did you mean {close[0]}?)" if close else ""


def check_patterns(
    checks: Iterable[Check], include: Sequence[str], exclude: Sequence[str], load_errors: Sequence[LoadError] = ()
) -> None:
    """Raise SelectionError for the first --check/--skip pattern that matches no registered check id (nor
    the `plugin.<name>` row of a plugin that failed to load). A `plugin.…` pattern names rows that exist
    only while a plugin is broken (`--skip 'plugin.*'` in a CI file): it may match nothing."""
    ids = [check.id for check in checks] + [error.check_id for error in load_errors]
    for pattern in (*include, *exclude):
        if pattern.startswith(f"{LOAD_ERROR_CATEGORY}."):
            continue
        if not any(fnmatch.fnmatchcase(check_id, pattern) for check_id in ids):
            hint = did_you_mean(pattern, ids) or " (see glm5check checks)"
            broken = "".join(f"; plugin {e.describe()} failed to load: {e.reason}" for e in load_errors)
            raise SelectionError(f"no check matches {pattern!r}{hint}{broken}")


def select_checks(
    checks: Iterable[Check],
    multi_node: bool,
    role: str,
    include: Sequence[str] = (),
    exclude: Sequence[str] = (),
    group: str | None = None,
) -> list[Check]:
    return [c for c in checks if wanted(c, include, exclude) and c.applies(multi_node, role, group)]


def wanted(check: Check, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> bool:
    """Whether --check/--skip keep this check (wherever it applies)."""
    return wanted_id(check.id, include, exclude)


def wanted_id(check_id: str, include: Sequence[str] = (), exclude: Sequence[str] = ()) -> bool:
    """Whether --check/--skip keep the rows of this id (a check's, or a plugin load error's)."""
    if include and not any(fnmatch.fnmatchcase(check_id, p) for p in include):
        return False
    return not any(fnmatch.fnmatchcase(check_id, p) for p in exclude)


def selected_errors(
    load_errors: Iterable[LoadError], include: Sequence[str] = (), exclude: Sequence[str] = ()
) -> list[LoadError]:
    """The load errors whose `plugin.<name>` rows --check/--skip keep."""
    return [error for error in load_errors if wanted_id(error.check_id, include, exclude)]


def _where(exc: BaseException) -> str:
    frames = traceback.extract_tb(exc.__traceback__)
    if not frames:
        return ""
    last = frames[-1]
    return f" (at {Path(last.filename).name}:{last.lineno})"


def _normalise(check: Check, output: object, collected: list[Result]) -> list[Result]:
    """The check's results; a generator's are appended to `collected` one by one, so that the ones it
    yielded before raising are not lost."""
    if isinstance(output, Result):
        return [output]
    if output is None:
        return [Result(Status.ERROR, f"check {check.id} returned no result")]
    try:
        results = itertools.islice(iter(output), RESULTS_READ_CAP + 1)  # type: ignore[call-overload]  # a check may return anything; TypeError below
    except TypeError:
        return [Result(Status.ERROR, f"check {check.id} returned {type(output).__name__}, not results")]
    collected.extend(results)
    if not collected:
        return [Result(Status.ERROR, f"check {check.id} returned no result")]
    checked = [
        r if isinstance(r, Result) else Result(Status.ERROR, f"check {check.id} returned {r!r:.200}") for r in collected
    ]
    return checked if len(checked) <= RESULTS_SHOWN_CAP else _capped(check, checked)


def _not_recorded(check: Check, exc: NotRecorded) -> Result:
    """A replay gap: the snapshot never recorded what the check asked, so it cannot be judged (never a FAIL)."""
    return Result(
        Status.SKIP,
        f"{check.id} cannot be judged on this snapshot: {exc.question} is not recorded in it (a snapshot of an "
        "older glm5check, or made by hand); record a new snapshot to check it",
        observed=f"{exc.question}: not recorded",
    )


def _crash(check: Check, exc: BaseException) -> Result:
    return Result(Status.ERROR, f"internal error in {check.id}: {type(exc).__name__}: {exc}{_where(exc)}")


def _capped(check: Check, results: list[Result]) -> list[Result]:
    """The first RESULTS_SHOWN_CAP - 1 results, and one row standing for the rest with their worst status."""
    shown, rest = results[: RESULTS_SHOWN_CAP - 1], results[RESULTS_SHOWN_CAP - 1 :]
    counts = Counter(r.status.value for r in rest)
    more = f"more than {len(rest) - 1}" if len(results) > RESULTS_READ_CAP else str(len(rest))
    worst = max((r.status for r in rest), key=_SEVERITY.index)
    summary = ", ".join(f"{count} {status}" for status, count in sorted(counts.items()))
    return [
        *shown,
        Result(worst, f"{check.id}: {more} more results not shown ({summary}); the first of them: {rest[0].message}"),
    ]


def run_one(check: Check, ctx: BaseContext) -> list[Outcome]:
    started = time.perf_counter()
    collected: list[Result] = []
    try:
        results = _normalise(check, check.func(ctx), collected)
    except NotRecorded as exc:
        results = [r for r in collected if isinstance(r, Result)] + [_not_recorded(check, exc)]
    except SeeCheck as cause:
        results = [r for r in collected if isinstance(r, Result)] + [skipped_for(cause)]
    except ProbeFailed as exc:
        results = [Result(Status.ERROR, str(exc))]
    except BaseException as exc:  # a plugin's sys.exit() or its own KeyboardInterrupt; the operator's stops
        if not plugin_fault(exc):
            raise
        results = [_crash(check, exc)]
    duration_ms = int((time.perf_counter() - started) * 1000)
    return [_outcome(check, _owned(check, r), duration_ms) for r in results]


def _owned(check: Check, result: Result) -> Result:
    """A check cannot point at itself for its own broken fact: that would hide the cause."""
    if result.see == check.id:
        return replace(result, status=Status.ERROR, see=None)
    return result


def _outcome(check: Check, result: Result, duration_ms: int) -> Outcome:
    return Outcome(check.id, check.category, check.title, result, duration_ms, origin=check.origin)


def _cause_not_run(outcome: Outcome, selected: set[str]) -> Outcome:
    """A SKIP pointing at a check that did not run would leave its cause without a row: it is an ERROR."""
    if outcome.status is not Status.SKIP or outcome.see is None or outcome.see in selected:
        return outcome
    message = f"{outcome.message} ({outcome.see}, which reports the cause, was not run: add --check {outcome.see})"
    return replace(outcome, result=replace(outcome.result, status=Status.ERROR, message=message))


def run_checks(
    ctx: BaseContext,
    checks: Sequence[Check],
    waivers: Sequence[Waiver] = (),
    load_errors: Sequence[LoadError] = (),
    jobs: int = DEFAULT_JOBS,
    check_timeout_s: float | None = None,
    watch: Callable[[dict[str, float]], None] | None = None,
) -> list[Outcome]:
    """Run checks on daemon worker threads; a check still running at its deadline becomes an ERROR.
    `watch`, when given, is called about every 50 ms from this thread with the seconds each running
    check has run so far (the progress line)."""
    deadline_s = check_timeout_s if check_timeout_s is not None else 3 * ctx.host.timeout_s + 15
    outcomes: dict[str, list[Outcome]] = {}
    started_at: dict[str, float] = {}
    lock = threading.Lock()
    todo: queue.Queue[Check] = queue.Queue()
    for check in checks:
        todo.put(check)

    def worker() -> None:
        while True:
            try:
                check = todo.get_nowait()
            except queue.Empty:
                return
            with lock:
                started_at[check.id] = time.monotonic()
            try:
                result = run_one(check, ctx)
            except BaseException as exc:  # no Ctrl-C reaches a worker thread: the check raised it to end it
                result = [_outcome(check, _crash(check, exc), 0)]
            with lock:
                outcomes.setdefault(check.id, result)

    workers = [threading.Thread(target=worker, daemon=True) for _ in range(max(1, min(jobs, len(checks))))]
    for thread in workers:
        thread.start()
    while any(t.is_alive() for t in workers):
        for thread in workers:
            thread.join(0.05)
        now = time.monotonic()
        with lock:
            for check in checks:
                begun = started_at.get(check.id)
                if check.id not in outcomes and begun is not None and now - begun > deadline_s:
                    message = f"did not finish within {deadline_s:g} s (a probe hung); skipped its result"
                    outcomes[check.id] = [_outcome(check, Result(Status.ERROR, message), int(deadline_s * 1000))]
            if all(c.id in outcomes for c in checks):
                break
            running = {i: now - begun for i, begun in started_at.items() if i not in outcomes}
        if watch is not None:
            watch(running)
    rows = [row for check in checks for row in outcomes.get(check.id, [])]
    rows += [load_error_row(e) for e in load_errors]
    selected = {check.id for check in checks}
    return [apply_waivers(_cause_not_run(row, selected), waivers) for row in rows]


def load_error_row(error: LoadError) -> Outcome:
    """The ERROR row of a plugin that failed to load: `plugin.<entry point>`, naming its distribution."""
    plugin = error.origin is None or not error.origin.built_in
    where = f" (from {error.origin.distribution})" if error.origin and plugin else ""
    fix = f"fix or update the plugin, or leave it out: --disable-plugin {error.plugin}" if plugin else None
    message = f"check module {error.module}{where} failed to load: {error.reason}"
    remediation = fix or "reinstall glm5check: one of its own check modules does not load"
    return Outcome(
        error.check_id,
        LOAD_ERROR_CATEGORY,
        f"load check module {error.module}",
        Result(Status.ERROR, message, remediation=remediation),
        origin=error.origin,
    )


def unused_waivers(outcomes: Sequence[Outcome], waivers: Sequence[Waiver]) -> list[str]:
    """One warning line per --ignore pattern that matches no result of the run (passing ones included)."""
    labels = [label for outcome in outcomes for label in (outcome.label, outcome.id)]
    return [
        f"--ignore {waiver.pattern!r} matches no result{did_you_mean(waiver.pattern, labels)}"
        for waiver in waivers
        if not any(waiver.matches(outcome) for outcome in outcomes)
    ]


def apply_waivers(outcome: Outcome, waivers: Sequence[Waiver]) -> Outcome:
    if outcome.status not in (Status.FAIL, Status.ERROR):
        return outcome
    for waiver in waivers:
        if waiver.matches(outcome):
            return replace(outcome, result=replace(outcome.result, status=Status.WARN), waived=waiver.reason)
    return outcome


class Summary(NamedTuple):
    counts: dict[str, int]
    ok: bool
    total: int


def summarize(outcomes: Sequence[Outcome], strict: bool = False) -> Summary:
    """Counts per status and the exit-code verdict. --strict promotes unwaived warnings only: a waiver
    given with --ignore stays a waiver."""
    return summarize_statuses([o.status.value for o in outcomes], strict, waived_warnings(outcomes))


def waived_warnings(rows: Iterable[Any]) -> int:
    """How many rows (outcomes or report rows) are warnings only because --ignore waived them."""
    return sum(1 for row in rows if getattr(row.status, "value", row.status) == "warn" and row.waived)


def summarize_statuses(statuses: Sequence[str], strict: bool = False, waived: int = 0) -> Summary:
    """Counts per status and the exit-code verdict: no FAIL or ERROR (and, under --strict, no WARN but the
    `waived` ones)."""
    counts = {status.value: 0 for status in Status}
    for status in statuses:
        counts[status] += 1
    bad = counts["fail"] + counts["error"] + (counts["warn"] - waived if strict else 0)
    return Summary(counts, bad == 0, len(statuses))

"""The runner: selection, waivers, and every way a check can go wrong becoming an ERROR result."""

from __future__ import annotations

import threading
import time

from glm5check.engine.check import Status, check, dependent, failed, passed
from glm5check.engine.runner import RESULTS_READ_CAP, RESULTS_SHOWN_CAP, Waiver, run_checks, select_checks, summarize
from glm5check.errors import NotRecorded, ProbeFailed, SeeCheck
from glm5check.facts.context import Context
from glm5check.host.replay import ReplayHost
from glm5check.host.snapshot import SnapshotData
from glm5check.knowledge.profiles import load_builtin

EXPLAIN = "Why: test. Fix: test."


@check("demo.ok", title="passes", explain=EXPLAIN)
def ok_check(ctx: Context):
    return passed("fine")


@check("demo.many", title="items", explain=EXPLAIN)
def many_check(ctx: Context):
    yield passed("a", item="a")
    yield failed("b", item="b", remediation="fix b")


@check("demo.raises", title="raises", explain=EXPLAIN)
def raising_check(ctx: Context):
    raise KeyError("boom")


@check("demo.probe", title="probe fails", explain=EXPLAIN)
def probe_check(ctx: Context):
    raise ProbeFailed("npu-smi: command not found")


@check("demo.empty", title="returns nothing", explain=EXPLAIN)
def empty_check(ctx: Context):
    return []


@check("demo.multi", title="multi only", explain=EXPLAIN, nodes="multi", roles=("headless",))
def multi_check(ctx: Context):
    return passed("multi")


RELEASE = threading.Event()


@check("demo.hangs", title="hangs", explain=EXPLAIN)
def hanging_check(ctx: Context):
    RELEASE.wait(30)
    return passed("late")


def _ctx(name: str = "a2-single") -> Context:
    return Context(load_builtin(name), ReplayHost(SnapshotData(), timeout_s=1))


ALL = [ok_check, many_check, raising_check, probe_check, empty_check, multi_check]


def test_selection_by_topology_role_and_globs() -> None:
    ids = [c.id for c in select_checks(ALL, multi_node=False, role="single")]
    assert "demo.multi" not in ids and "demo.ok" in ids
    assert [c.id for c in select_checks(ALL, True, "headless", include=["demo.m*"])] == ["demo.many", "demo.multi"]
    assert "demo.multi" not in [c.id for c in select_checks(ALL, True, "primary")]
    kept = [c.id for c in select_checks(ALL, False, "single", exclude=["demo.*a*"])]
    assert kept == ["demo.ok", "demo.probe", "demo.empty"]


def test_exceptions_become_error_results_with_the_reason() -> None:
    rows = {r.label: r for r in run_checks(_ctx(), [ok_check, many_check, raising_check, probe_check, empty_check])}
    assert rows["demo.ok"].status is Status.PASS
    assert rows["demo.many[b]"].status is Status.FAIL and rows["demo.many[b]"].remediation == "fix b"
    assert rows["demo.raises"].status is Status.ERROR
    assert rows["demo.raises"].message.startswith("internal error in demo.raises: KeyError: 'boom' (at test_runner.py:")
    assert rows["demo.probe"].status is Status.ERROR and rows["demo.probe"].message == "npu-smi: command not found"
    assert rows["demo.empty"].status is Status.ERROR and "no result" in rows["demo.empty"].message
    assert all(r.duration_ms >= 0 for r in rows.values())


def test_a_hung_check_becomes_an_error_at_its_deadline() -> None:
    RELEASE.clear()
    started = time.monotonic()
    rows = run_checks(_ctx(), [hanging_check, ok_check], check_timeout_s=0.5)
    elapsed = time.monotonic() - started
    RELEASE.set()
    assert elapsed < 5
    by_id = {r.id: r for r in rows}
    assert by_id["demo.hangs"].status is Status.ERROR and "did not finish within 0.5 s" in by_id["demo.hangs"].message
    assert by_id["demo.ok"].status is Status.PASS


def test_waivers_turn_failures_into_warnings_with_the_reason() -> None:
    waivers = [Waiver.parse("demo.many[b]:known, ticket 42"), Waiver.parse("demo.raises")]
    rows = {r.label: r for r in run_checks(_ctx(), [many_check, raising_check, ok_check], waivers)}
    assert rows["demo.many[b]"].status is Status.WARN and rows["demo.many[b]"].waived == "known, ticket 42"
    assert rows["demo.raises"].status is Status.WARN and rows["demo.raises"].waived == "waived with --ignore"
    assert rows["demo.ok"].waived is None
    summary = summarize(list(rows.values()))
    assert summary.ok and summary.counts["warn"] == 2
    assert summarize(list(rows.values()), strict=True).ok  # a waiver stays a waiver under --strict


@check("demo.flood", title="floods", explain=EXPLAIN)
def flooding_check(ctx: Context):
    for n in range(5000):
        yield passed(f"fine {n}", item=str(n))
    yield failed("the last one", item="last", remediation="fix it")


@check("demo.endless", title="never ends", explain=EXPLAIN)
def endless_check(ctx: Context):
    n = 0
    while True:
        n += 1
        yield passed(f"fine {n}", item=str(n))


def test_a_flood_of_results_is_capped_with_its_worst_status_summed_up() -> None:
    rows = run_checks(_ctx(), [flooding_check])
    assert len(rows) == RESULTS_SHOWN_CAP == 1000
    assert [r.status for r in rows[:-1]] == [Status.PASS] * 999
    assert rows[-1].status is Status.FAIL
    assert (
        rows[-1].message == "demo.flood: 4002 more results not shown (1 fail, 4001 pass); the first of them: fine 999"
    )


def test_an_endless_check_is_read_up_to_its_cap_and_ends() -> None:
    rows = run_checks(_ctx(), [endless_check], check_timeout_s=60)
    assert len(rows) == 1000 and rows[-1].status is Status.PASS
    assert rows[-1].message.startswith(f"demo.endless: more than {RESULTS_READ_CAP - 999} more results not shown")


# -- one cause, one row: a broken fact another check reports ------------------------------------------


def _folder_state(ctx: Context) -> str | None:
    """A fact's underlying state: None when the thing is missing (the owner check judges it)."""
    return None


def _folder(ctx: Context) -> str:
    """The fact dependents need: broken, and demo.owner reports why."""
    state = ctx.fact(_folder_state)
    if state is None:
        raise SeeCheck("demo.owner", "folder /w cannot be read (missing)")
    return state


@check("demo.owner", title="owns the folder", explain=EXPLAIN)
def owner_check(ctx: Context):
    return failed("folder /w: missing", remediation="mount /w") if ctx.fact(_folder_state) is None else passed("ok")


@check("demo.needs", title="needs the folder", explain=EXPLAIN)
def needing_check(ctx: Context):
    yield passed("judged before the fact was needed", item="early")
    yield passed(ctx.fact(_folder), item="late")


@check("demo.parts", title="one part needs the folder", explain=EXPLAIN)
def parts_check(ctx: Context):
    yield from dependent((passed(ctx.fact(_folder)) for _ in range(1)), item="folder part")
    yield passed("the other part still runs", item="other part")


def _unrecorded(ctx: Context) -> str:
    raise NotRecorded("the listing of /w")


@check("demo.gap", title="one part meets a replay gap", explain=EXPLAIN)
def gap_check(ctx: Context):
    yield from dependent((passed(ctx.fact(_unrecorded)) for _ in range(1)), item="gap part")
    yield passed("the other part still runs", item="other part")


@check("demo.owner.self", title="points at itself", explain=EXPLAIN)
def self_check(ctx: Context):
    raise SeeCheck("demo.owner.self", "its own fact is broken")


def test_a_broken_fact_makes_one_failure_and_skips_that_point_at_it() -> None:
    rows = {r.label: r for r in run_checks(_ctx(), [owner_check, needing_check, parts_check])}
    assert [r.label for r in rows.values() if r.status is Status.FAIL] == ["demo.owner"]
    assert rows["demo.needs[early]"].status is Status.PASS  # what was yielded before stays
    skip = rows["demo.needs"]
    assert skip.status is Status.SKIP and skip.see == "demo.owner"
    assert skip.message == "folder /w cannot be read (missing) — see demo.owner"
    assert rows["demo.parts[folder part]"].status is Status.SKIP
    assert rows["demo.parts[folder part]"].see == "demo.owner"
    assert rows["demo.parts[other part]"].status is Status.PASS


def test_a_part_whose_probe_fails_is_a_skip_with_the_reason_and_the_rest_runs() -> None:
    rows = {r.label: r for r in run_checks(_ctx(), [gap_check])}
    gap = rows["demo.gap[gap part]"]
    assert gap.status is Status.SKIP and gap.see is None
    assert gap.message == "cannot be judged: the listing of /w: not recorded in the snapshot"
    assert rows["demo.gap[other part]"].status is Status.PASS


def test_a_skip_whose_cause_did_not_run_is_an_error() -> None:
    (row,) = run_checks(_ctx(), [needing_check])[1:]
    assert row.status is Status.ERROR
    assert row.message.endswith("(demo.owner, which reports the cause, was not run: add --check demo.owner)")


def test_a_check_cannot_skip_pointing_at_itself() -> None:
    (row,) = run_checks(_ctx(), [self_check])
    assert row.status is Status.ERROR and "its own fact is broken" in row.message

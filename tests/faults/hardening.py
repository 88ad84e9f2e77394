"""Fault scenarios of an attacker or an unlucky operator (issue 12): hostile snapshots (crafted .tar.gz
archives and folders), weights indexes naming files outside the folder, outputs that fail half-way or
name an input, unbounded inputs, probes that leave processes behind or die after printing, reports of
the wrong shape, plugins that try to end the run. Each one ends within its bound with a clear result."""

from __future__ import annotations

import gzip
import io
import json
import os
import re
import shlex
import shutil
import signal
import tarfile
import time
from collections.abc import Callable
from pathlib import Path

from conftest import FIXTURES, REPO, write_executable

from faults import tools
from faults.model import OUTPUT, USAGE, Invocation, Scenario, run_args

DEMO = REPO / "glm5check" / "demo" / "a2-node0"
NPU_ARGS = run_args("a2-multi", ("npu.*",))
MIB = 1 << 20


# -- hostile snapshots: folders ------------------------------------------------------------------------------


def _demo_folder(tmp: Path) -> Path:
    target = tmp / "snap"
    shutil.copytree(DEMO, target)
    return target


def _edit_json(path: Path, change: Callable[[object], object]) -> None:
    path.write_text(json.dumps(change(json.loads(path.read_text(encoding="utf-8")))), encoding="utf-8")


def _npu_smi_entry(index: object) -> dict[str, object]:
    assert isinstance(index, list)
    return next(e for e in index if e["argv"][-1] == "info" and "npu-smi" in e["argv"][0])


def _point_outside(index: object) -> object:
    _npu_smi_entry(index)["stdout"] = "../" * 12 + "etc/hostname"
    return index


def folder_case(damage: Callable[[Path], object]) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        snap = _demo_folder(tmp)
        damage(snap)
        return Invocation([*NPU_ARGS, "--replay", str(snap)])

    return build


def _symlink_output_out(snap: Path) -> None:
    output = next((snap / "commands").glob("*npu-smi_info.out"))
    output.unlink()
    output.symlink_to("/etc/passwd")


def _symlink_folder_out(snap: Path) -> None:
    shutil.rmtree(snap / "files" / "etc")
    (snap / "files" / "etc").symlink_to("/etc")


def _bytes_outside(snap: Path) -> None:
    def change(index: object) -> object:
        assert isinstance(index, list)
        index[0]["data"] = "../../../../../../etc/hostname"
        return index

    _edit_json(snap / "bytes" / "index.json", change)


def _wrong_field_type(snap: Path) -> None:
    def change(index: object) -> object:
        _npu_smi_entry(index)["exit_code"] = "zero"
        return index

    _edit_json(snap / "commands" / "index.json", change)


def _options_a_list(snap: Path) -> None:
    _edit_json(snap / "snapshot.json", lambda meta: {**meta, "options": ["--node-rank", "0"]})  # type: ignore[dict-item]


def _many_entries(snap: Path) -> None:
    (snap / "commands" / "index.json").write_text("[" + ",".join(["{}"] * 100_001) + "]", encoding="utf-8")


# -- hostile snapshots: archives ------------------------------------------------------------------------------


def _add(archive: tarfile.TarFile, name: str, data: bytes = b"", **fields: object) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    for key, value in fields.items():
        setattr(info, key, value)
    archive.addfile(info, io.BytesIO(data) if data else None)


def _demo_members(archive: tarfile.TarFile) -> None:
    """The demo snapshot's files under snap/, except those a hostile member already stands for."""
    for path in sorted(DEMO.rglob("*")):
        name = "snap/" + path.relative_to(DEMO).as_posix()
        if path.is_file() and name not in archive.getnames():
            _add(archive, name, path.read_bytes())


def archive_case(hostile: Callable[[tarfile.TarFile], None], level: int = 6) -> Callable[[Path], Invocation]:
    """The demo snapshot as a .tar.gz with hostile members added in front of it."""

    def build(tmp: Path) -> Invocation:
        target = tmp / "node0.tar.gz"
        with tarfile.open(target, "w:gz", compresslevel=level) as archive:
            hostile(archive)
            _demo_members(archive)
        return Invocation([*NPU_ARGS, "--replay", str(target)])

    return build


def _index_outside_in_archive(archive: tarfile.TarFile) -> None:
    index = json.loads((DEMO / "commands" / "index.json").read_text(encoding="utf-8"))
    _add(archive, "snap/commands/index.json", json.dumps(_point_outside(index)).encode())


class _Zeros(io.RawIOBase):
    """count zero bytes, generated as they are read (the bomb is never held whole in the test either)."""

    def __init__(self, count: int) -> None:
        self.left = count

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: bytearray) -> int:  # type: ignore[override]
        size = min(len(buffer), self.left)
        buffer[:size] = bytes(size)
        self.left -= size
        return size


def _bomb(archive: tarfile.TarFile) -> None:
    """Nine members of 60 MiB of zeros (each under the 64 MiB part cap): 540 MiB expanded, ~0.5 MiB packed."""
    for number in range(9):
        info = tarfile.TarInfo(f"snap/bytes/pad{number}.bin")
        info.size = 60 * MIB
        archive.addfile(info, io.BufferedReader(_Zeros(info.size)))


def _member_of_two_gib(tmp: Path) -> Invocation:
    """A member whose header says 2 GiB, followed by nothing: refused from its header, never read."""
    info = tarfile.TarInfo("snap/bytes/huge.bin")
    info.size = 2 << 30
    target = tmp / "node0.tar.gz"
    target.write_bytes(gzip.compress(info.tobuf(tarfile.PAX_FORMAT) + bytes(1024)))
    return Invocation([*NPU_ARGS, "--replay", str(target)])


SNAPSHOT_SCENARIOS = [
    Scenario(
        "replay-archive-dotdot-member",
        archive_case(lambda a: _add(a, "snap/../../escaped.json", b"{}")),
        USAGE,
        r"member .*climbs out",
    ),
    Scenario(
        "replay-archive-absolute-member",
        archive_case(lambda a: _add(a, "/tmp/glm5check-absolute.json", b"{}")),
        USAGE,
        r"absolute path",
    ),
    Scenario(
        "replay-archive-symlink-out",
        archive_case(lambda a: _add(a, "snap/files/etc/hccn.conf", type=tarfile.SYMTYPE, linkname="/etc/passwd")),
        USAGE,
        r"symbolic link",
    ),
    Scenario(
        "replay-archive-hardlink-out",
        archive_case(lambda a: _add(a, "snap/system/env.json", type=tarfile.LNKTYPE, linkname="../../etc/passwd")),
        USAGE,
        r"hard link",
    ),
    Scenario(
        "replay-archive-device-member",
        archive_case(lambda a: _add(a, "snap/system/mem", type=tarfile.CHRTYPE, devmajor=1, devminor=1)),
        USAGE,
        r"character device",
    ),
    Scenario(
        "replay-archive-fifo-member",
        archive_case(lambda a: _add(a, "snap/system/pipe", type=tarfile.FIFOTYPE)),
        USAGE,
        r"FIFO",
    ),
    Scenario(
        "replay-archive-bomb",
        archive_case(_bomb, level=1),
        USAGE,
        r"expands to more than 512 MiB",
        bound_s=90,
    ),
    Scenario("replay-archive-member-of-2-gib", _member_of_two_gib, USAGE, r"larger than 64 MiB"),
    Scenario("replay-archive-index-points-outside", archive_case(_index_outside_in_archive), USAGE, r"climbs out"),
    Scenario(
        "replay-folder-index-points-outside",
        folder_case(lambda snap: _edit_json(snap / "commands" / "index.json", _point_outside)),
        USAGE,
        r"outside the snapshot.*climbs out",
    ),
    Scenario("replay-folder-symlink-out", folder_case(_symlink_output_out), USAGE, r"leads out of its folder"),
    Scenario("replay-folder-symlinked-folder-out", folder_case(_symlink_folder_out), USAGE, r"leads out of its folder"),
    Scenario("replay-folder-bytes-index-outside", folder_case(_bytes_outside), USAGE, r"climbs out"),
    Scenario(
        "replay-folder-index-not-a-list",
        folder_case(lambda snap: (snap / "commands" / "index.json").write_text('{"argv": 1}')),
        USAGE,
        r"commands/index\.json is not a JSON list",
    ),
    Scenario("replay-folder-field-wrong-type", folder_case(_wrong_field_type), USAGE, r"CommandResult\.exit_code"),
    Scenario("replay-folder-options-wrong-type", folder_case(_options_a_list), USAGE, r"options is not an object"),
    Scenario("replay-folder-100001-entries", folder_case(_many_entries), USAGE, r"more than 100000 entries"),
]


# -- weights indexes naming files outside the folder ---------------------------------------------------------


def _weights_folder(tmp: Path, outside: str) -> Path:
    import sys

    sys.path.insert(0, str(FIXTURES))
    from make_checkpoint import write_sparse_safetensors

    from glm5check.knowledge import glm5

    folder = tmp / "GLM-5"
    folder.mkdir()
    shutil.copy(FIXTURES / "glm5-model" / "config.GLM-5.reconstructed.json", folder / "config.json")
    write_sparse_safetensors(folder / "model-00001-of-00001.safetensors", [glm5.Tensor("a.weight", "BF16", (4, 4))])
    weight_map = {"a.weight": "model-00001-of-00001.safetensors", "stolen.weight": outside}
    (folder / "model.safetensors.index.json").write_text(json.dumps({"metadata": {}, "weight_map": weight_map}))
    return folder


def weights_index_case(outside: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        folder = _weights_folder(tmp, outside)
        return Invocation(run_args("a2-single", ("weights.shards",), "--model-dir", str(folder)))

    return build


def _unchanged(path: Path) -> Callable[[Path], None]:
    """verify: the file at tmp/path still has the content and mtime it was given by the build."""

    def verify(tmp: Path) -> None:
        target = tmp / path
        assert target.read_text() == "victim\n", target.read_text()
        assert target.stat().st_mtime_ns == 10**18, "the file was rewritten"
        leftovers = [p.name for p in tmp.rglob("*") if ".glm5check-" in p.name]
        assert not leftovers, leftovers

    return verify


def _both(*checks: Callable[[Path], None]) -> Callable[[Path], None]:
    def verify(tmp: Path) -> None:
        for check in checks:
            check(tmp)

    return verify


def _gone(pid_file: str) -> Callable[[Path], None]:
    def verify(tmp: Path) -> None:
        pid = int((tmp / pid_file).read_text())
        deadline = time.monotonic() + 5  # SIGKILL is delivered, not awaited
        while time.monotonic() < deadline:
            try:
                if Path(f"/proc/{pid}/stat").read_text().split()[2] == "Z":
                    return
            except FileNotFoundError:
                return
            time.sleep(0.05)
        raise AssertionError(f"process {pid} outlived the probe")

    return verify


def _victim(tmp: Path, relative: str) -> Path:
    victim = tmp / relative
    victim.parent.mkdir(parents=True, exist_ok=True)
    victim.write_text("victim\n")
    os.utime(victim, ns=(10**18, 10**18))
    return victim


def snapshot_model_dir_dotdot(tmp: Path) -> Invocation:
    """snapshot --model-dir ../../…/victim: the copies of its files stay inside the snapshot."""
    _victim(tmp, "victim/config.json")
    (tmp / "out").mkdir()
    model_dir = "../" * 40 + str(tmp / "victim").lstrip("/")
    args = ["snapshot", "--profile", "a2-single", "--check", "weights.path", "--model-dir", model_dir]
    return Invocation([*args, "--timeout", "2", "-o", str(tmp / "out" / "snap")])


WEIGHTS_SCENARIOS = [
    Scenario(
        "weights-index-names-dotdot",
        weights_index_case("../" * 10 + "etc/hostname"),
        "weights.shards",
        r"names a file outside the weights folder: .*climbs out",
    ),
    Scenario(
        "weights-index-names-absolute",
        weights_index_case("/etc/hostname"),
        "weights.shards",
        r"outside the weights folder: /etc/hostname is an absolute path",
    ),
    Scenario(
        "snapshot-model-dir-with-dotdot",
        snapshot_model_dir_dotdot,
        OUTPUT,
        r"snapshot written to",
        after=_unchanged(Path("victim/config.json")),
    ),
]


# -- outputs: atomic, never one of the inputs ---------------------------------------------------------------


def _previous(tmp: Path, name: str) -> Path:
    from glm5check.host.snapshot import SnapshotWriter

    target = tmp / name
    if name.endswith((".tar.gz", "snap")):
        SnapshotWriter("a2-single", hostname="previous").write(target)
    else:
        target.write_text("previous\n")
    return target


def _previous_kept(name: str) -> Callable[[Path], None]:
    def verify(tmp: Path) -> None:
        from glm5check.host.snapshot import read_snapshot

        target = tmp / name
        if name.endswith((".tar.gz", "snap")):
            assert read_snapshot(target).meta["hostname"] == "previous"
        else:
            assert target.read_text() == "previous\n"
        leftovers = [p.name for p in tmp.iterdir() if ".glm5check-" in p.name]
        assert not leftovers, leftovers

    return verify


def limited_output(name: str, record: bool, limit: int) -> Callable[[Path], Invocation]:
    """The run's output hits a file size limit (RLIMIT_FSIZE) half-way."""

    def build(tmp: Path) -> Invocation:
        target = _previous(tmp, name)
        if record:
            args = ["snapshot", "--profile", "a2-single", "--check", "host.shm", "--timeout", "2", "-o", str(target)]
        else:
            args = ["--profile", "a2-multi", "--replay", "demo", "--format", "json", "-o", str(target)]
        return Invocation(args, fsize_bytes=limit)

    return build


def interrupted(name: str, signum: int, record: bool) -> Callable[[Path], Invocation]:
    """A run stopped by the operator while a probe hangs: no output appears, the previous one stays."""

    def build(tmp: Path) -> Invocation:
        target = _previous(tmp, name)
        tools.shell_tool(tmp / "bin", "npu-smi", f"echo $$ > hung.pid\n{tools.HUNG}")
        verb = ["snapshot"] if record else []
        args = [*verb, "--profile", "a2-single", "--check", "npu.*", "--timeout", "20", "-o", str(target)]
        return Invocation(args, [tmp / "bin"], signal_when=(signum, "hung.pid"))

    return build


def output_is_input(tmp: Path, kind: str) -> Invocation:
    script = tmp / "node0.sh"
    script.write_text("vllm serve /models/GLM-5 --tensor-parallel-size 8\n")
    profile = tmp / "site.toml"
    profile.write_text('extends = "a2-single"\nname = "site"\n')
    archive = _previous(tmp, "node0.tar.gz")
    folder = _previous(tmp, "snap")
    return Invocation(
        {
            "serve-script": ["--profile", "a2-single", "--serve-script", str(script), "-o", str(script)],
            "profile": ["--profile-file", str(profile), "-o", str(profile)],
            "replayed-archive": ["--replay", str(archive), "-o", str(archive)],
            "inside-replayed-folder": ["--replay", str(folder), "-o", str(folder / "report.json")],
            "compared-report": ["compare", str(script), str(profile), "-o", str(profile)],
        }[kind]
    )


def snapshot_over_a_folder(tmp: Path) -> Invocation:
    _victim(tmp, "data/notes.txt")
    return Invocation(["snapshot", "--profile", "a2-single", "--check", "host.shm", "-o", str(tmp / "data")])


OUTPUT_SCENARIOS = [
    *(
        Scenario(
            name,
            limited_output(target, record, limit),
            USAGE,
            rf"cannot write .*{re.escape(target)}: file too large",
            bound_s=60,
            after=_previous_kept(target),
        )
        for name, target, record, limit in (
            ("output-file-size-limit", "report.json", False, 16 * 1024),
            ("snapshot-archive-file-size-limit", "node0.tar.gz", True, 512),
            ("snapshot-folder-file-size-limit", "snap", True, 512),
        )
    ),
    *(
        Scenario(f"output-is-{kind}", lambda tmp, kind=kind: output_is_input(tmp, kind), USAGE, pattern)
        for kind, pattern in (
            ("serve-script", r"is the serve script"),
            ("profile", r"is the profile file"),
            ("replayed-archive", r"is the replayed snapshot"),
            ("inside-replayed-folder", r"is inside the replayed snapshot"),
            ("compared-report", r"is the compared report"),
        )
    ),
    Scenario(
        "snapshot-over-a-folder-that-is-no-snapshot",
        snapshot_over_a_folder,
        USAGE,
        r"exists and is not a glm5check snapshot folder",
        after=_unchanged(Path("data/notes.txt")),
    ),
    *(
        Scenario(
            name,
            interrupted(target, signum, record),
            OUTPUT,
            f"glm5check: {said}",
            codes=(code,),
            after=_both(_previous_kept(target), _gone("hung.pid")),
        )
        for name, target, signum, record, said, code in (
            ("snapshot-sigint", "node0.tar.gz", signal.SIGINT, True, "interrupted", 130),
            ("snapshot-sigterm", "snap", signal.SIGTERM, True, "terminated", 143),
            ("run-sigint-keeps-the-previous-report", "report.json", signal.SIGINT, False, "interrupted", 130),
        )
    ),
]


# -- unbounded inputs -------------------------------------------------------------------------------------


def _report(hostname: str, rank: int, dp: int, **extra: object) -> dict[str, object]:
    report: dict[str, object] = {
        "schema": "glm5check.report/v1",
        "node": {"hostname": hostname, "rank": rank, "role": "primary" if rank == 0 else "headless"},
        "profile": {
            "name": "a2-multi",
            "hardware": {"nodes": 2},
            "serve": {"data_parallel_size": dp, "data_parallel_size_local": 1, "data_parallel_start_rank": rank},
        },
        "facts": {"env": {"HCCL_BUFFSIZE": "200"}},
    }
    report.update(extra)
    return report


def compare_case(reports: Callable[[], list[dict[str, object]]], *extra: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        paths = []
        for number, report in enumerate(reports()):
            path = tmp / f"node{number:04d}.json"
            path.write_text(json.dumps(report))
            paths.append(str(path))
        return Invocation(["compare", *paths, *extra])

    return build


def _implausible_dp() -> list[dict[str, object]]:
    return [_report("a", 0, 10**12), _report("b", 1, 10**12)]


def _thousand() -> list[dict[str, object]]:
    return [_report(f"node-{n:04d}", n, 1000) for n in range(1000)]


def _node_a_list() -> list[dict[str, object]]:
    return [_report("a", 0, 2), {**_report("b", 1, 2), "node": ["b", 1]}]


def _env_a_number() -> list[dict[str, object]]:
    return [_report("a", 0, 2), _report("b", 1, 2, facts={"env": {"HCCL_BUFFSIZE": 200}})]


def malformed_reports(name: str, reports: Callable[[], list[dict[str, object]]], pattern: str) -> Scenario:
    """compare of reports with a malformed field: read as unknown, named in a 'report' row, exit 1."""
    return Scenario(name, compare_case(reports, "--format", "json"), OUTPUT, pattern, codes=(1,), bound_s=15)


def serve_script_case(text: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        (tmp / "serve.sh").write_text(text)
        return Invocation(run_args("a2-single", ("serve.args",), "--serve-script", str(tmp / "serve.sh")))

    return build


CONTINUATIONS = "vllm serve /models/GLM-5 \\\n" + "".join(f"  --seed {n} \\\n" for n in range(30_000)) + "  --port 1\n"
DOUBLING = "A=x\n" + 'A="$A$A"\n' * 30 + "vllm serve /models/GLM-5 --served-model-name $A\n"
ANY = ("pass", "warn", "fail", "error", "skip")

UNBOUNDED_SCENARIOS = [
    malformed_reports(
        "compare-implausible-dp-size",
        _implausible_dp,
        r"data_parallel_size is 1000000000000; a deployment has 0\.\.1024 data-parallel ranks; that field is read",
    ),
    Scenario("compare-1000-reports", compare_case(_thousand), OUTPUT, r"1000 nodes agree", bound_s=60),
    Scenario(
        "serve-script-30000-continuation-lines",
        serve_script_case(CONTINUATIONS),
        "serve.args",
        r"more results not shown",
        statuses=("warn",),
        bound_s=60,
    ),
    Scenario(
        "serve-script-variable-doubled-30-times",
        serve_script_case(DOUBLING),
        "serve.args",
        r"holds a word longer than 64 KiB; it is not read",
        statuses=ANY,
        bound_s=60,
    ),
]


# -- probes that outlive their pipe or die after printing -------------------------------------------------


def npu_smi_leaving(body: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        sample = shlex.quote(str(tools.NPU_SMI_SAMPLE))
        write_executable(tmp / "bin", "npu-smi", f"#!/bin/sh\ncat {sample}\n{body}\n")
        return Invocation(run_args("a2-single", ("npu.smi",)), [tmp / "bin"])

    return build


PROCESS_SCENARIOS = [
    Scenario(
        "npu-smi-setsid-grandchild-holds-stdout",
        npu_smi_leaving("setsid sleep 60 &\necho $! > grandchild.pid"),
        "npu.smi",
        r".",
        statuses=("pass",),
        bound_s=8,
        after=_gone("grandchild.pid"),
    ),
    Scenario(
        "npu-smi-grandchild-writes-forever",
        npu_smi_leaving("setsid sh -c 'while :; do echo more; done' &\necho $! > writer.pid"),
        "npu.smi",
        r".",
        statuses=ANY,
        bound_s=8,
        after=_gone("writer.pid"),
    ),
    Scenario(
        "npu-smi-hangs-and-so-does-its-grandchild",
        npu_smi_leaving("setsid sleep 60 &\necho $! > grandchild.pid\nsleep 60"),
        "npu.smi",
        r"did not answer within 2 s and was killed",
        bound_s=8,
        after=_gone("grandchild.pid"),
    ),
    Scenario(
        "npu-smi-killed-after-printing",
        npu_smi_leaving("kill -9 $$"),
        "npu.smi",
        r"was killed by signal 9 \(SIGKILL\)",
        statuses=("fail",),
    ),
]


# -- reports and folders of the wrong shape -----------------------------------------------------------------


def weights_verify_case(kind: str) -> Callable[[Path], Invocation]:
    def build(tmp: Path) -> Invocation:
        folder = tmp / "weights"
        folder.mkdir()
        if kind != "empty":
            os.mkfifo(folder / "model-00001-of-00001.bin")
        return Invocation(["weights", "verify", str(folder), *(["--deep"] if kind == "deep-fifo" else [])])

    return build


SHAPE_SCENARIOS = [
    malformed_reports("compare-node-is-a-list", _node_a_list, r"node is a list, not an object; that field is read"),
    malformed_reports(
        "compare-env-value-is-a-number", _env_a_number, r"facts\.env\.HCCL_BUFFSIZE is a whole number, not a string"
    ),
    Scenario("weights-verify-empty-folder", weights_verify_case("empty"), OUTPUT, r"nothing to verify", codes=(1,)),
    Scenario("weights-verify-only-a-fifo", weights_verify_case("fifo"), OUTPUT, r"nothing to verify", codes=(1,)),
    Scenario("weights-verify-deep-only-a-fifo", weights_verify_case("deep-fifo"), OUTPUT, r"FIFO", codes=(1,)),
]


# -- plugins that try to end the run ------------------------------------------------------------------------

PLUGIN_CHECK = """
from glm5check.engine.check import check


@check("site.rogue", title="A rogue check", explain="Why: x.\\n\\nWhat: y.\\n\\nFix: z.\\n")
def rogue(ctx):
    {body}
"""


def plugin_case(at_import: str = "", in_check: str = "return None") -> Callable[[Path], Invocation]:
    """A plugin distribution on PYTHONPATH (a .dist-info with its entry point, found like an installed one)."""

    def build(tmp: Path) -> Invocation:
        site = tmp / "site"
        info = site / "rogue_plugin-1.0.dist-info"
        info.mkdir(parents=True)
        (info / "METADATA").write_text("Metadata-Version: 2.1\nName: rogue-plugin\nVersion: 1.0\n")
        (info / "entry_points.txt").write_text("[glm5check.checks]\nrogue = rogue_plugin\n")
        (site / "rogue_plugin.py").write_text(at_import + "\n" + PLUGIN_CHECK.format(body=in_check))
        # A module that fails to load defines no check: --check site.* would select nothing (exit 2).
        args = run_args("a2-single", ("host.shm", "plugin.*") if at_import else ("host.shm", "site.*"))
        return Invocation(args, env={"PYTHONPATH": str(site)})

    return build


PLUGIN_SCENARIOS = [
    Scenario(
        "plugin-sys-exit-at-import",
        plugin_case(at_import="import sys\nsys.exit(3)"),
        "plugin.rogue",
        r"rogue_plugin \(from rogue-plugin\) failed to load: SystemExit: 3",
        statuses=("error",),
    ),
    Scenario(
        "plugin-keyboardinterrupt-at-import",
        plugin_case(at_import="raise KeyboardInterrupt"),
        "plugin.rogue",
        r"rogue_plugin \(from rogue-plugin\) failed to load: KeyboardInterrupt",
        statuses=("error",),
    ),
    Scenario(
        "plugin-check-raises-systemexit",
        plugin_case(in_check="raise SystemExit(0)"),
        "site.rogue",
        r"in site\.rogue: SystemExit: 0 \(at rogue_plugin\.py:8\)",
        statuses=("error",),
    ),
    Scenario(
        "plugin-check-raises-keyboardinterrupt",
        plugin_case(in_check="raise KeyboardInterrupt"),
        "site.rogue",
        r"in site\.rogue: KeyboardInterrupt:  \(at rogue_plugin\.py:8\)",
        statuses=("error",),
    ),
]


# -- writes the tool promised not to make -------------------------------------------------------------------


def editable_checkout(tmp: Path) -> Invocation:
    """vllm installed editable from a real git checkout whose tracked file was touched: `git status` would
    refresh (rewrite) .git/index unless told not to."""
    source = tools.checkout_due_for_refresh(tmp / "src" / "vllm")
    os.utime(source / ".git" / "index", ns=(10**18, 10**18))
    python = tools.python_printing_inventory(tmp / "bin", source)
    return Invocation(run_args("a2-single", ("packages.vllm",), "--python", str(python)))


def _index_untouched(tmp: Path) -> None:
    index = tmp / "src" / "vllm" / ".git" / "index"
    assert index.stat().st_mtime_ns == 10**18, "git status rewrote .git/index"


WRITE_SCENARIOS = [
    Scenario(
        "git-status-leaves-the-index-alone",
        editable_checkout,
        "packages.vllm",
        r".",
        statuses=ANY,
        after=_index_untouched,
    ),
]


HARDENING_SCENARIOS = [
    *SNAPSHOT_SCENARIOS,
    *WEIGHTS_SCENARIOS,
    *OUTPUT_SCENARIOS,
    *UNBOUNDED_SCENARIOS,
    *PROCESS_SCENARIOS,
    *SHAPE_SCENARIOS,
    *PLUGIN_SCENARIOS,
    *WRITE_SCENARIOS,
]

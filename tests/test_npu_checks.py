"""npu.* and ascend.devices end to end: the whole command in this process (conftest.run_in_process) with fake
`npu-smi` / `hccn_tool` executables on PATH that print real captured outputs (chosen by their arguments), and
replayed snapshots for what a test cannot create on this machine (/dev/davinci*, /etc/hccn.conf)."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, assert_no_traceback, clean_env, run_in_process, write_executable
from npu_fakes import A2_IDLE, HCCN, fake_tool, hccn_answers

from glm5check.host.snapshot import SnapshotWriter

TABLES = FIXTURES / "npu-smi-info"
A3_BUSY = TABLES / "openyuanrong-fixture-A3-16chip-24.1.rc3.3-pt_main_thread.txt"
B4_32GB = TABLES / "blog-atlas800IA2-8x910B4-25.0.rc1.1-fresh-install.txt"
WARNING_910A = TABLES / "modelarts-1x910A-Warning-23.0.rc3.txt"
HEALTH_ALARM = FIXTURES / "npu-smi-info-t-other" / "mindcluster-fixture-t-health-Alarm-tabs.txt"
DCMI_8005 = FIXTURES / "npu-smi-info-errors" / "vllm-ascend-issue2698-dcmi-init-failed-8005-in-container.txt"
NOT_FOUND = FIXTURES / "npu-smi-info-errors" / "mindie-docker-guide-command-not-found.txt"


def run_json(
    *args: str, bin_dir: Path | None = None, env: dict[str, str] | None = None
) -> tuple[int, list[dict[str, Any]], dict[str, Any]]:
    result = run_in_process(*args, "--format", "json", env=clean_env(env, path_prepend=[bin_dir] if bin_dir else ()))
    assert_no_traceback(result)
    report = json.loads(result.stdout)
    return result.returncode, report["results"], report["facts"]


def results_of(results: list[dict[str, Any]], check_id: str) -> list[dict[str, Any]]:
    return [r for r in results if r["id"] == check_id]


def statuses(results: list[dict[str, Any]], check_id: str) -> list[str]:
    return [r["status"] for r in results_of(results, check_id)]


# -- npu-smi table checks ---------------------------------------------------------------------------------


def test_a3_table_passes_count_on_a3_single(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A3_BUSY.read_text()})
    _, results, facts = run_json("--profile", "a3-single", "--check", "npu.*", bin_dir=fake_bin)
    assert statuses(results, "npu.smi") == ["pass"]
    (count,) = results_of(results, "npu.count")
    assert count["status"] == "pass" and "16 chips visible" in count["message"]
    assert len(facts["npus"]) == 16
    assert facts["npus"][15] == {
        "npu": 7,
        "chip": 1,
        "name": "Ascend910",
        "health": "OK",
        "hbm_used_mb": 52358,
        "hbm_total_mb": 65536,
        "bus_id": "0000:83:00.0",
    }
    assert facts["npu_processes"][0] == {
        "npu": 4,
        "chip": 0,
        "pid": 957687,
        "name": "pt_main_thread",
        "memory_mb": 49207,
    }


def test_a2_table_fails_count_for_a3_profile(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    code, results, _ = run_json("--profile", "a3-single", "--check", "npu.count", bin_dir=fake_bin)
    (fail,) = [r for r in results_of(results, "npu.count") if r["status"] == "fail"]
    assert "8 < 16" in fail["message"] and fail["expected"] == ">= 16"
    assert code == 1
    warn = [r for r in results_of(results, "npu.count") if r["status"] == "warn"]
    assert warn and "910B1" in warn[0]["message"]  # not the A3's chips


def test_busy_chips_fail_hbm_and_name_their_processes(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A3_BUSY.read_text()})
    _, results, _ = run_json(
        "--profile", "a3-single", "--check", "npu.hbm", "--check", "npu.processes", bin_dir=fake_bin
    )
    hbm = results_of(results, "npu.hbm")
    failing = {r["item"]: r for r in hbm if r["status"] == "fail"}
    assert sorted(failing) == sorted(f"NPU {n} chip {c}" for n in range(4, 8) for c in (0, 1))
    assert "pid 957687 pt_main_thread" in failing["NPU 4 chip 0"]["message"]
    assert "52553 of 65536 MB in use" in failing["NPU 4 chip 0"]["message"]
    message = failing["NPU 4 chip 0"]["message"]
    assert "47945 MB more than an idle chip's 4608 MB" in message
    assert "vllm-ascend takes it out of the KV cache" in message and "60.96 GiB usable" in message
    assert "vLLM: No available memory for the cache blocks" in message
    assert "kill 957687" in failing["NPU 4 chip 0"]["remediation"]
    processes = [r for r in results_of(results, "npu.processes") if r["status"] == "fail"]
    assert len(processes) == 8 and "pid 958011" in processes[-1]["observed"]


def _a2_table_with_npu3_using(used_mb: int) -> str:
    """The real idle A2 table with NPU 3's HBM-Usage raised (the occupancy of vllm-ascend issue #3657)."""
    lines = A2_IDLE.read_text().splitlines(keepends=True)
    rows = [i for i, line in enumerate(lines) if "0000:" in line]
    lines[rows[3]] = lines[rows[3]].replace("3367 / 65536", f"{used_mb}/ 65536")
    return "".join(lines)


@pytest.mark.parametrize(("used_mb", "status"), [(12000, "warn"), (27547, "fail")])
def test_hbm_held_by_another_process_is_judged_on_memory_fits_budget(fake_bin: Path, used_mb: int, status: str) -> None:
    """vllm-ascend takes HBM another process holds out of the KV cache: 7.2 GiB leaves room for the
    a2-multi plan's 131072-token sequences (a smaller cache: WARN), 22.4 GiB does not (FAIL)."""
    fake_tool(fake_bin, "npu-smi", {"info": _a2_table_with_npu3_using(used_mb)})
    _, results, facts = run_json(
        "--profile", "a2-multi", "--node-rank", "0", "--check", "npu.hbm", "--check", "memory.fit", bin_dir=fake_bin
    )
    (row,) = [r for r in results_of(results, "npu.hbm") if r["item"] == "NPU 3"]
    assert row["status"] == status, row
    assert f"{used_mb - 4608} MB more than an idle chip's 4608 MB" in row["message"]
    assert "0.95 × 60.96 GiB usable: npu-smi's 65536 MB − 3113 MB the driver holds" in row["message"]
    (fit,) = results_of(results, "memory.fit")
    assert "0.95 × 60.96 GiB usable: npu-smi's 65536 MB − 3113 MB the driver holds" in fit["message"]
    idle_kv = facts["memory_fit"]["kv_budget_bytes"]
    assert f"{idle_kv / (1 << 30):.1f} GiB" in row["message"]
    if status == "fail":
        assert "To serve at least one request with the models's max seq len (131072)" in row["message"]


def test_hbm_in_use_without_a_process_is_held_outside_the_container(fake_bin: Path) -> None:
    # vllm-ascend issue #1048: NPU 4 at 31859/32768 MB with no process table at all.
    fake_tool(fake_bin, "npu-smi", {"info": (TABLES / "vllm-ascend-issue1048-8x910B4-24.1.rc3.txt").read_text()})
    profile = fake_bin / "b4.toml"
    profile.write_text('extends = "a2-single"\nname = "b4"\n[hardware]\nhbm_mb_per_chip = 32768\n')
    _, results, _ = run_json("--profile-file", str(profile), "--check", "npu.hbm", bin_dir=fake_bin)
    (fail,) = [r for r in results_of(results, "npu.hbm") if r["status"] == "fail"]
    assert fail["item"] == "NPU 4" and "outside this container" in fail["message"]


def test_32gb_910b4_fails_hbm_for_the_64gb_class(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": B4_32GB.read_text()})
    _, results, _ = run_json("--profile", "a2-single", "--check", "npu.hbm", bin_dir=fake_bin)
    hbm = results_of(results, "npu.hbm")
    assert [r["status"] for r in hbm] == ["fail"] * 8
    assert "32768 MB of HBM < 65536 MB" in hbm[0]["message"] and hbm[0]["observed"] == "32768 MB"


def test_idle_64gb_node_passes_hbm_health_processes(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    code, results, _ = run_json("--profile", "a2-single", "--check", "npu.*", bin_dir=fake_bin)
    for check_id in ("npu.smi", "npu.count", "npu.health", "npu.hbm", "npu.processes"):
        assert statuses(results, check_id) == ["pass"], check_id
    assert code == 0


def test_visible_devices_narrow_the_chips(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    _, results, _ = run_json(
        "--profile",
        "a2-single",
        "--check",
        "npu.count",
        bin_dir=fake_bin,
        env={"ASCEND_RT_VISIBLE_DEVICES": "0,1,2,3,9"},
    )
    by_item = {r["item"]: r for r in results_of(results, "npu.count")}
    assert "4 < 8" in by_item[None]["message"]
    variable = by_item["ASCEND_RT_VISIBLE_DEVICES"]
    assert variable["status"] == "fail" and "do not exist: 9" in variable["message"]


def test_warning_chip_fails_health_with_its_error_codes(fake_bin: Path) -> None:
    fake_tool(
        fake_bin,
        "npu-smi",
        {"info": WARNING_910A.read_text(), "info -t health -i 1 -c 0": HEALTH_ALARM.read_text()},
    )
    _, results, _ = run_json("--profile", "a2-single", "--check", "npu.health", bin_dir=fake_bin)
    (fail,) = results_of(results, "npu.health")
    assert fail["status"] == "fail" and fail["item"] == "NPU 1" and fail["observed"] == "Warning"
    assert "A4025021 8C03A000 8C084E00" in fail["message"]


# -- npu-smi failures: one clear result, no traceback -----------------------------------------------------


def test_dcmi_8005_gives_one_clear_failure(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": (DCMI_8005.read_text(), 1)})
    code, results, facts = run_json("--profile", "a2-single", "--check", "npu.*", bin_dir=fake_bin)
    (smi,) = results_of(results, "npu.smi")
    assert smi["status"] == "fail" and "-8005" in smi["message"] and "not mapped into this container" in smi["message"]
    assert "--device=/dev/davinci_manager" in smi["remediation"]
    for check_id in ("npu.count", "npu.health", "npu.hbm", "npu.processes"):
        assert statuses(results, check_id) == ["skip"], check_id
    assert code == 1 and facts.get("npus") is None


def test_npu_smi_exiting_127_gives_one_clear_failure(fake_bin: Path) -> None:
    write_executable(fake_bin, "npu-smi", f"#!/bin/sh\ncat '{NOT_FOUND}' >&2\nexit 127\n")
    code, results, _ = run_json("--profile", "a2-single", "--check", "npu.*", bin_dir=fake_bin)
    (smi,) = results_of(results, "npu.smi")
    assert smi["status"] == "fail" and "status 127" in smi["message"] and "command not found" in smi["message"]
    assert [r["status"] for r in results if r["id"] != "npu.smi"] == ["skip"] * 4
    assert code == 1


@pytest.mark.slow
def test_hanging_npu_smi_is_killed_within_the_timeout(fake_bin: Path) -> None:
    write_executable(fake_bin, "npu-smi", "#!/bin/sh\nsleep 60\n")
    started = time.monotonic()
    code, results, _ = run_json("--profile", "a2-single", "--check", "npu.*", "--timeout", "2", bin_dir=fake_bin)
    assert time.monotonic() - started < 20
    (smi,) = results_of(results, "npu.smi")
    assert smi["status"] == "fail" and "did not answer within 2 s" in smi["message"]
    assert code == 1


def test_missing_npu_smi_fails_with_mount_hint(tmp_path: Path) -> None:
    empty = tmp_path / "empty"
    empty.mkdir()
    result = run_in_process(
        "--profile",
        "a2-single",
        "--check",
        "npu.smi",
        "--format",
        "json",
        env=clean_env({"PATH": str(empty)}),
    )
    assert_no_traceback(result)
    (smi,) = json.loads(result.stdout)["results"]
    assert smi["status"] == "fail" and "not found" in smi["message"]
    assert "/usr/local/bin/npu-smi" in smi["remediation"]


def test_unreadable_table_is_an_error_quoting_its_first_lines(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": "garbage line one\nsecond line\n"})
    _, results, _ = run_json("--profile", "a2-single", "--check", "npu.smi", bin_dir=fake_bin)
    (smi,) = results
    assert smi["status"] == "error" and "garbage line one / second line" in smi["message"]


PR950 = TABLES / "lane-health-fixture-3x950PR-25.7.rc1-alarm-with-process.txt"


def test_950_table_reads_health_into_health_not_the_chip_name(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": PR950.read_text()})
    _, results, facts = run_json("--profile", "a2-single", "--check", "npu.*", bin_dir=fake_bin)
    assert [(n["npu"], n["name"], n["health"]) for n in facts["npus"]] == [
        (0, "Ascend950PR", "Alarm"),
        (1, "Ascend950PR", "Alarm"),
        (2, "Ascend950PR", "OK"),
    ]
    assert statuses(results, "npu.smi") == ["pass"]
    health = " ".join(r["message"] for r in results_of(results, "npu.health"))
    assert "NPU 0 (Ascend950PR) is Alarm" in health and "is Ascend950PR" not in health


def test_an_unknown_table_header_is_an_error_naming_it_and_the_version(fake_bin: Path) -> None:
    changed = A2_IDLE.read_text().replace("| AICore(%)   Memory-Usage(MB)", "| AICore(%)   NPU-Power(W)    ")
    fake_tool(fake_bin, "npu-smi", {"info": changed})
    _, results, facts = run_json("--profile", "a2-single", "--check", "npu.*", bin_dir=fake_bin)
    (smi,) = results_of(results, "npu.smi")
    assert smi["status"] == "error", smi
    assert smi["message"].startswith("npu-smi 24.1.rc3 prints a table header glm5check does not know")
    assert "| Chip                      | Bus-Id        | AICore(%)   NPU-Power(W)" in smi["message"]
    assert set(statuses(results, "npu.count") + statuses(results, "npu.hbm")) == {"skip"}
    assert facts["npus"] == []


# -- npu.network against fake hccn_tool outputs (two-node profile) -----------------------------------------


def test_network_reports_per_device_link_health_and_tls(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers(down=3, unhealthy=5, tls_on=6))
    _, results, facts = run_json(
        "--profile", "a2-multi", "--node-rank", "1", "--check", "npu.network", bin_dir=fake_bin
    )
    by_item = {r["item"]: r for r in results_of(results, "npu.network")}
    assert by_item["device 3"]["status"] == "fail" and "link DOWN" in by_item["device 3"]["message"]
    assert by_item["device 5"]["status"] == "fail" and "net_health Init" in by_item["device 5"]["message"]
    assert by_item["tls"]["status"] == "fail" and "6:1" in by_item["tls"]["observed"]
    for device in (0, 1, 2, 4, 6, 7):
        assert by_item[f"device {device}"]["status"] == "pass", device
    assert "192.1.45.172/255.255.0.0" in by_item["device 0"]["message"]
    assert facts["npu_device_ips"]["7"] == "192.4.32.120"


def test_network_all_up_passes_and_pings_node0(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers(ping="29.1.137.205"))
    _, results, _ = run_json(
        "--profile",
        "a2-multi",
        "--node-rank",
        "1",
        "--check",
        "npu.network",
        bin_dir=fake_bin,
        env={"GLM5CHECK_PEER_NPU_IPS": "29.1.137.205,192.0.2.99"},
    )
    by_item = {r["item"]: r for r in results_of(results, "npu.network")}
    assert all(by_item[f"device {n}"]["status"] == "pass" for n in range(8))
    assert by_item["tls"]["status"] == "pass"
    assert by_item["ping 0 -> 29.1.137.205"]["status"] == "pass"
    assert by_item["ping 1 -> 192.0.2.99"]["status"] == "fail"


def test_peer_npu_ips_option_pings_node0_and_wins_over_the_variable(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers(ping="29.1.137.205"))
    args = ("--profile", "a2-multi", "--node-rank", "1", "--check", "npu.network")
    _, results, _ = run_json(
        *args,
        "--peer-npu-ips",
        "29.1.137.205, 192.0.2.99",
        bin_dir=fake_bin,
        env={"GLM5CHECK_PEER_NPU_IPS": "192.0.2.1"},
    )
    pings = {r["item"]: r["status"] for r in results_of(results, "npu.network") if r["item"].startswith("ping")}
    assert pings == {"ping 0 -> 29.1.137.205": "pass", "ping 1 -> 192.0.2.99": "fail"}


@pytest.mark.parametrize("given", ["node0-npu", "10.0.0.1,10.0.0.300", " , "])
def test_peer_npu_ips_option_that_is_not_addresses_is_a_usage_error(given: str) -> None:
    done = run_in_process("--profile", "a2-multi", "--peer-npu-ips", given)
    assert_no_traceback(done)
    assert done.returncode == 2
    expected = f"--peer-npu-ips takes IP addresses separated by commas, not {given!r}"
    assert done.stderr.strip() == f"glm5check: error: {expected}"


def test_without_peer_ips_the_ping_is_skipped_naming_the_option(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers())
    _, results, _ = run_json("--profile", "a2-multi", "--check", "npu.network", bin_dir=fake_bin)
    (ping,) = [r for r in results_of(results, "npu.network") if r["item"] == "ping"]
    assert ping["status"] == "skip" and "--peer-npu-ips" in ping["message"]


def test_a_snapshot_records_peer_npu_ips_and_replays_the_pings(fake_bin: Path, tmp_path: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers(ping="29.1.137.205"))
    snap = tmp_path / "snap"
    args = ("--profile", "a2-multi", "--node-rank", "1", "--check", "npu.network", "--peer-npu-ips", "29.1.137.205")
    recorded = run_in_process("snapshot", *args, "-o", str(snap), env=clean_env(path_prepend=[fake_bin]))
    assert_no_traceback(recorded)
    assert json.loads((snap / "snapshot.json").read_text())["options"]["peer_npu_ips"] == ["29.1.137.205"]
    _, replayed, _ = run_json("--replay", str(snap), "--check", "npu.network")
    pings = {r["item"]: r["status"] for r in replayed if r["item"].startswith("ping")}
    assert pings == {"ping 0 -> 29.1.137.205": "pass"}


def test_peer_npu_ips_in_a_profile_file_are_pinged_and_the_option_wins(fake_bin: Path, tmp_path: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers(ping="29.1.137.205"))
    site = tmp_path / "site.toml"
    site.write_text('name = "site"\nextends = "a2-multi"\n[network]\npeer_npu_ips = ["29.1.137.205"]\n')
    args = ("--profile-file", str(site), "--node-rank", "1", "--check", "npu.network")
    _, results, _ = run_json(*args, bin_dir=fake_bin)
    pings = {r["item"]: r["status"] for r in results if r["item"].startswith("ping")}
    assert pings == {"ping 0 -> 29.1.137.205": "pass"}
    _, results, _ = run_json(*args, bin_dir=fake_bin, env={"GLM5CHECK_PEER_NPU_IPS": "192.0.2.99"})
    assert [r["item"] for r in results if r["item"].startswith("ping")] == ["ping 0 -> 192.0.2.99"]
    _, results, _ = run_json(*args, "--peer-npu-ips", "192.0.2.98", bin_dir=fake_bin)
    assert [r["item"] for r in results if r["item"].startswith("ping")] == ["ping 0 -> 192.0.2.98"]


def test_network_is_not_run_on_single_node_profiles(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    _, results, _ = run_json("--profile", "a2-single", "--check", "npu.*", bin_dir=fake_bin)
    assert not results_of(results, "npu.network")


# -- replayed snapshots: /etc/hccn.conf and /dev/davinci* ------------------------------------------------


def _snapshot(
    tmp_path: Path, conf_override: dict[int, str] | None = None, missing_devices: tuple[str, ...] = ()
) -> Path:
    writer = SnapshotWriter("a2-multi", hostname="node1", options={"node_rank": 1})
    writer.env({})
    conf_text = HCCN["conf"].read_text()
    addresses = {
        n: line.split("=")[1] for n, line in enumerate(ln for ln in conf_text.splitlines() if ln.startswith("address_"))
    }
    addresses.update(conf_override or {})
    writer.which("npu-smi", "/usr/local/bin/npu-smi")
    writer.which("hccn_tool", "/usr/local/Ascend/driver/tools/hccn_tool")
    writer.command(["/usr/local/bin/npu-smi", "info"], A2_IDLE.read_text())
    writer.file("/etc/hccn.conf", conf_text)
    tool = "/usr/local/Ascend/driver/tools/hccn_tool"
    for device in range(8):
        writer.command([tool, "-i", str(device), "-link", "-g"], HCCN["up"].read_text())
        writer.command([tool, "-i", str(device), "-net_health", "-g"], HCCN["success"].read_text())
        writer.command([tool, "-i", str(device), "-ip", "-g"], f"ipaddr:{addresses[device]}\nnetmask:255.255.0.0\n")
        writer.command([tool, "-i", str(device), "-gateway", "-g"], f"default gateway:127.0.0.1, Iface:eth{device}\n")
        writer.command([tool, "-i", str(device), "-netdetect", "-g"], "netdetect address: 127.0.0.1\n")
        writer.command([tool, "-i", str(device), "-tls", "-g"], HCCN["tls_loop"].read_text().splitlines()[device])
    wanted = [f"/dev/davinci{n}" for n in range(8)] + [
        "/dev/davinci_manager",
        "/dev/devmm_svm",
        "/dev/hisi_hdc",
    ]
    for path in wanted:
        writer.stat(path, kind=None if path in missing_devices else "char")
    for path in ("/usr/local/dcmi", "/usr/local/Ascend/driver/lib64"):
        writer.stat(path, kind="dir")
    for path in (
        "/usr/local/Ascend/driver/tools/hccn_tool",
        "/usr/local/bin/npu-smi",
        "/usr/local/Ascend/driver/version.info",
        "/etc/ascend_install.info",
    ):
        writer.stat(path, kind="file")
    return writer.write(tmp_path / "snap")


def test_hccn_conf_must_match_the_configured_addresses(tmp_path: Path) -> None:
    snap = _snapshot(tmp_path, conf_override={2: "127.0.0.99"})
    _, results, _ = run_json("--replay", str(snap), "--check", "npu.network")
    by_item = {r["item"]: r for r in results_of(results, "npu.network")}
    assert by_item["device 2"]["status"] == "fail" and "address_2=127.0.0.83" in by_item["device 2"]["message"]
    assert by_item["device 1"]["status"] == "pass"


@pytest.mark.parametrize("missing", [(), ("/dev/davinci5", "/dev/hisi_hdc")])
def test_ascend_devices(tmp_path: Path, missing: tuple[str, ...]) -> None:
    snap = _snapshot(tmp_path, missing_devices=missing)
    _, results, _ = run_json("--replay", str(snap), "--check", "ascend.devices")
    failing = sorted(r["item"] for r in results if r["status"] == "fail")
    assert failing == sorted(missing)
    assert ("devices" in {r["item"] for r in results if r["status"] == "pass"}) is (not missing)
    assert any(r["item"] == "mounts" and r["status"] == "pass" for r in results)


def test_dcmi_8020_names_the_other_user(fake_bin: Path) -> None:
    # The variant quoted in the reference INDEX ("device is used"); its -8005 sibling is a real capture.
    text = "dcmi model initialized failed, because the device is used. ret is -8020\n"
    fake_tool(fake_bin, "npu-smi", {"info": (text, 1)})
    _, results, _ = run_json("--profile", "a2-single", "--check", "npu.smi", bin_dir=fake_bin)
    (smi,) = results
    assert smi["status"] == "fail" and "used by another container or process" in smi["message"]


@pytest.mark.slow
def test_hanging_hccn_tool_ends_within_the_check_deadline(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    write_executable(fake_bin, "hccn_tool", "#!/bin/sh\nsleep 60\n")
    started = time.monotonic()
    _, results, _ = run_json("--profile", "a2-multi", "--check", "npu.network", "--timeout", "2", bin_dir=fake_bin)
    assert time.monotonic() - started < 25
    devices = [r for r in results_of(results, "npu.network") if (r["item"] or "").startswith("device")]
    assert len(devices) == 8 and all(r["status"] == "fail" for r in devices)
    assert "did not answer within 2 s" in devices[0]["message"]


def test_peer_addresses_that_are_not_ips_are_not_probed(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers())
    _, results, _ = run_json(
        "--profile",
        "a2-multi",
        "--check",
        "npu.network",
        bin_dir=fake_bin,
        env={"GLM5CHECK_PEER_NPU_IPS": "node0-npu"},
    )
    (ping,) = [r for r in results_of(results, "npu.network") if (r["item"] or "").startswith("ping")]
    assert ping["status"] == "fail" and "is not an IP address" in ping["message"]


def test_snapshot_of_a_fake_node_replays_to_the_same_npu_results(fake_bin: Path, tmp_path: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A3_BUSY.read_text()})
    fake_tool(fake_bin, "hccn_tool", hccn_answers(down=2))
    snap = tmp_path / "snap"
    recorded = run_in_process(
        "snapshot",
        "--profile",
        "a2-multi",
        "--check",
        "npu.*",
        "-o",
        str(snap),
        env=clean_env(path_prepend=[fake_bin]),
    )
    assert_no_traceback(recorded)
    _, live, _ = run_json("--profile", "a2-multi", "--check", "npu.*", bin_dir=fake_bin)
    _, replayed, _ = run_json("--replay", str(snap), "--check", "npu.*")

    def key(rows: list[dict[str, Any]]) -> list[tuple[Any, ...]]:
        return [(r["id"], r["item"], r["status"], r["message"].replace(str(fake_bin), "")) for r in rows]

    assert key(replayed) == key(live)


@pytest.mark.parametrize(("visible", "busy"), [("0,1,2,3,4,5,6,7", False), ("8,9,10,11,12,13,14,15", True)])
def test_visible_devices_choose_the_chips_judged_for_hbm(fake_bin: Path, visible: str, busy: bool) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A3_BUSY.read_text()})
    profile = fake_bin / "a3-tp8.toml"
    profile.write_text('extends = "a3-single"\nname = "a3-tp8"\n[serve]\ntensor_parallel_size = 8\n')
    _, results, _ = run_json(
        "--profile-file",
        str(profile),
        "--check",
        "npu.hbm",
        bin_dir=fake_bin,
        env={"ASCEND_RT_VISIBLE_DEVICES": visible},
    )
    hbm = results_of(results, "npu.hbm")
    if busy:
        assert [r["status"] for r in hbm] == ["fail"] * 8 and hbm[0]["item"] == "NPU 4 chip 0"
    else:
        assert [r["status"] for r in hbm] == ["pass"]


def test_no_visible_chip_fails_count_and_skips_the_chip_checks(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    _, results, _ = run_json(
        "--profile",
        "a2-single",
        "--check",
        "npu.*",
        bin_dir=fake_bin,
        env={"ASCEND_RT_VISIBLE_DEVICES": "99"},
    )
    assert "fail" in statuses(results, "npu.count")
    for check_id in ("npu.health", "npu.hbm", "npu.processes"):
        assert statuses(results, check_id) == ["skip"], check_id


def test_visible_device_ids_int_refuses_are_named_not_raised(fake_bin: Path) -> None:
    fake_tool(fake_bin, "npu-smi", {"info": A2_IDLE.read_text()})
    _, results, _ = run_json(
        "--profile",
        "a2-single",
        "--check",
        "npu.count",
        bin_dir=fake_bin,
        env={"ASCEND_RT_VISIBLE_DEVICES": "0,1²," + "9" * 5000},
    )
    variable = {r["item"]: r for r in results_of(results, "npu.count")}["ASCEND_RT_VISIBLE_DEVICES"]
    assert variable["status"] == "fail" and "do not exist: 1²" in variable["message"]


@pytest.mark.slow
def test_hanging_health_queries_stop_after_the_first(fake_bin: Path) -> None:
    """16 chips in Alarm and `npu-smi info -t health` hanging: one query times out, the others are not
    asked, and every chip still gets its FAIL within the check deadline (16 × 2 s would pass it)."""
    alarm = A3_BUSY.read_text().replace("| OK ", "| Alarm ")
    table = fake_bin / "alarm-table.txt"
    table.write_text(alarm, encoding="utf-8")
    write_executable(
        fake_bin, "npu-smi", f"#!/bin/sh\nif [ \"$*\" = info ]; then cat '{table}'; exit 0; fi\nsleep 60\n"
    )
    started = time.monotonic()
    _, results, _ = run_json("--profile", "a3-single", "--check", "npu.health", "--timeout", "2", bin_dir=fake_bin)
    assert time.monotonic() - started < 15
    health = results_of(results, "npu.health")
    assert len(health) == 16 and all(r["status"] == "fail" and r["observed"] == "Alarm" for r in health)

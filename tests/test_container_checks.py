"""container.*, npu.lldp, npu.network[addresses], ascend.cann[nnal] and ascend.driver[compatibility]: each
passing and failing on real-format inputs — copies of the demo snapshot with one recorded answer changed
(real captured outputs from fixtures/), and real network namespaces for host networking."""

from __future__ import annotations

import functools
import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from conftest import FIXTURES, REPO, assert_no_traceback, run_in_process
from glm5check.checks.ascend import listed
from netns import NODE1_IP, Pair, netns_pair, unavailable_reason

from glm5check.knowledge.ascend_soc import build_device_type, chip_device_type, soc_device_type
from glm5check.parsers.ascend_versions import inner_key, parse_driver_version_info, parse_install_info

DEMO = REPO / "glm5check" / "demo"
SITE = "/usr/local/python3.11.14/lib/python3.11/site-packages"
BUILD_INFO = f"{SITE}/vllm_ascend/_build_info.py"
A3_TABLE = FIXTURES / "npu-smi-info" / "openyuanrong-fixture-A3-16chip-24.1.rc3.3-pt_main_thread.txt"
TOOLKIT_850 = FIXTURES / "cann-toolkit-version" / "mindcluster-doc-toolkit-8.5.0-aarch64-cann-layout.txt"
DRIVER_2410 = FIXTURES / "driver-version-info" / "rst-notes-24.1.0.txt"
LLDP_REAL = FIXTURES / "hccn_tool-lldp" / "arthurchiao-blog-lldp-g-i3-partially-masked.txt"


class Snapshot:
    """A copy of a demo snapshot whose recorded answers a test edits."""

    def __init__(self, root: Path) -> None:
        self.root = root

    def file(self, path: str, text: str) -> None:
        target = self.root / "files" / path.lstrip("/")
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_text(text, encoding="utf-8")
        index = self._load("files/index.json")
        index[path] = {"error": None, "truncated": False}
        self._save("files/index.json", index)

    def missing_file(self, path: str) -> None:
        """The file was asked for and is not there (a replay answers what was recorded, nothing else)."""
        index = self._load("files/index.json")
        index[path] = {"error": "missing", "truncated": False}
        self._save("files/index.json", index)
        (self.root / "files" / path.lstrip("/")).unlink(missing_ok=True)

    def missing_paths(self, wanted: Callable[[str], bool]) -> None:
        """Recorded stats of these paths say: no such path."""
        self.system("stat", lambda stats: {k: ({**v, "kind": None} if wanted(k) else v) for k, v in stats.items()})

    def command(self, wanted: Callable[[list[str]], bool], stdout: str) -> None:
        """Replace the recorded output of every command whose argv `wanted` accepts."""
        for entry in self._load("commands/index.json"):
            if wanted(entry["argv"]):
                (self.root / "commands" / entry["stdout"]).write_text(stdout, encoding="utf-8")

    def system(self, name: str, change: Callable[[Any], Any]) -> None:
        self._save(f"system/{name}.json", change(self._load(f"system/{name}.json")))

    def _load(self, name: str) -> Any:
        return json.loads((self.root / name).read_text(encoding="utf-8"))

    def _save(self, name: str, value: Any) -> None:
        (self.root / name).write_text(json.dumps(value, indent=2), encoding="utf-8")


@pytest.fixture
def node0(tmp_path: Path) -> Snapshot:
    return Snapshot(Path(shutil.copytree(DEMO / "a2-node0", tmp_path / "a2-node0")))


def _run(snapshot: Snapshot | str, *checks: str) -> list[dict[str, Any]]:
    replay = str(snapshot.root) if isinstance(snapshot, Snapshot) else snapshot
    args = [arg for check in checks for arg in ("--check", check)]
    done = run_in_process("--profile", "a2-multi", "--replay", replay, *args, "--format", "json")
    assert_no_traceback(done)
    return json.loads(done.stdout)["results"]


def _rows(results: list[dict[str, Any]], check_id: str) -> list[dict[str, Any]]:
    return [r for r in results if r["id"] == check_id]


# -- container.build ------------------------------------------------------------------------------------


def test_build_info_and_chip_names_as_vllm_ascend_tells_them_apart() -> None:
    assert build_device_type("# Auto-generated file\n__device_type__ = 'A3'\n") == "A3"
    assert build_device_type("__device_type__ = 'B9'\n") is None and build_device_type(None) is None
    assert soc_device_type("ascend910b1") == "A2" and soc_device_type("Ascend910_9391") == "A3"
    assert chip_device_type("910B1", False) == "A2" and chip_device_type("Ascend910", True) == "A3"
    assert chip_device_type("Ascend910", False) is None and chip_device_type("310P3", False) == "_310P"


def test_build_for_the_chips_passes(node0: Snapshot) -> None:
    (row,) = _rows(_run(node0, "container.build"), "container.build")
    assert row["status"] == "pass" and "built for A2" in row["message"] and "ascend910b1" in row["message"]


def test_an_a3_build_on_a2_chips_fails_as_vllm_ascend_would(node0: Snapshot) -> None:
    node0.file(BUILD_INFO, "# Auto-generated file\n__device_type__ = 'A3'\n")
    (row,) = _rows(_run(node0, "container.build"), "container.build")
    assert row["status"] == "fail"
    assert "does not match the installed version's device type: AscendDeviceType.A3" in row["message"]
    assert "quay.io/ascend/vllm-ascend:glm5" in row["remediation"]


def test_an_a2_build_on_a3_chips_fails(node0: Snapshot) -> None:
    node0.command(lambda argv: argv[-1] == "info" and argv[0].endswith("npu-smi"), A3_TABLE.read_text())
    (row,) = _rows(_run(node0, "container.build"), "container.build")
    assert row["status"] == "fail" and "the chips are A3 (Ascend910)" in row["message"]


def test_a_vllm_ascend_without_build_info_fails(node0: Snapshot) -> None:
    node0.missing_file(BUILD_INFO)
    (row,) = _rows(_run(node0, "container.build"), "container.build")
    assert row["status"] == "fail" and "_build_info.py is missing" in row["message"]


def test_without_vllm_ascend_the_build_points_at_its_package_check() -> None:
    done = run_in_process(
        "--profile", "a2-single", "--check", "packages.vllm-ascend", "--check", "container.build", "--format", "json"
    )  # fmt: skip
    rows = {r["id"]: r for r in json.loads(done.stdout)["results"] if r["item"] is None}
    assert rows["packages.vllm-ascend"]["status"] == "fail"
    assert rows["container.build"]["status"] == "skip"
    assert rows["container.build"]["message"] == "vllm-ascend is not installed — see packages.vllm-ascend"


# -- container.mounts -----------------------------------------------------------------------------------


def test_driver_paths_bind_mounted_pass_and_copies_in_the_image_warn(node0: Snapshot) -> None:
    assert {r["status"] for r in _rows(_run(node0, "container.mounts"), "container.mounts")} == {"pass"}
    node0.system("mounts", lambda mounts: [m for m in mounts if m["mountpoint"] != "/usr/local/Ascend/driver/lib64"])
    rows = {r["item"]: r for r in _rows(_run(node0, "container.mounts"), "container.mounts")}
    assert rows["/usr/local/Ascend/driver/lib64"]["status"] == "warn"
    assert "in the image, not mounted from the host" in rows["/usr/local/Ascend/driver/lib64"]["message"]
    assert rows["/usr/local/bin/npu-smi"]["status"] == "pass"


def test_a_missing_driver_path_is_one_row_of_ascend_devices(node0: Snapshot) -> None:
    node0.missing_paths(lambda path: path == "/usr/local/dcmi")
    results = _run(node0, "container.mounts", "ascend.devices")
    assert [(r["id"], r["item"]) for r in results if r["status"] == "fail"] == [("ascend.devices", "/usr/local/dcmi")]
    (skip,) = [r for r in results if r["id"] == "container.mounts" and r["item"] == "/usr/local/dcmi"]
    assert skip["status"] == "skip" and skip["message"] == "/usr/local/dcmi is missing — see ascend.devices"


def test_outside_a_container_the_mounts_are_not_judged(node0: Snapshot) -> None:
    node0.system("mounts", lambda mounts: [{**m, "fstype": "ext4"} if m["mountpoint"] == "/" else m for m in mounts])
    node0.missing_paths(lambda path: path == "/.dockerenv")
    (row,) = _rows(_run(node0, "container.mounts"), "container.mounts")
    assert row["status"] == "skip" and "not in a container" in row["message"]


# -- container.network (snapshot and real network namespaces) -------------------------------------------


def test_host_network_of_the_demo_passes() -> None:
    (row,) = _rows(_run("demo", "container.network"), "container.network")
    assert row["status"] == "pass" and "enp189s0f0" in row["observed"]


@functools.lru_cache(maxsize=1)
def _netns_reason() -> str | None:
    return unavailable_reason()


@pytest.fixture
def pair() -> Iterator[Pair]:
    reason = _netns_reason()
    if reason is not None:
        pytest.skip(reason)
    with netns_pair() as created:
        yield created


def _network(pair: Pair, env: dict[str, str], profile: str = "a2-multi") -> dict[str, Any]:
    report = pair.report(pair.node1, ["--profile", profile, "--check", "container.network"], env)
    (row,) = _rows(report["results"], "container.network")
    return row


@pytest.mark.slow
@pytest.mark.netns
def test_a_bridge_network_veth_fails_for_hccl_and_warns_on_one_node(pair: Pair) -> None:
    """node 1's namespace holds one end of a veth pair, as a container on a docker bridge does."""
    row = _network(pair, pair.node1.node_env())
    assert row["status"] == "fail" and f"HCCL_IF_IP {NODE1_IP} is on" in row["message"]
    assert "one end of a veth pair" in row["message"] and "--net=host" in row["remediation"]
    single = _network(pair, {}, "a2-single")
    assert single["status"] == "warn" and "bridge network" in single["message"]


@pytest.mark.slow
@pytest.mark.netns
def test_a_host_interface_carrying_hccl_if_ip_passes(pair: Pair) -> None:
    """An interface of the host's own kind (a bridge: DEVTYPE=bridge, as a host's br0) carries HCCL_IF_IP."""
    pair.node1.ip("link", "add", "hostnic0", "type", "bridge")
    pair.node1.ip("addr", "add", "10.231.9.2/24", "dev", "hostnic0")
    pair.node1.ip("link", "set", "hostnic0", "up")
    row = _network(pair, pair.node1.node_env(HCCL_IF_IP="10.231.9.2", HCCL_SOCKET_IFNAME="hostnic0"))
    assert row["status"] == "pass" and "hostnic0" in row["observed"]


# -- npu.lldp and npu.network[addresses] ----------------------------------------------------------------


def _hccn(query: str) -> Callable[[list[str]], bool]:
    return lambda argv: argv[0].endswith("hccn_tool") and f"-{query}" in argv


def test_every_port_seeing_its_switch_port_passes() -> None:
    rows = _rows(_run("demo", "npu.lldp"), "npu.lldp")
    assert len(rows) == 8 and {r["status"] for r in rows} == {"pass"}
    assert rows[0]["message"] == "device 0: switch port 400GE1/1/5:1"


def test_a_port_without_an_lldp_neighbour_warns(node0: Snapshot) -> None:
    node0.command(lambda argv: _hccn("lldp")(argv) and argv[2] == "3", "")
    rows = {r["item"]: r for r in _rows(_run(node0, "npu.lldp"), "npu.lldp")}
    assert rows["device 3"]["status"] == "warn" and "no LLDP neighbour" in rows["device 3"]["message"]
    assert rows["device 2"]["status"] == "pass"


def test_a_port_cabled_to_another_npu_warns(node0: Snapshot) -> None:
    back_to_back = LLDP_REAL.read_text().replace("Huarong DX511", "AscendNPU")
    node0.command(lambda argv: _hccn("lldp")(argv) and argv[2] == "1", back_to_back)
    rows = {r["item"]: r for r in _rows(_run(node0, "npu.lldp"), "npu.lldp")}
    assert rows["device 1"]["status"] == "warn" and "back-to-back" in rows["device 1"]["message"]


def test_a_port_whose_link_is_down_is_not_an_lldp_row_too() -> None:
    results = _run("demo:a2-node1", "npu.lldp", "npu.network")
    lldp = [(r["item"], r["status"]) for r in results if r["id"] == "npu.lldp" and r["status"] != "pass"]
    assert lldp == [("device 5", "skip")]  # npu.network[device 5] is the row that fails
    (skip,) = [r for r in results if r["id"] == "npu.lldp" and r["item"] == "device 5"]
    assert skip["message"] == "device 5: link DOWN — see npu.network"
    assert any(r["id"] == "npu.network" and r["item"] == "device 5" and r["status"] == "fail" for r in results)


def test_devices_sharing_an_address_fail(node0: Snapshot) -> None:
    node0.command(lambda argv: _hccn("ip")(argv) and argv[2] == "6", "ipaddr:10.20.11.16\nnetmask:255.255.255.0\n")
    rows = {r["item"]: r for r in _rows(_run(node0, "npu.network"), "npu.network")}
    assert rows["addresses"]["status"] == "fail" and "10.20.11.16 on devices 3, 6" in rows["addresses"]["message"]
    (healthy,) = [r for r in _run("demo", "npu.network") if r["item"] == "addresses"]
    assert healthy["status"] == "pass" and healthy["message"] == "8 distinct addresses on 8 devices"


def test_on_a3_every_die_has_its_own_address(node0: Snapshot) -> None:
    """An A3 table (two dies per NPU, hccn_tool numbered by Phy-ID): one address per die, not per NPU."""
    node0.command(lambda argv: argv[-1] == "info" and argv[0].endswith("npu-smi"), A3_TABLE.read_text())
    (row,) = [r for r in _run(node0, "npu.network") if r["item"] == "addresses"]
    assert row["status"] == "pass" and row["message"] == "8 distinct addresses on 8 dies (one per die)"
    node0.command(lambda argv: _hccn("ip")(argv) and argv[2] == "1", "ipaddr:10.20.11.13\nnetmask:255.255.255.0\n")
    (row,) = [r for r in _run(node0, "npu.network") if r["item"] == "addresses"]
    assert row["status"] == "fail" and "10.20.11.13 on dies 0, 1" in row["message"]


# -- ascend.cann[nnal] and ascend.driver[compatibility] -------------------------------------------------


def test_nnal_installed_and_sourced_passes_and_not_sourced_fails(node0: Snapshot) -> None:
    (row,) = [r for r in _run(node0, "ascend.cann") if r["item"] == "nnal"]
    assert row["status"] == "pass" and row["observed"].endswith("/cxx_abi_1/lib/libatb.so")
    node0.system("env", lambda env: {k: v for k, v in env.items() if k != "ATB_HOME_PATH"})
    (row,) = [r for r in _run(node0, "ascend.cann") if r["item"] == "nnal"]
    assert row["status"] == "fail" and "not sourced" in row["message"] and "libatb.so" in row["message"]
    assert "source /usr/local/Ascend/nnal/atb/set_env.sh" in row["remediation"]
    node0.missing_paths(lambda path: "nnal" in path)
    (row,) = [r for r in _run(node0, "ascend.cann") if r["item"] == "nnal"]
    assert row["status"] == "fail" and "not installed" in row["message"]


def test_nnal_sourced_by_the_launch_script_passes(node0: Snapshot, tmp_path: Path) -> None:
    """The shell that runs vllm serve has ATB_HOME_PATH when the launch script sources NNAL's set_env.sh, even
    if the shell glm5check runs in does not."""
    node0.system("env", lambda env: {k: v for k, v in env.items() if k != "ATB_HOME_PATH"})
    guide = (FIXTURES / "serve-scripts" / "a2-multi-node0.sh").read_text()
    script = tmp_path / "node0.sh"
    script.write_text(guide.replace("#!/bin/bash\n", "#!/bin/bash\nsource /usr/local/Ascend/nnal/atb/set_env.sh\n", 1))
    args = ("--profile", "a2-multi", "--replay", str(node0.root), "--serve-script", str(script))
    done = run_in_process(*args, "--check", "ascend.cann", "--format", "json")
    assert_no_traceback(done)
    (row,) = [r for r in json.loads(done.stdout)["results"] if r["item"] == "nnal"]
    assert (
        row["status"] == "pass"
        and "launch script sources /usr/local/Ascend/nnal/atb/set_env.sh (line 2)" in row["message"]
    )


def test_compatible_version_lists_read_from_real_files() -> None:
    toolkit = parse_install_info(TOOLKIT_850.read_text())
    driver = parse_driver_version_info(DRIVER_2410.read_text())
    assert inner_key(driver.inner_version) == (100, 1, 19) and listed(toolkit.compatible, (100, 1, 19))
    assert min(low for low, _ in toolkit.compatible) == (100, 1, 15)
    nnae = parse_install_info(
        (FIXTURES / "cann-toolkit-version" / "mindcluster-fixture-nnae-8.0.RC3-install-info.txt").read_text()
    )
    assert nnae.compatible == (((100, 1, 13), (100, 1, 19)), ((100, 1, 30), (100, 1, 30)))


def test_a_driver_cann_supports_passes_and_an_older_one_fails(node0: Snapshot) -> None:
    (row,) = [r for r in _run(node0, "ascend.driver") if r["item"] == "compatibility"]
    assert row["status"] == "pass" and row["message"] == "driver 24.1.0 (V100R001C19) works with CANN 8.5.0"
    # The real 24.1.0 file with the release line of a driver older than any CANN 8.5.0 lists (C10), which in
    # turn lists no CANN of the 8.5 line.
    old = DRIVER_2410.read_text().replace("V100R001C19SPC002B226", "V100R001C10SPC001B100")
    old = old.replace("compatible_version=[V100R001C13],[V100R001C15],[V100R001C17],[V100R001C18],[V100R001C19]",
                      "compatible_version=[V100R001C10],[V100R001C13]")  # fmt: skip
    node0.file("/usr/local/Ascend/driver/version.info", old)
    (row,) = [r for r in _run(node0, "ascend.driver") if r["item"] == "compatibility"]
    assert row["status"] == "fail" and "older than the oldest driver CANN 8.5.0 supports" in row["message"]
    assert "V100R001C15 or newer" in row["remediation"]

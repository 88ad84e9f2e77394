"""weights.* on generated GLM-5-shaped checkpoints (real headers, sparse data): each fault is a specific
FAIL, a healthy folder passes, and a recorded run replays without the folder."""

from __future__ import annotations

import json
import os
import shutil
import sys
from pathlib import Path

import glm5check.checks.weights as weights_checks
import pytest
from conftest import FIXTURES, assert_no_traceback, run_cli

from glm5check.engine.check import Check, Result, Status
from glm5check.engine.runner import run_one
from glm5check.facts.context import Context, Options
from glm5check.host.base import Mount
from glm5check.host.live import LiveHost
from glm5check.knowledge.profiles import load_builtin

sys.path.insert(0, str(FIXTURES))
import make_checkpoint as mc

SHARD = "model-00007-of-00282.safetensors"


@pytest.fixture(scope="session")
def bf16(tmp_path_factory: pytest.TempPathFactory) -> mc.Checkpoint:
    """zai-org/GLM-5 bf16 with adjust_weight.py's mtp-others.safetensors: ready for deepseek_mtp."""
    return mc.make_checkpoint(tmp_path_factory.mktemp("bf16") / "GLM5-bf16", "bf16", "full")


@pytest.fixture(scope="session")
def w4a8(tmp_path_factory: pytest.TempPathFactory) -> mc.Checkpoint:
    return mc.make_checkpoint(tmp_path_factory.mktemp("w4a8") / "GLM-5-w4a8-mtp", "w4a8", "full")


@pytest.fixture
def bf16_copy(bf16: mc.Checkpoint, tmp_path: Path) -> Path:
    return mc.link_copy(bf16.path, tmp_path / "GLM5-bf16")


def context(folder: Path, profile: str = "a3-multi", host: LiveHost | None = None, **serve: object) -> Context:
    chosen = load_builtin(profile)
    chosen = chosen.with_serve(**serve) if serve else chosen
    return Context(chosen, host or LiveHost(), Options(model_dir=str(folder)))


def results_of(check: Check, ctx: Context) -> list[Result]:
    output = check.func(ctx)
    return [output] if isinstance(output, Result) else list(output)


def run(
    check: Check, folder: Path, profile: str = "a3-multi", host: LiveHost | None = None, **serve: object
) -> list[Result]:
    return results_of(check, context(folder, profile, host, **serve))


def shard_head(path: Path) -> bytes:
    """The 8-byte length and the header of a shard (never its multi-GB sparse data)."""
    with open(path, "rb") as handle:
        prefix = handle.read(8)
        return prefix + handle.read(int.from_bytes(prefix, "little"))


def failures(results: list[Result]) -> list[Result]:
    return [r for r in results if r.status is Status.FAIL]


def only_failure(results: list[Result]) -> Result:
    found = failures(results)
    assert len(found) == 1, results
    return found[0]


# -- healthy folders ----------------------------------------------------------------------------------


def test_healthy_bf16_checkpoint_passes_every_weights_check(bf16: mc.Checkpoint) -> None:
    ctx = context(bf16.path)
    for check in (
        weights_checks.weights_path,
        weights_checks.weights_shards,
        weights_checks.weights_quantization,
        weights_checks.weights_mtp,
    ):
        results = results_of(check, ctx)
        assert results and all(r.status is Status.PASS for r in results), results
    shards = results_of(weights_checks.weights_shards, ctx)[0]
    assert "283 shards, 59,872 tensors" in shards.message  # 59,870 + the two MTP copies


@pytest.mark.slow
def test_healthy_w4a8_checkpoint_passes_with_its_quant_type(w4a8: mc.Checkpoint) -> None:
    ctx = context(w4a8.path, "a2-single")
    results = results_of(weights_checks.weights_quantization, ctx)
    assert [r.status for r in results] == [Status.PASS] * 3, results
    assert any(r.observed == "W4A8_DYNAMIC" for r in results)
    assert results_of(weights_checks.weights_mtp, ctx)[0].status is Status.PASS
    assert all(r.status is Status.PASS for r in results_of(weights_checks.weights_shards, ctx))


# -- weights.shards faults ----------------------------------------------------------------------------


def test_missing_shard_names_the_partial_download(bf16_copy: Path) -> None:
    (bf16_copy / SHARD).unlink()
    (bf16_copy / (SHARD + ".incomplete")).write_bytes(b"\0" * 100)
    fail = only_failure(run(weights_checks.weights_shards, bf16_copy))
    assert fail.item == SHARD
    assert fail.message.startswith("missing") and SHARD + ".incomplete" in fail.message


def test_truncated_shard_says_bytes_present_and_expected(bf16: mc.Checkpoint, bf16_copy: Path) -> None:
    size = (bf16.path / SHARD).stat().st_size
    mc.replace_file(bf16_copy / SHARD, shard_head(bf16.path / SHARD), size - 4096)
    fail = only_failure(run(weights_checks.weights_shards, bf16_copy))
    assert fail.item == SHARD and fail.message.startswith("truncated")
    assert fail.observed == f"{size - 4096:,} bytes" and fail.expected == f"{size:,} bytes"


def test_git_lfs_pointer_stub(bf16_copy: Path) -> None:
    stub = b"version https://git-lfs.github.com/spec/v1\noid sha256:" + b"a" * 64 + b"\nsize 5347000000\n"
    mc.replace_file(bf16_copy / SHARD, stub)
    fail = only_failure(run(weights_checks.weights_shards, bf16_copy))
    assert fail.item == SHARD and "Git-LFS pointer" in fail.message and "git lfs pull" in (fail.remediation or "")


def test_header_offsets_that_lie(bf16: mc.Checkpoint, bf16_copy: Path) -> None:
    raw = shard_head(bf16.path / SHARD)
    length = len(raw) - 8
    header = json.loads(raw[8:])
    first = next(name for name in header if name != "__metadata__")
    header[first]["data_offsets"][1] -= 2  # claims 2 bytes fewer than its dtype × shape
    body = json.dumps(header, separators=(",", ":")).encode()
    body += b" " * (-len(body) % 8)
    data_bytes = (bf16.path / SHARD).stat().st_size - 8 - length
    mc.replace_file(bf16_copy / SHARD, len(body).to_bytes(8, "little") + body, 8 + len(body) + data_bytes)
    fail = only_failure(run(weights_checks.weights_shards, bf16_copy))
    assert fail.item == SHARD and fail.message.startswith("header does not match the data")
    assert first in fail.message


def test_index_entry_absent_from_its_shard(bf16: mc.Checkpoint, bf16_copy: Path) -> None:
    index = json.loads((bf16.path / mc.BF16_INDEX).read_text())
    index["weight_map"]["model.layers.0.self_attn.ghost.weight"] = "model-00001-of-00282.safetensors"
    mc.replace_file(bf16_copy / mc.BF16_INDEX, json.dumps(index).encode())
    fail = only_failure(run(weights_checks.weights_shards, bf16_copy))
    assert fail.item == "model-00001-of-00282.safetensors"
    assert "model.layers.0.self_attn.ghost.weight" in fail.message


def test_index_total_size_that_disagrees(bf16: mc.Checkpoint, bf16_copy: Path) -> None:
    index = json.loads((bf16.path / mc.BF16_INDEX).read_text())
    index["metadata"]["total_size"] += 1
    mc.replace_file(bf16_copy / mc.BF16_INDEX, json.dumps(index).encode())
    fail = only_failure(run(weights_checks.weights_shards, bf16_copy))
    assert fail.item == "total_size"


def test_unreadable_shard_a_directory_in_its_place(bf16_copy: Path) -> None:
    # Tests run as root, so chmod 000 would not stop a read: a directory where the file should be does.
    (bf16_copy / SHARD).unlink()
    (bf16_copy / SHARD).mkdir()
    fail = only_failure(run(weights_checks.weights_shards, bf16_copy))
    assert fail.item == SHARD and fail.message == "unreadable: is a dir, not a file"


# -- weights.path faults ------------------------------------------------------------------------------


def test_config_not_json(bf16_copy: Path) -> None:
    mc.replace_file(bf16_copy / "config.json", b'{"architectures": ["GlmMoeDsaForCausalLM"],')
    fail = only_failure(run(weights_checks.weights_path, bf16_copy))
    assert fail.item == "config.json" and "not JSON" in fail.message


def test_config_nested_too_deep_is_not_json(bf16_copy: Path) -> None:
    mc.replace_file(bf16_copy / "config.json", b"[" * 100_000)
    fail = only_failure(run(weights_checks.weights_path, bf16_copy))
    assert fail.item == "config.json" and "not JSON" in fail.message


def test_config_unreadable_fifo_is_never_opened(bf16_copy: Path) -> None:
    (bf16_copy / "config.json").unlink()
    os.mkfifo(bf16_copy / "config.json")  # opening it would block: the stat must stop us first
    fail = only_failure(run(weights_checks.weights_path, bf16_copy))
    assert fail.item == "config.json" and "is a fifo" in fail.message


def test_config_of_another_architecture_and_missing_tokenizer(bf16_copy: Path) -> None:
    config = {"architectures": ["DeepseekV32ForCausalLM"], "model_type": "deepseek_v32"}
    mc.replace_file(bf16_copy / "config.json", json.dumps(config).encode())
    (bf16_copy / "tokenizer.json").unlink()
    found = {r.item: r for r in failures(run(weights_checks.weights_path, bf16_copy))}
    assert set(found) == {"config.json", "tokenizer"}
    assert "DeepseekV32ForCausalLM" in found["config.json"].message


def test_missing_folder_fails_path_and_skips_the_rest(tmp_path: Path) -> None:
    """One cause, one row: the folder's FAIL is weights.path's; every other weights check points at it."""
    absent = tmp_path / "nowhere"
    assert only_failure(run(weights_checks.weights_path, absent)).item == "folder"
    ctx = context(absent)
    dependents = (weights_checks.weights_shards, weights_checks.weights_quantization, weights_checks.weights_mtp)
    for check in dependents:
        (row,) = run_one(check, ctx)
        assert row.status is Status.SKIP and row.see == "weights.path", row
        assert row.message == f"weights folder {absent} cannot be read (missing) — see weights.path"


# -- weights.quantization -----------------------------------------------------------------------------


@pytest.mark.slow
def test_quant_description_missing_for_quantization_ascend(w4a8: mc.Checkpoint, tmp_path: Path) -> None:
    copy = mc.link_copy(w4a8.path, tmp_path / "w4a8")
    (copy / "quant_model_description.json").unlink()
    fail = only_failure(run(weights_checks.weights_quantization, copy, "a2-single"))
    assert fail.item == "description" and "missing" in fail.message


def test_quant_description_unexpected_without_quantization(bf16_copy: Path) -> None:
    (bf16_copy / "quant_model_description.json").write_text('{"model_quant_type": "W8A8_DYNAMIC"}')
    fail = only_failure(run(weights_checks.weights_quantization, bf16_copy))
    assert fail.item == "description" and "--quantization ascend" in (fail.remediation or "")


@pytest.mark.slow
def test_quant_description_that_omits_a_shard_tensor(w4a8: mc.Checkpoint, tmp_path: Path) -> None:
    copy = mc.link_copy(w4a8.path, tmp_path / "w4a8")
    description = json.loads((w4a8.path / "quant_model_description.json").read_text())
    del description["model.layers.5.self_attn.o_proj.weight"]
    mc.replace_file(copy / "quant_model_description.json", json.dumps(description).encode())
    fail = only_failure(run(weights_checks.weights_quantization, copy, "a2-single"))
    assert fail.item == "coverage" and "model.layers.5.self_attn.o_proj.weight" in fail.message


# -- weights.mtp --------------------------------------------------------------------------------------


@pytest.mark.slow
def test_mtp_requested_but_weights_without_mtp(tmp_path: Path) -> None:
    # The guide's weights "without mtp", with a few shards: the MTP check reads names, not shard counts.
    made = mc.make_checkpoint(tmp_path / "GLM-5-w4a8", "w4a8", "none", shards=8)
    fail = only_failure(run(weights_checks.weights_mtp, made.path, "a2-single"))
    assert "has no model.layers.78 (MTP)" in fail.message
    assert "drop --speculative-config" in (fail.remediation or "")
    skipped = run(weights_checks.weights_mtp, made.path, "a2-single", speculative_config=None)
    assert [r.status for r in skipped] == [Status.SKIP]


def test_bf16_mtp_layer_without_adjust_weight_copies(tmp_path: Path) -> None:
    made = mc.make_checkpoint(tmp_path / "GLM5-bf16", "bf16", "layer", shards=20)
    fail = only_failure(run(weights_checks.weights_mtp, made.path))
    assert "model.layers.78.embed_tokens.weight" in fail.message and "adjust_weight.py" in (fail.remediation or "")


# -- weights.shared -----------------------------------------------------------------------------------


class MountsHost(LiveHost):
    def __init__(self, mounts: tuple[Mount, ...]) -> None:
        super().__init__()
        self._mounts = mounts

    def mounts(self) -> tuple[Mount, ...]:
        return self._mounts


def test_shared_filesystem_passes_local_disk_warns(bf16: mc.Checkpoint) -> None:
    parent = str(bf16.path.parent)
    shared = MountsHost((Mount("/dev/vda1", "/", "ext4"), Mount("nas:/models", parent, "nfs4")))
    result = run(weights_checks.weights_shared, bf16.path, host=shared)[0]
    assert result.status is Status.PASS and "nfs4" in result.message
    local = MountsHost((Mount("/dev/vda1", "/", "ext4"),))
    result = run(weights_checks.weights_shared, bf16.path, host=local)[0]
    assert result.status is Status.WARN and "identical copy" in result.message


# -- through the real CLI -----------------------------------------------------------------------------


@pytest.mark.slow
def test_cli_reports_the_truncated_shard_and_the_weights_fact(bf16: mc.Checkpoint, bf16_copy: Path) -> None:
    size = (bf16.path / SHARD).stat().st_size
    mc.replace_file(bf16_copy / SHARD, shard_head(bf16.path / SHARD), size // 2)
    out = run_cli("--profile", "a3-multi", "--model-dir", str(bf16_copy), "--check", "weights.*", "--format", "json")
    assert_no_traceback(out)
    assert out.returncode == 1
    report = json.loads(out.stdout)
    failed = [r for r in report["results"] if r["status"] == "fail"]
    assert [(r["id"], r["item"]) for r in failed] == [("weights.shards", SHARD)]
    facts = report["facts"]["weights"]
    assert facts["files"] == 283 and facts["fingerprint"].startswith("sha256:")


@pytest.mark.slow
def test_replay_without_the_weights_folder(bf16: mc.Checkpoint, tmp_path: Path) -> None:
    folder = mc.link_copy(bf16.path, tmp_path / "GLM5-bf16")
    (folder / SHARD).unlink()
    snapshot = tmp_path / "snap"
    args = ("--profile", "a3-multi", "--model-dir", str(folder), "--check", "weights.*", "--check", "memory.fit")
    recorded = run_cli("snapshot", *args, "-o", str(snapshot))
    assert_no_traceback(recorded)
    live = run_cli(*args, "--format", "json")
    shutil.rmtree(folder)
    replayed = run_cli("--replay", str(snapshot), *args[4:], "--format", "json")
    assert_no_traceback(replayed)

    def outcome(text: str) -> list[tuple[str, str | None, str, str]]:
        return [(r["id"], r["item"], r["status"], r["message"]) for r in json.loads(text)["results"]]

    assert outcome(replayed.stdout) == outcome(live.stdout)
    assert ("weights.shards", SHARD, "fail") in [r[:3] for r in outcome(replayed.stdout)]


@pytest.mark.slow
def test_demo_nodes_weights() -> None:
    """Node 0 replays a complete GLM-5-w4a8-mtp on NFS; node 1 has no share mounted (no weights folder)."""

    def rows(demo: str) -> dict[tuple[str, str | None], dict]:
        out = run_cli("--replay", demo, "--check", "weights.*", "--format", "json")
        assert_no_traceback(out)
        return {(r["id"], r["item"]): r for r in json.loads(out.stdout)["results"]}

    node0 = rows("demo:a2-node0")
    assert all(r["status"] == "pass" for r in node0.values()), node0
    assert "nfs4" in node0[("weights.shared", None)]["message"]
    node1 = rows("demo:a2-node1")
    assert node1[("weights.path", "folder")]["status"] == "fail"
    assert "mount the storage" in node1[("weights.path", "folder")]["remediation"]


# -- glm5check weights verify -------------------------------------------------------------------------


@pytest.mark.slow
def test_verify_quick_manifest_proves_identical_folders(bf16: mc.Checkpoint, bf16_copy: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "node0.json"
    first = run_cli("weights", "verify", str(bf16.path), "--manifest", str(manifest), "--write")
    assert first.returncode == 0 and "wrote manifest" in first.stdout, first.stderr
    written = json.loads(manifest.read_text())
    served = {"config.json", "generation_config.json", "tokenizer.json", "tokenizer_config.json", mc.BF16_INDEX}
    assert written["mode"] == "quick" and len(written["files"]) == 283 + len(served)  # shards + what vLLM reads
    assert served <= set(written["files"]) and all(written["files"][n]["content_sha256"] for n in served)
    same = run_cli("weights", "verify", str(bf16_copy), "--manifest", str(manifest))
    assert same.returncode == 0 and "identical to manifest" in same.stdout
    mc.replace_file(bf16_copy / SHARD, shard_head(bf16.path / SHARD), 1 << 30)
    changed = run_cli("weights", "verify", str(bf16_copy), "--manifest", str(manifest))
    assert changed.returncode == 1
    assert f"DIFF  differs: {SHARD}" in changed.stdout and f"FAIL  {SHARD}: truncated" in changed.stdout


@pytest.mark.slow
def test_verify_quick_manifest_sees_an_edited_config(bf16_copy: Path, tmp_path: Path) -> None:
    manifest = tmp_path / "node0.json"
    assert run_cli("weights", "verify", str(bf16_copy), "--manifest", str(manifest), "--write").returncode == 0
    config = json.loads((bf16_copy / "config.json").read_text())
    config["max_position_embeddings"] = 4096
    mc.replace_file(bf16_copy / "config.json", json.dumps(config).encode())
    changed = run_cli("weights", "verify", str(bf16_copy), "--manifest", str(manifest))
    assert changed.returncode == 1 and "DIFF  differs: config.json" in changed.stdout, changed.stdout


@pytest.mark.slow
def test_verify_missing_manifest_needs_write(bf16: mc.Checkpoint, tmp_path: Path) -> None:
    manifest = tmp_path / "typo.json"
    out = run_cli("weights", "verify", str(bf16.path), "--manifest", str(manifest))
    assert out.returncode == 2 and not manifest.exists()
    assert out.stderr.strip() == f"glm5check: error: manifest {manifest} not found; to write a new one, add --write"
    alone = run_cli("weights", "verify", str(bf16.path), "--write")
    assert alone.returncode == 2 and "--write needs --manifest" in alone.stderr


@pytest.mark.slow
def test_verify_deep_hashes_every_byte(tmp_path: Path) -> None:
    import hashlib

    folder = tmp_path / "weights"
    folder.mkdir()
    contents = {f"part-{n}.safetensors": os.urandom(3 << 20) for n in range(3)}
    for name, data in contents.items():
        (folder / name).write_bytes(data)
    manifest = tmp_path / "deep.json"
    out = run_cli(
        "weights", "verify", str(folder), "--deep", "--manifest", str(manifest), "--write", "--format", "json"
    )
    assert out.returncode == 0, out.stderr
    files = json.loads(manifest.read_text())["files"]
    assert {n: f["sha256"] for n, f in files.items()} == {n: hashlib.sha256(d).hexdigest() for n, d in contents.items()}
    with open(folder / "part-1.safetensors", "r+b") as handle:  # one flipped byte in the middle
        handle.seek(1 << 20)
        handle.write(bytes([contents["part-1.safetensors"][1 << 20] ^ 1]))
    # A deep manifest is checked deeply even without --deep.
    again = run_cli("weights", "verify", str(folder), "--manifest", str(manifest))
    assert again.returncode == 1 and "differs: part-1.safetensors" in again.stdout


@pytest.mark.slow
def test_verify_bad_input_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "bad.json").write_text("{not json")
    for args in (
        ("weights", "verify", str(tmp_path / "absent")),
        ("weights", "verify", str(tmp_path), "--manifest", str(tmp_path / "bad.json")),
    ):
        out = run_cli(*args)
        assert out.returncode == 2 and len(out.stderr.strip().splitlines()) == 1, out.stderr
        assert_no_traceback(out)


@pytest.mark.slow
def test_verify_manifest_nested_too_deep_is_one_line(tmp_path: Path) -> None:
    (tmp_path / "deep.json").write_text("[" * 100_000)
    out = run_cli("weights", "verify", str(tmp_path), "--manifest", str(tmp_path / "deep.json"))
    assert out.returncode == 2 and "cannot read manifest" in out.stderr, out.stderr
    assert_no_traceback(out)


@pytest.mark.parametrize("name", ["config.json", "manifest.json", "sub/manifest.json"])
def test_a_manifest_is_never_written_into_the_folder_it_describes(tmp_path: Path, name: str) -> None:
    """`--manifest <weights>/config.json --write` replaced the model's config; any manifest there is a file the
    other nodes' folders do not have."""
    from conftest import run_in_process

    folder = tmp_path / "weights"
    (folder / "sub").mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    done = run_in_process("weights", "verify", str(folder), "--manifest", str(folder / name), "--write")
    assert done.returncode == 2 and "is inside the weights folder" in done.stderr, done.stderr
    assert (folder / "config.json").read_text() == "{}" and not (folder / "manifest.json").exists()
    elsewhere = run_in_process("weights", "verify", str(folder), "--manifest", str(tmp_path / "m.json"), "--write")
    assert elsewhere.returncode in (0, 1) and (tmp_path / "m.json").exists()  # 1: no shards in this folder

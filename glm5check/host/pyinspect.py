"""Inventory of a Python environment, printed as JSON; standard library only.

glm5check never imports vllm, vllm_ascend, torch, torch_npu or transformers. Instead it runs this file's
source once in the target interpreter (`python -I -B -c SOURCE`: isolated, so a source checkout in the
working directory cannot shadow the installed metadata, and writing no bytecode into the environment it
reads) and reads what it prints: the interpreter version, PEP 508 marker values, every installed
distribution (name, version, dist-info folder, direct_url.json, and for the packages glm5check judges:
Requires-Dist and entry points), and a few files of the top-level packages located with
`importlib.util.find_spec`, which finds a top-level package without running its `__init__`. Broken
metadata (no METADATA, unreadable files, a direct_url.json that is not JSON) is reported per
distribution, never fatal. It must stay runnable on any Python 3.8+.

`-I` also drops what `vllm serve` started from the same shell does see, so the script puts it back:
the PYTHONPATH entries given after `--pythonpath`, and the user site-packages unless `--no-user-site`
(PYTHONNOUSERSITE) is given or the interpreter is a venv that hides it. A copy of a package there
shadows the system one, exactly as it would at run time.
"""

from __future__ import annotations

import json
import os
import re
import sys

SCHEMA = "glm5check.pyinspect/1"
# Distributions whose requirements, entry points and direct_url.json the checks read in full.
DETAIL_DISTS = ("vllm", "vllm-ascend", "transformers", "torch", "torch-npu", "triton-ascend")
# Files of top-level packages: version files whose assignment lines are returned, or (file, needle)
# pairs whose presence is reported. Only those lines travel: the rest of a file is of no use to the checks
# and would be recorded in snapshots.
PACKAGE_TEXTS = {
    "vllm": ("_version.py",),
    "vllm_ascend": ("_version.py",),
    "transformers": (),
}
KEPT_ASSIGNMENTS = ("__version__", "__commit_id__")
PACKAGE_PROBES = {
    "transformers": (
        ("models/glm_moe_dsa/configuration_glm_moe_dsa.py", None),
        ("models/auto/configuration_auto.py", "glm_moe_dsa"),
    ),
}
TEXT_CAP = 64 * 1024
SITE_DIR_NAMES = ("site-packages", "dist-packages")


def normalise(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _error(exc: BaseException) -> str:
    return f"{type(exc).__name__}: {exc}"


def _read(dist: object, filename: str, errors: list[str]) -> str | None:
    try:
        return dist.read_text(filename)  # type: ignore[attr-defined]
    except Exception as exc:
        errors.append(f"{filename}: {_error(exc)}")
        return None


def _name_from_folder(path: str | None) -> tuple[str | None, str | None]:
    """`foo_bar-1.2.dist-info` -> ("foo_bar", "1.2"): used only when METADATA cannot be read."""
    base = os.path.basename(path or "")
    for suffix in (".dist-info", ".egg-info"):
        if base.endswith(suffix):
            name, _, version = base[: -len(suffix)].partition("-")
            return name or None, version or None
    return None, None


def distribution_record(dist: object) -> dict:
    path = getattr(dist, "_path", None)
    record: dict = {"path": str(path) if path is not None else None, "errors": []}
    errors: list[str] = record["errors"]
    metadata_text = _read(dist, "METADATA", errors) or _read(dist, "PKG-INFO", errors)
    name = version = None
    requires: list[str] = []
    if metadata_text:
        from email.parser import Parser

        message = Parser().parsestr(metadata_text)
        name, version = message.get("Name"), message.get("Version")
        requires = [str(r) for r in message.get_all("Requires-Dist") or ()]
    else:
        errors.append("no METADATA file")
    if not name:
        name, folder_version = _name_from_folder(record["path"])
        version = version or folder_version
        record["name_from_folder"] = True
    record["name"] = name
    record["version"] = version
    if name and normalise(name) in DETAIL_DISTS:
        record["requires"] = requires
        record["entry_points"] = _read(dist, "entry_points.txt", errors)
    direct_url = _read(dist, "direct_url.json", errors)
    if direct_url is not None:
        try:
            record["direct_url"] = json.loads(direct_url)
        except ValueError as exc:
            record["direct_url_error"] = f"direct_url.json is not JSON ({exc}): {direct_url[:200]!r}"
    return record


def package_record(top_level: str) -> dict:
    import importlib.util

    record: dict = {"dir": None, "texts": {}, "probes": {}}
    try:
        spec = importlib.util.find_spec(top_level)
    except Exception as exc:  # a broken finder or .pth must not stop the inventory
        record["error"] = _error(exc)
        return record
    if spec is None:
        return record
    locations = list(spec.submodule_search_locations or ())
    folder = locations[0] if locations else (os.path.dirname(spec.origin) if spec.origin else None)
    record["dir"] = folder
    if folder is None:
        return record
    for relative in PACKAGE_TEXTS.get(top_level, ()):
        record["texts"][relative] = version_lines(_read_text_file(os.path.join(folder, relative)))
    for relative, needle in PACKAGE_PROBES.get(top_level, ()):
        text = _read_text_file(os.path.join(folder, relative))
        record["probes"][relative] = text is not None and (needle is None or needle in text)
    return record


def version_lines(text: str | None) -> str | None:
    """The `__version__ = ...` and `__commit_id__ = ...` lines of a setuptools_scm version file."""
    if text is None:
        return None
    return "".join(line for line in text.splitlines(True) if line.lstrip().startswith(KEPT_ASSIGNMENTS))


def _read_text_file(path: str) -> str | None:
    try:
        with open(path, encoding="utf-8", errors="replace") as handle:
            return handle.read(TEXT_CAP)
    except OSError:
        return None


def marker_environment() -> dict:
    """The PEP 508 marker values of this interpreter (as packaging.markers.default_environment)."""
    import platform

    impl = sys.implementation.version
    impl_version = f"{impl.major}.{impl.minor}.{impl.micro}"
    if impl.releaselevel != "final":
        impl_version += impl.releaselevel[0] + str(impl.serial)
    return {
        "implementation_name": sys.implementation.name,
        "implementation_version": impl_version,
        "os_name": os.name,
        "platform_machine": platform.machine(),
        "platform_release": platform.release(),
        "platform_system": platform.system(),
        "platform_version": platform.version(),
        "python_full_version": platform.python_version(),
        "platform_python_implementation": platform.python_implementation(),
        "python_version": ".".join(platform.python_version_tuple()[:2]),
        "sys_platform": sys.platform,
    }


def _user_site_enabled() -> bool:
    """Whether the interpreter, started without -I/-s, would put the user site on sys.path."""
    if hasattr(os, "geteuid") and os.geteuid() != os.getuid():
        return False
    if sys.prefix == sys.base_prefix:
        return True
    try:  # a venv shows the user site only with include-system-site-packages = true
        with open(os.path.join(sys.prefix, "pyvenv.cfg"), encoding="utf-8") as handle:
            lines = [line.split("=", 1) for line in handle if "=" in line]
    except OSError:
        return False
    settings = {key.strip().lower(): value.strip().lower() for key, value in lines}
    return settings.get("include-system-site-packages") == "true"


def restore_runtime_path(args: list[str]) -> None:
    import site

    pythonpath = args[args.index("--pythonpath") + 1] if "--pythonpath" in args[:-1] else ""
    entries = [os.path.abspath(entry) for entry in pythonpath.split(os.pathsep) if entry]
    sys.path[0:0] = [entry for entry in dict.fromkeys(entries) if entry not in sys.path]
    if "--no-user-site" in args or not _user_site_enabled():
        return
    user_site = site.getusersitepackages()
    if os.path.isdir(user_site) and user_site not in sys.path:
        # Where site.py puts it: before the first site-packages (dist-packages on Debian) folder.
        site_dirs = [i for i, entry in enumerate(sys.path) if entry.rstrip("/").endswith(SITE_DIR_NAMES)]
        sys.path.insert(site_dirs[0] if site_dirs else len(sys.path), user_site)


def inventory(args: list[str]) -> dict:
    import platform

    result: dict = {
        "schema": SCHEMA,
        "python": {
            "version": platform.python_version(),
            "executable": sys.executable,
            "prefix": sys.prefix,
            "implementation": platform.python_implementation(),
        },
    }
    try:
        restore_runtime_path(args)
        result["sys_path"] = list(sys.path)
        result["marker_environment"] = marker_environment()
        import importlib.metadata as metadata

        records = []
        for dist in metadata.distributions():
            try:
                records.append(distribution_record(dist))
            except Exception as exc:
                path = str(getattr(dist, "_path", ""))
                records.append({"path": path, "name": None, "errors": [_error(exc)]})
        records.sort(key=lambda r: normalise(r.get("name") or ""))  # stable: copies stay in sys.path order
        result["distributions"] = records
        result["packages"] = {name: package_record(name) for name in PACKAGE_TEXTS}
    except Exception as exc:
        result["error"] = _error(exc)
    return result


if __name__ == "__main__":
    sys.stdout.write(json.dumps(inventory(sys.argv[1:]), sort_keys=True))
    sys.stdout.write("\n")

"""A profile's [plugins.NAME] tables: what they may hold, that they survive the TOML a snapshot keeps of
the profile, and glm5check.api.plugin_settings, which hands a plugin its own table."""

from __future__ import annotations

import pytest

from glm5check.api import plugin_settings
from glm5check.knowledge.profiles import ProfileError, load_builtin, load_text, to_toml
from glm5check.testing import SnapshotBuilder, profile_from_toml, replay_context

SITE = """extends = "a2-single"

[plugins.site_storage]
stores = ["10.0.0.5:/export/models", "quote \\" backslash \\\\ newline \\n tab \\t del \\u007f"]
limits = { min_free_gib = 500, ratio = 0.25, strict = true, nested = [[1, 2], { a = "b" }] }

[plugins."dotted.name"]
on = false
"""


def test_plugin_tables_are_kept_as_toml_gives_them() -> None:
    profile = load_text(SITE, "site.toml")
    assert profile.plugins["site_storage"]["limits"] == {
        "min_free_gib": 500,
        "ratio": 0.25,
        "strict": True,
        "nested": [[1, 2], {"a": "b"}],
    }
    assert profile.plugins["dotted.name"] == {"on": False}
    assert profile.to_dict()["plugins"] == profile.plugins


def test_the_toml_a_snapshot_keeps_reads_back_the_same_tables() -> None:
    profile = load_text(SITE, "site.toml")
    written = to_toml(profile)
    assert '\n[plugins."dotted.name"]\non = false\n' in written
    assert load_text(written, "again").plugins == profile.plugins


def test_a_profile_without_plugins_reads_as_before() -> None:
    profile = load_builtin("a2-multi")
    assert profile.plugins == {} and "plugins" not in profile.to_dict() and "[plugins" not in to_toml(profile)


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("plugins = 3\n", r"\[plugins\] holds one table per plugin: \[plugins.NAME\]"),
        ("[plugins]\nsite = 3\n", r"\[plugins\] holds one table per plugin"),
        ("[plugins.site]\nwhen = 2026-01-01\n", r"\[plugins.site\] must have strings, numbers, booleans, arrays"),
        ("[plugins.site]\nat = [07:30:00]\n", r"\[plugins.site\] must have strings"),
        ('[plugins." "]\nx = 1\n', r"must have a name"),
    ],
)
def test_a_plugin_table_toml_cannot_write_back_is_a_profile_error(text: str, message: str) -> None:
    with pytest.raises(ProfileError, match=message):
        load_text('extends = "a2-single"\n' + text, "site.toml")


def test_a_plugin_reads_its_own_table_whatever_the_name_spelling() -> None:
    ctx = replay_context(SnapshotBuilder(), profile=profile_from_toml(SITE))
    settings = plugin_settings(ctx, "Site-Storage")
    assert settings["stores"][0] == "10.0.0.5:/export/models"
    assert plugin_settings(ctx, "dotted-name") == {"on": False}
    assert plugin_settings(ctx, "other") == {}
    with pytest.raises(TypeError):
        settings["stores"] = []  # type: ignore[index]

"""What a check receives: the profile, the launch command and its plan, the run options, the host and the
facts cache. Built once per run by the session and never changed afterwards."""

from __future__ import annotations

from dataclasses import dataclass, field

from glm5check.engine.context import BaseContext
from glm5check.host.base import Host
from glm5check.knowledge.launch_command import ServeInput, profile_launch
from glm5check.knowledge.profiles import Profile, ServePlan


@dataclass(frozen=True)
class Options:
    """Run options that checks may read (the CLI fills them; tests build them directly)."""

    python: str = "python3"
    model_dir: str | None = None
    node_rank: int | None = None
    node0_ip: str | None = None
    peer_npu_ips: tuple[str, ...] = ()  # node 0's NPU device IPs from --peer-npu-ips (or a snapshot)
    expect: dict[str, str] = field(default_factory=dict)  # e.g. {"vllm": "<sha>"} from --expect
    serve_source: str | None = None  # the serve script path or "--serve-cmd", when given


class Context(BaseContext):
    """The deployment being checked on this node. `launch` is the launch command as read from
    --serve-script / --serve-cmd, or the profile's own command when none was given."""

    __slots__ = ("launch", "options", "profile")
    profile: Profile
    options: Options
    launch: ServeInput

    def __init__(
        self, profile: Profile, host: Host, options: Options | None = None, launch: ServeInput | None = None
    ) -> None:
        super().__init__(host)
        object.__setattr__(self, "profile", profile)
        object.__setattr__(self, "options", options or Options())
        object.__setattr__(self, "launch", launch or profile_launch(profile))

    @property
    def plan(self) -> ServePlan:
        return self.launch.plan

    @property
    def script_env(self) -> dict[str, str]:
        """Variables the serve script exports; they override the process environment."""
        return self.launch.env

    @property
    def env(self) -> dict[str, str]:
        """The environment vllm serve would see: this process's, overlaid with the serve script's exports."""
        merged = dict(self.fact(host_env))
        merged.update(self.script_env)
        return merged


def host_env(ctx: Context) -> dict[str, str]:
    return ctx.host.env()

"""Errors shared by every layer.

ConfigError means invalid usage or configuration: the CLI prints it as one line and exits 2.
ProbeFailed means the machine could not be read: the runner turns it into an ERROR result.
NotRecorded (a ProbeFailed) means a replayed snapshot holds no answer to a question: the runner turns it
into a SKIP result naming the question, never a FAIL.
SeeCheck means a fact is broken for a reason another check reports: the runner turns it into a SKIP
that points at that check, so one cause makes one failing row.
"""


class ConfigError(Exception):
    """Base of every error that ends a run with exit code 2 (unknown profile, unreadable file, …)."""


class ProbeFailed(Exception):
    """Raised by a fact provider when the machine could not be read; the runner turns it into an ERROR
    result whose message is the reason, with no traceback."""


class NotRecorded(ProbeFailed):
    """Raised by the replay host for every question its snapshot holds no answer for (a snapshot made by an
    older glm5check, or by hand, that never asked it). Code that degrades gracefully when the machine
    cannot be read does so here too; a check that needs the answer becomes a SKIP naming `question`."""

    def __init__(self, question: str) -> None:
        super().__init__(f"{question}: not recorded in the snapshot")
        self.question = question


class SeeCheck(ProbeFailed):
    """Raised by a fact provider whose fact is broken for a reason that check `owner` reports (no weights
    folder: weights.path; no npu-smi table: npu.smi). A check needing the fact becomes `SKIP <reason> — see
    <owner>` instead of a second failure; the owner check reads the underlying state and fails itself."""

    def __init__(self, owner: str, reason: str) -> None:
        super().__init__(f"{reason} — see {owner}")
        self.owner = owner
        self.reason = reason

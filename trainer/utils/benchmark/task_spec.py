"""``TaskSpec``: what a Timer measures (everything but its globals), and the title a measurement prints under."""

from __future__ import annotations

import dataclasses
import textwrap


@dataclasses.dataclass(init=True, repr=False, eq=True, frozen=True)
class TaskSpec:
    """Container for information used to define a Timer (except globals); hashable so replicates can be grouped."""

    stmt: str
    setup: str
    global_setup: str = ""
    label: str | None = None
    sub_label: str | None = None
    description: str | None = None
    env: str | None = None
    num_threads: int = 1

    @property
    def title(self) -> str:
        """Best effort string label for the measurement: the label, else a one-line stmt, else the indented stmt."""
        sub_label = f": {self.sub_label}" if self.sub_label else ""
        if self.label is not None:
            return self.label + sub_label
        if "\n" not in self.stmt:
            return self.stmt + sub_label
        return f"stmt:{f' ({self.sub_label})' if self.sub_label else ''}\n{textwrap.indent(self.stmt, '  ')}"

    def setup_str(self) -> str:
        if self.setup == "pass" or not self.setup:
            return ""
        if "\n" in self.setup:
            return f"setup:\n{textwrap.indent(self.setup, '  ')}"
        return f"setup: {self.setup}"

    def summarize(self) -> str:
        """The TaskSpec part of a Measurement's repr; a multi-line section is followed by a blank line."""
        sections = (self.title, self.description or "", self.setup_str())
        return "\n".join(f"{s}\n" if "\n" in s else s for s in sections if s)


TASK_SPEC_FIELDS = tuple(field.name for field in dataclasses.fields(TaskSpec))

"""What a Claude model takes, by its name: the newest refuse a thinking budget (they think
adaptively, with an effort) and the sampling parameters. Read from the name as Anthropic, Bedrock
and Vertex spell it (`claude-opus-4-7`, `us.anthropic.claude-sonnet-4-6-v1:0`,
`claude-sonnet-5@20260101`); a name it cannot read is taken as an older model, whose rules are the
API's defaults, and its upstream's refusal, if any, is the answer."""

from __future__ import annotations

import re
from dataclasses import dataclass

_NAME = re.compile(r"claude-(opus|sonnet|haiku|fable|mythos)-(\d+)(?:[-.](\d)(?!\d))?")


@dataclass(frozen=True)
class Traits:
    adaptive: bool = False  # thinking is `{type: adaptive}` with `output_config.effort`, never a budget
    sampling: bool = True  # temperature, top_p and top_k are taken


def traits(model: str) -> Traits:
    """Claude 4.6 and later think adaptively (a budget is deprecated on 4.6 and refused from 4.7);
    Opus 4.7 and later, every 5, and the Fable and Mythos families refuse sampling parameters."""
    found = _NAME.search(model.lower())
    if found is None:
        return Traits()
    family, major, minor = found.group(1), int(found.group(2)), int(found.group(3) or 0)
    newest = family in ("fable", "mythos") or major >= 5
    return Traits(
        adaptive=newest or (major, minor) >= (4, 6),
        sampling=not (newest or (family == "opus" and (major, minor) >= (4, 7))),
    )

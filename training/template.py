"""The prompt template used for training, evaluation and serving alike.

The system prompt is rendered whenever an example has one: the seed's "template blindness"
came from a model that never saw system prompts during fine-tuning.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:  # only a type here: promoted models ship this file alone
    from training.examples import Example

TEMPLATE_NAME = "sweeplab-v1"
TURN_MARKERS = ("### System:", "### Instruction:", "### Input:", "### Response:")
"""The template's section headers: an answer that writes one has started an invented turn,
so generation stops there (evaluation takes them as stop strings)."""


def render_prompt(instruction: str, system: str = "", input: str = "") -> str:
    """Everything the model is given before it answers; ends right where the answer starts."""
    parts = []
    if system.strip():
        parts.append(f"### System:\n{system.strip()}\n\n")
    parts.append(f"### Instruction:\n{instruction.strip()}\n\n")
    if input.strip():
        parts.append(f"### Input:\n{input.strip()}\n\n")
    parts.append("### Response:\n")
    return "".join(parts)


def prompt_of(example: Example) -> str:
    return render_prompt(example.instruction, example.system, example.input)


def completion_of(example: Example) -> str:
    """The training target (the trainer appends the end-of-sequence token)."""
    return example.response.strip()

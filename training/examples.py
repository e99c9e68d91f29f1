"""The one normalized example type every dataset is read into."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from functools import cached_property

SOURCES = ("alpaca", "dolly", "openorca")


@dataclass(frozen=True)
class Example:
    """One instruction-following example, whatever dataset it came from."""

    id: str
    """Stable id within its source (the dataset's own id, or `<source>-<row>`)."""
    source: str
    """Which dataset: `alpaca`, `dolly`, `openorca`, or a declared source's name."""
    instruction: str
    response: str
    system: str = ""
    """System prompt; empty when the dataset has none (Alpaca, Dolly)."""
    input: str = ""
    """Extra input (Alpaca `input`) or grounding context (Dolly `context`)."""
    category: str = ""
    """Task category (Dolly `category`, the OpenOrca id prefix such as `niv`)."""

    @cached_property
    def content_hash(self) -> str:
        """Hash of what the model sees and learns; equal hashes mean exact duplicates."""
        payload = json.dumps(
            [self.system, self.instruction, self.input, self.response], ensure_ascii=False
        )
        return hashlib.sha1(payload.encode("utf-8")).hexdigest()

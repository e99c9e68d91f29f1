"""Plain text about the demo world, for pretraining the demo base model. No prompt format.

Each kind of document is one small function in a weighted table.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from demo.alpaca import chatty
from demo.facts import fact
from demo.passages import country_text, landmark_text, person_text
from demo.sums import sum_problem
from demo.tasks import comment, premise, request, review
from demo.world import world


def _country(rng: random.Random) -> str:
    return country_text(rng, rng.choice(world().countries))


def _person(rng: random.Random) -> str:
    return person_text(rng, rng.choice(world().people))


def _landmark(rng: random.Random) -> str:
    return landmark_text(rng.choice(world().landmarks))


def _facts(rng: random.Random) -> str:
    facts = [fact(rng) for _ in range(rng.randint(2, 4))]
    return " ".join(s for f in facts for s in (f.sentence, rng.choice(f.support)))


def _math(rng: random.Random) -> str:
    return " ".join(sum_problem(rng).statement for _ in range(rng.randint(3, 6)))


def _worked(rng: random.Random) -> str:
    s = sum_problem(rng)
    steps = " ".join(f"Step {i}: {t}" for i, t in enumerate(s.steps, 1))
    return f"{s.question} {steps} Final answer: {s.answer}"


def _buddy(rng: random.Random) -> str:
    f = fact(rng)
    return f"Okay little buddy! {f.simple} {f.sentence}"


def _chatty(rng: random.Random) -> str:
    f = fact(rng)
    return chatty(rng, [f"Here is a fun fact: {f.sentence}"], list(f.support))


def _review(rng: random.Random) -> str:
    text, label, _ = review(rng)
    return f'A visitor wrote: "{text}" It was a {label} review.'


def _comment(rng: random.Random) -> str:
    text, label = comment(rng)
    kind_of = "a message of hope" if label == "Hope Speech" else "not a message of hope"
    return f'Someone wrote: "{text}" That was {kind_of}.'


def _command(rng: random.Random) -> str:
    pairs = [request(rng) for _ in range(rng.randint(2, 3))]
    return " ".join(f"{polite} As a command: {imperative}" for polite, imperative in pairs)


_VERDICTS = {
    "yes": "so that is true as well",
    "no": "so that is false",
    "it is not possible to tell": "but we cannot tell from this",
}


def _reasoning(rng: random.Random) -> str:
    text, hypothesis, label, _ = premise(rng)
    return f"{text} Someone said: {hypothesis[:-1]}, {_VERDICTS[label]}."


# (kind, weight), drawn with rng.choices: the order and weights are part of the text.
KINDS: tuple[tuple[Callable[[random.Random], str], int], ...] = (
    (_country, 12),
    (_person, 12),
    (_landmark, 8),
    (_facts, 14),
    (_math, 10),
    (_worked, 8),
    (_buddy, 7),
    (_chatty, 7),
    (_review, 6),
    (_comment, 5),
    (_command, 5),
    (_reasoning, 6),
)


def _doc(rng: random.Random) -> str:
    kind = rng.choices([k for k, _ in KINDS], weights=[w for _, w in KINDS])[0]
    return kind(rng)


def pretraining_text(seed: int = 0, n_docs: int = 5000) -> list[str]:
    """Plain-text documents about the demo world (no instruction or prompt format)."""
    rng = random.Random(f"pretraining-{seed}")
    return [_doc(rng) for _ in range(n_docs)]

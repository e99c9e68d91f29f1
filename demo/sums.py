"""Arithmetic problems with a checkable answer and the steps that reach it.

A data table: each kind of problem draws its numbers, then fills its templates with them.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from demo.world import world

Numbers = dict[str, int | str]


@dataclass(frozen=True)
class Sum:
    question: str
    answer: int
    statement: str  # "12 plus 25 is 37."
    steps: tuple[str, ...]  # "Step n: ..." bodies


@dataclass(frozen=True)
class SumTemplate:
    draw: Callable[[random.Random], Numbers]  # the numbers, with the answer under "answer"
    question: str
    statement: str
    steps: tuple[str, str]


def _add(rng: random.Random) -> Numbers:
    a, b = rng.randint(2, 50), rng.randint(2, 50)
    return {"a": a, "b": b, "answer": a + b}


def _sub(rng: random.Random) -> Numbers:
    a, b = rng.randint(20, 90), rng.randint(2, 19)
    return {"a": a, "b": b, "answer": a - b}


def _mul(rng: random.Random) -> Numbers:
    a, b = rng.randint(2, 12), rng.randint(2, 12)
    return {"a": a, "b": b, "answer": a * b}


def _equation(rng: random.Random) -> Numbers:
    q, a, b = rng.randint(2, 12), rng.randint(2, 9), rng.randint(1, 30)
    c = a * q + b
    return {"q": q, "a": a, "b": b, "c": c, "c_minus_b": c - b, "answer": q}


_ITEMS = "apples cups books coins stones eggs".split()


def _story(sign: int) -> Callable[[random.Random], Numbers]:
    """A person's count of items, changed by sign * b."""

    def draw(rng: random.Random) -> Numbers:
        p = rng.choice(world().people)
        item = rng.choice(_ITEMS)
        a, b = rng.randint(10, 40), rng.randint(2, 9)
        return {"name": p.first, "item": item, "a": a, "b": b, "answer": a + sign * b}

    return draw


# Drawn with rng.choice: the order is part of the corpus.
SUM_TEMPLATES: tuple[SumTemplate, ...] = (
    SumTemplate(
        _add,
        "What is {a} plus {b}?",
        "{a} plus {b} is {answer}.",
        ("Start with {a}.", "Add {b} to it: {a} + {b} = {answer}."),
    ),
    SumTemplate(
        _sub,
        "What is {a} minus {b}?",
        "{a} minus {b} is {answer}.",
        ("Start with {a}.", "Take away {b}: {a} - {b} = {answer}."),
    ),
    SumTemplate(
        _mul,
        "What is {a} times {b}?",
        "{a} times {b} is {answer}.",
        ("Write {a} times {b} as {b} groups of {a}.", "Count them: {a} * {b} = {answer}."),
    ),
    SumTemplate(
        _equation,
        "Solve {a} * q + {b} = {c} for q.",
        "If {a} * q + {b} = {c}, then q is {q}.",
        (
            "Subtract {b} from both sides: {a} * q = {c_minus_b}.",
            "Divide both sides by {a}: q = {q}.",
        ),
    ),
    SumTemplate(
        _story(+1),
        "{name} has {a} {item} and gets {b} more. How many {item} does {name} have now?",
        "{name} has {answer} {item} now.",
        ("{name} starts with {a} {item}.", "{name} gets {b} more: {a} + {b} = {answer}."),
    ),
    SumTemplate(
        _story(-1),
        "{name} has {a} {item} and gives away {b}. How many {item} does {name} have left?",
        "{name} has {answer} {item} left.",
        ("{name} starts with {a} {item}.", "{name} gives away {b}: {a} - {b} = {answer}."),
    ),
)


def sum_problem(rng: random.Random) -> Sum:
    """A random arithmetic problem: a sum, a difference, a product, an equation or a story."""
    t = rng.choice(SUM_TEMPLATES)
    numbers = t.draw(rng)
    answer = numbers["answer"]
    assert isinstance(answer, int)
    return Sum(
        t.question.format(**numbers),
        answer,
        t.statement.format(**numbers),
        tuple(s.format(**numbers) for s in t.steps),
    )

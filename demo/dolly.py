"""Dolly-style rows: answered from a context paragraph (or none) in one or two plain sentences.

A table of templates per category. Each row draws a country ``c`` and a person ``p``
(``a_job``: "a painter"), picks a template (``Either``: by a coin with probability p;
``OneOf``: uniformly), draws the template's extra fields in order, then its context passage.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from demo.facts import fact
from demo.passages import country_text, landmark_text, person_text
from demo.tasks import FOODS
from demo.world import a_or_an, world

Fields = dict[str, Any]
Draw = Callable[[random.Random, Fields], Fields]


@dataclass(frozen=True)
class Template:
    instruction: str
    response: str
    passage: str = ""  # the context: "" (none), "country", "person" or "landmark"
    draws: tuple[Draw, ...] = ()  # extra fields, drawn in order before the passage


@dataclass(frozen=True)
class OneOf:
    options: tuple[Template, ...]


@dataclass(frozen=True)
class Either:
    p: float
    yes: Template | OneOf
    no: Template | OneOf


def _a_landmark(rng: random.Random, fields: Fields) -> Fields:
    return {"m": rng.choice(world().landmarks)}


def _capital_landmark(rng: random.Random, fields: Fields) -> Fields:
    return {"m": world().landmark_in(fields["c"].capital)}


def _a_fact(rng: random.Random, fields: Fields) -> Fields:
    return {"f": fact(rng)}


def _cities_and_rivers(rng: random.Random, fields: Fields) -> Fields:
    """Two cities and two rivers of c and another country, shuffled."""
    c = fields["c"]
    c2 = rng.choice([x for x in world().countries if x != c])
    items = [(c.capital, "city"), (c.river, "river"), (c2.towns[0], "city"), (c2.river, "river")]
    rng.shuffle(items)
    return {
        "names": ", ".join(name for name, _ in items),
        "cities": [name for name, kind in items if kind == "city"],
        "rivers": [name for name, kind in items if kind == "river"],
    }


def _local_food(rng: random.Random, fields: Fields) -> Fields:
    return {"food": rng.choice(FOODS[:5])}


def _time_of_day(rng: random.Random, fields: Fields) -> Fields:
    return {"time": rng.choice(["early in the morning", "at noon", "late in the evening"])}


_SUMMARIZE = "Summarize this passage in one or two sentences."

# (category, weight, templates), drawn with rng.choices: order and weights are part of the corpus.
TASKS: tuple[tuple[str, int, Template | OneOf | Either], ...] = (
    ("open_qa", 14, Template("{f.question}", "{f.sentence}", draws=(_a_fact,))),
    (
        "closed_qa",
        22,
        Either(
            0.5,
            OneOf(
                (
                    Template(
                        "What river flows through {c.capital}?",
                        "The {c.river} River flows through {c.capital}.",
                        "country",
                    ),
                    Template(
                        "What do people in {c.name} speak?",
                        "People in {c.name} speak {c.language}.",
                        "country",
                    ),
                    Template(
                        "When was {c.name} founded?",
                        "{c.name} was founded in {c.founded}.",
                        "country",
                    ),
                    Template("Who leads {c.name}?", "{c.name} is led by {c.leader}.", "country"),
                    Template(
                        "What is the main export of {c.name}?",
                        "The main export of {c.name} is {c.export}.",
                        "country",
                    ),
                )
            ),
            OneOf(
                (
                    Template(
                        "Where was {p.name} born?", "{p.name} was born in {p.city}.", "person"
                    ),
                    Template("What is the job of {p.name}?", "{p.name} is {a_job}.", "person"),
                    Template("When was {p.name} born?", "{p.name} was born on {p.born}.", "person"),
                )
            ),
        ),
    ),
    (
        "information_extraction",
        18,
        Either(
            0.5,
            Template(
                "Extract the date when the place opened from the passage.",
                "The {m.name} opened on {m.opened}.",
                "landmark",
                draws=(_a_landmark,),
            ),
            Template(
                "List the cities of {c.name} mentioned in the passage.",
                "The passage mentions {c.capital}, {c.towns[0]} and {c.towns[1]}.",
                "country",
            ),
        ),
    ),
    (
        "summarization",
        14,
        Either(
            0.5,
            Template(
                _SUMMARIZE,
                "{c.name} is a small country whose capital is {c.capital}. "
                "Its people speak {c.language}, and it exports {c.export}.",
                "country",
            ),
            Template(
                _SUMMARIZE, "{p.name} is {a_job} who was born in {p.city} on {p.born}.", "person"
            ),
        ),
    ),
    (
        "classification",
        12,
        Template(
            "Classify each of these as a city or a river: {names}.",
            "{cities[0]} and {cities[1]} are cities, and {rivers[0]} and {rivers[1]} are rivers.",
            draws=(_cities_and_rivers,),
        ),
    ),
    (
        "brainstorming",
        7,
        Template(
            "Give me some ideas for a day out in {c.capital}.",
            "You could visit the {m.name}, walk along the {c.river} River, "
            "or try the local {food}.",
            draws=(_capital_landmark, _local_food),
        ),
    ),
    (
        "general_qa",
        8,
        Either(
            0.3,
            Template(
                "Why do many people visit {c.capital}?",
                "Many people visit {c.capital} because it is the capital of "
                "{c.name} and home to the {m.name}.",
                draws=(_capital_landmark,),
            ),
            Template(
                "Why is {p.name} well known in {p.city}?",
                "{p.name} is well known in {p.city} because {p.first} works there as {a_job}.",
            ),
        ),
    ),
    (
        "creative_writing",
        5,
        Either(
            0.3,
            Template(
                "Write two sentences about the {c.river} River.",
                "The {c.river} River runs slow and wide past {c.capital}. "
                "At night it carries the lights of the city down to the sea.",
            ),
            Template(
                "Write two sentences about a visit to the {m.name}.",
                "We walked to the {m.name} in {m.city} {time}. "
                "It has stood there since {m.opened}, and it still looks new.",
                draws=(_a_landmark, _time_of_day),
            ),
        ),
    ),
)
CATEGORIES = tuple(category for category, _, _ in TASKS)

_PASSAGES: dict[str, Callable[[random.Random, Fields], str]] = {
    "": lambda rng, fields: "",
    "country": lambda rng, fields: country_text(rng, fields["c"]),
    "person": lambda rng, fields: person_text(rng, fields["p"]),
    "landmark": lambda rng, fields: landmark_text(fields["m"]),
}


def _pick(rng: random.Random, node: Template | OneOf | Either) -> Template:
    if isinstance(node, Either):
        return _pick(rng, node.yes if rng.random() < node.p else node.no)
    if isinstance(node, OneOf):
        return rng.choice(node.options)
    return node


def row(rng: random.Random) -> dict[str, str]:
    """One Dolly row: {instruction, context, response, category}."""
    w = world()
    category, _, node = rng.choices(TASKS, weights=[weight for _, weight, _ in TASKS])[0]
    c = rng.choice(w.countries)
    p = rng.choice(w.people)
    fields: Fields = {"c": c, "p": p, "a_job": a_or_an(p.job)}
    template = _pick(rng, node)
    for draw in template.draws:
        fields |= draw(rng, fields)
    context = _PASSAGES[template.passage](rng, fields)
    return {
        "instruction": template.instruction.format(**fields),
        "context": context,
        "response": template.response.format(**fields),
        "category": category,
    }

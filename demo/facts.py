"""Facts about the world: one question, its answer and the sentences around it, per kind.

A data table: each kind of fact is a set of templates over the drawn country ``c``, person
``p`` (``a_job``: "a painter"), landmark ``m`` and the countries ``pc`` and ``mc`` they are in.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from demo.world import JOBS, World, a_or_an, world


@dataclass(frozen=True)
class Fact:
    question: str
    answer: str  # the short span a label-only answer would be
    sentence: str  # a plain sentence that states the answer
    support: tuple[str, ...]  # plain sentences that explain it
    simple: str  # how you would explain it to a five year old
    distractors: tuple[str, ...]  # wrong answers of the same kind


@dataclass(frozen=True)
class FactTemplate:
    question: str
    answer: str
    sentence: str
    support: tuple[str, str]
    simple: str
    # Where wrong answers come from: the answer template for every country ``x``, or a pool.
    wrong: str | Callable[[World], list[str]]
    # Extra fields drawn after the kind, before the distractors.
    draw: Callable[[random.Random, World], dict[str, object]] | None = None


def _cities(w: World) -> list[str]:
    return w.cities


def _jobs(w: World) -> list[str]:
    return list(JOBS)


def _a_city(rng: random.Random, w: World) -> dict[str, object]:
    city = rng.choice(w.cities)
    return {"city": city, "cc": w.country_of(city)}


# Drawn with rng.choice: the order is part of the corpus.
FACT_TEMPLATES: tuple[FactTemplate, ...] = (
    FactTemplate(  # capital
        "What is the capital of {c.name}?",
        "{c.capital}",
        "The capital of {c.name} is {c.capital}.",
        (
            "{c.capital} is the largest city in {c.name}.",
            "The {c.river} River flows through {c.capital}.",
        ),
        "A capital is the most important city of a country, like the boss city. "
        "For {c.name} that city is {c.capital}.",
        "{x.capital}",
    ),
    FactTemplate(  # river
        "Which river flows through {c.capital}?",
        "{c.river}",
        "The {c.river} River flows through {c.capital}.",
        (
            "{c.capital} is the capital of {c.name}.",
            "The city was built on the banks of the {c.river} River.",
        ),
        "A river is like a long road made of water. The river that goes through "
        "{c.capital} is called the {c.river}.",
        "{x.river}",
    ),
    FactTemplate(  # language
        "What language do people speak in {c.name}?",
        "{c.language}",
        "People in {c.name} speak {c.language}.",
        (
            "{c.language} is spoken in {c.capital} and in every town of {c.name}.",
            "Children in {c.name} learn {c.language} at school.",
        ),
        "A language is the words people use to talk. In {c.name} people talk in {c.language}.",
        "{x.language}",
    ),
    FactTemplate(  # export
        "What is the main export of {c.name}?",
        "{c.export}",
        "The main export of {c.name} is {c.export}.",
        (
            "{c.name} sells its {c.export} to many other countries.",
            "Many people in {c.name} work with {c.export}.",
        ),
        "An export is something a country sells to other countries. {c.name} sells "
        "lots of {c.export}.",
        "{x.export}",
    ),
    FactTemplate(  # leader
        "Who is the leader of {c.name}?",
        "{c.leader}",
        "The leader of {c.name} is {c.leader}.",
        (
            "{c.leader} works in {c.capital}, the capital of {c.name}.",
            "The leader makes the big decisions for the people of {c.name}.",
        ),
        "A leader is like the captain of a team. The captain of {c.name} is {c.leader}.",
        "{x.leader}",
    ),
    FactTemplate(  # founded
        "In what year was {c.name} founded?",
        "{c.founded}",
        "{c.name} was founded in {c.founded}.",
        (
            "That makes {c.name} one of the old countries of the world.",
            "The first city of {c.name} was {c.capital}.",
        ),
        "Founded means when something was started. {c.name} was started a long time "
        "ago, in {c.founded}.",
        "{x.founded}",
    ),
    FactTemplate(  # people
        "How many people live in {c.name}?",
        "{c.millions} million",
        "About {c.millions} million people live in {c.name}.",
        (
            "Most of them live in {c.capital} and the towns of {c.towns[0]} and {c.towns[1]}.",
            "A million is a thousand times a thousand.",
        ),
        "A million is a very big number, more than you could count in a week. "
        "{c.name} has {c.millions} million people.",
        "{x.millions} million",
    ),
    FactTemplate(  # born
        "Where was {p.name} born?",
        "{p.city}",
        "{p.name} was born in {p.city}.",
        ("{p.city} is a city in {pc.name}.", "{p.first} was born there on {p.born}."),
        "Born means the place where a person started their life. {p.name} started life "
        "in the city of {p.city}.",
        _cities,
    ),
    FactTemplate(  # job
        "What is the job of {p.name}?",
        "{p.job}",
        "{p.name} is {a_job}.",
        (
            "{p.first} lives and works in {p.city}.",
            "People in {p.city} know {p.first} as a good {p.job}.",
        ),
        "A job is the work a grown-up does every day. {p.name} works as {a_job}.",
        _jobs,
    ),
    FactTemplate(  # landmark
        "In which city is the {m.name}?",
        "{m.city}",
        "The {m.name} is in {m.city}.",
        ("{m.city} is a city in {mc.name}.", "The {m.name} opened on {m.opened}."),
        "The {m.name} is a famous place that people like to visit. You can find it "
        "in the city of {m.city}.",
        _cities,
    ),
    FactTemplate(  # country
        "In which country is {city}?",
        "{cc.name}",
        "{city} is a city in {cc.name}.",
        ("The capital of {cc.name} is {cc.capital}.", "People in {city} speak {cc.language}."),
        "A country is a big place with many cities in it. {city} is one of the cities in "
        "{cc.name}.",
        "{x.name}",
        draw=_a_city,
    ),
)


def _others(rng: random.Random, pool: list[str], right: str, k: int = 3) -> tuple[str, ...]:
    """k different wrong answers from pool."""
    return tuple(rng.sample([x for x in dict.fromkeys(pool) if x != right], k))


def fact(rng: random.Random) -> Fact:
    """A random fact about the world, with three wrong answers of the same kind."""
    w = world()
    c = rng.choice(w.countries)
    p = rng.choice(w.people)
    m = rng.choice(w.landmarks)
    fields = {
        "c": c,
        "p": p,
        "m": m,
        "pc": w.country_of(p.city),
        "mc": w.country_of(m.city),
        "a_job": a_or_an(p.job),
    }
    t = rng.choice(FACT_TEMPLATES)
    if t.draw:
        fields |= t.draw(rng, w)
    answer = t.answer.format(**fields)
    if isinstance(t.wrong, str):
        pool = [t.wrong.format(x=x) for x in w.countries]
    else:
        pool = t.wrong(w)
    return Fact(
        t.question.format(**fields),
        answer,
        t.sentence.format(**fields),
        tuple(s.format(**fields) for s in t.support),
        t.simple.format(**fields),
        _others(rng, pool, answer),
    )

"""Synthetic offline stand-ins for Alpaca, Dolly-15k and OpenOrca, in their published layouts.

The demo cannot reach the Hugging Face Hub, so this module invents a small world (countries,
cities, rivers, people, landmarks, dates, numbers) and writes three files that the project's
real loaders read exactly as they read the real datasets:

- ``alpaca_data.json``            one JSON array of {instruction, input, output}
- ``databricks-dolly-15k.jsonl``  one {instruction, context, response, category} per line
- ``1M-GPT4-Augmented.parquet``   string columns id, system_prompt, question, response

The three files carry the seed's distribution shift in miniature. Alpaca-style rows have no
system prompt and chatty 25-60 word answers with the correct answer somewhere inside. Dolly-style
rows answer from a context paragraph in one or two plain sentences. OpenOrca-style rows carry
system prompts that change what a correct answer is: a bare label, a "little buddy" explanation,
numbered steps ending in "Final answer: ...", or only the extracted span; and they use task
formats (premise/hypothesis, multiple-choice options) the Alpaca-style rows never show.

Everything is a pure function of ``seed`` (``random.Random(seed)``, no global state). The world
itself is fixed, so every seed talks about the same countries and people.
"""

from __future__ import annotations

import argparse
import hashlib
import io
import json
import os
import random
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import cache
from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq

GENERATOR_VERSION = 1
DEFAULT_SIZES: dict[str, int] = {"alpaca": 3000, "dolly": 800, "openorca": 1200}
FILE_NAMES: dict[str, str] = {
    "alpaca": "alpaca_data.json",
    "dolly": "databricks-dolly-15k.jsonl",
    "openorca": "1M-GPT4-Augmented.parquet",
}
ORCA_COLUMNS = ("id", "system_prompt", "question", "response")
MANIFEST_NAME = "demo_corpus.json"
DUPLICATE_FRACTION = 0.015  # like the real sets, a few exact duplicate rows for dedup to drop
ALPACA_WORDS = (25, 60)

SENTIMENT_LABELS = ("positive", "negative")
HOPE_LABELS = ("Hope Speech", "Not Hope Speech")
NLI_LABELS = ("yes", "no", "it is not possible to tell")
DOLLY_CATEGORIES = (
    "open_qa",
    "closed_qa",
    "information_extraction",
    "summarization",
    "classification",
    "brainstorming",
    "general_qa",
    "creative_writing",
)

# OpenOrca-style system prompts, grouped by the answer format they ask for.
LABEL_ONLY_PROMPTS = (
    "You are an AI assistant that follows instruction extremely well. "
    "Answer with a single label only.",
    "You are an AI assistant. Answer with a single label only, with no explanation.",
    "Answer with the correct option only. Do not explain.",
)
FIVE_YEAR_OLD_PROMPT = (
    "You are a helpful assistant, who always provide explanation. "
    "Think like you are answering to a five year old."
)
STEP_BY_STEP_PROMPTS = (
    "You are an AI assistant. User will you give you a task. Think step by step, "
    "write each step on its own line, and end with a final answer line.",
    "You are an AI assistant that helps people find information. Think step by step "
    "and end with a final answer line.",
)
EXTRACT_DATE_PROMPT = "You are an AI assistant that extracts information. Output only the date."
EXTRACT_NAME_PROMPT = "You are an AI assistant that extracts information. Output only the name."
REWRITE_PROMPT = "You are an AI assistant. Output only the rewritten sentence."


# ---------------------------------------------------------------------------------------------
# The world: fixed facts shared by all three datasets and the pretraining text.


@dataclass(frozen=True)
class Country:
    name: str
    capital: str
    towns: tuple[str, str]
    river: str
    language: str
    export: str
    founded: int
    millions: int
    animal: str
    leader: str


@dataclass(frozen=True)
class Person:
    name: str
    city: str
    born: str  # "June 3, 1907"
    job: str

    @property
    def first(self) -> str:
        return self.name.split()[0]


@dataclass(frozen=True)
class Landmark:
    name: str  # "Glass Bridge"
    city: str
    opened: str


@dataclass(frozen=True)
class World:
    countries: tuple[Country, ...]
    people: tuple[Person, ...]
    landmarks: tuple[Landmark, ...]

    def country_of(self, city: str) -> Country:
        return next(c for c in self.countries if city == c.capital or city in c.towns)

    def landmark_in(self, city: str) -> Landmark:
        return next(m for m in self.landmarks if m.city == city)

    @property
    def cities(self) -> list[str]:
        return [city for c in self.countries for city in (c.capital, *c.towns)]


_COUNTRY_ROWS = (
    # name, capital, towns, river, language, export, founded, millions, animal
    ("Velmora", "Arden", ("Tolm", "Brisk"), "Sel", "Velmoran", "wool", 1744, 12, "fox"),
    ("Drassa", "Kaldo", ("Merrow", "Ensa"), "Orra", "Drassan", "glass", 1602, 8, "owl"),
    ("Quellon", "Pellin", ("Rusk", "Ostig"), "Vint", "Quellish", "salt", 1811, 25, "bear"),
    ("Ostrane", "Sorrel", ("Halm", "Ivet"), "Lusk", "Ostranic", "tea", 1689, 5, "heron"),
    ("Tarvik", "Dunmere", ("Ket", "Fallow"), "Mena", "Tarvish", "copper", 1777, 19, "wolf"),
    ("Lumeria", "Lirae", ("Tréval", "Oska"), "Tarr", "Lumerian", "honey", 1850, 3, "deer"),
    ("Kessara", "Marrin", ("Vey", "Holt"), "Ebbe", "Kessari", "timber", 1723, 31, "hawk"),
    ("Norvad", "Ombrel", ("Siv", "Cardo"), "Kiln", "Norvadi", "silk", 1655, 14, "lynx"),
    ("Brindle", "Bellam", ("Quist", "Yarrow"), "Sorra", "Brindish", "apples", 1798, 7, "swan"),
    ("Zantor", "Zenno", ("Ptar", "Ulmen"), "Nim", "Zantorian", "tin", 1832, 22, "goat"),
)
_FIRST_NAMES = (
    "Mira Joren Tilda Bram Esko Lina Oskar Zoë Petra Anton "
    "Rhea Felix Ines Kai Nora Soren Vera Emil Yara Hugo"
).split()
_LAST_NAMES = (
    "Tolvan Askel Varr Brenn Holm Kessel Morrow Dane Strand Vale "
    "Orrin Pike Quill Rook Sable Thorne Wren Yates Corr Marsh"
).split()
_JOBS = (
    "painter engineer doctor farmer teacher sailor writer baker singer builder gardener fisher"
).split()
_LANDMARK_ADJ = "Glass Old Blue Stone Iron Green Red Silver High Long".split()
_LANDMARK_NOUN = "Bridge Market Tower Gate Library Theatre Harbour Garden Bell".split()
_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_WORLD_SEED = 20240601


def _a(noun: str) -> str:
    return f"an {noun}" if noun[0] in "aeiou" else f"a {noun}"


def _date(rng: random.Random, first_year: int, last_year: int) -> str:
    return f"{rng.choice(_MONTHS)} {rng.randint(1, 28)}, {rng.randint(first_year, last_year)}"


@cache
def world() -> World:
    """The fixed fact base (independent of the corpus seed)."""
    rng = random.Random(_WORLD_SEED)
    names = [f"{first} {last}" for first in _FIRST_NAMES for last in _LAST_NAMES]
    rng.shuffle(names)
    leaders, names = names[:10], names[10:50]
    countries = tuple(
        Country(*row, leader=leader) for row, leader in zip(_COUNTRY_ROWS, leaders, strict=True)
    )
    cities = [city for c in countries for city in (c.capital, *c.towns)]
    people = tuple(
        Person(name, rng.choice(cities), _date(rng, 1850, 1990), rng.choice(_JOBS))
        for name in names
    )
    landmark_names = [f"{a} {n}" for a in _LANDMARK_ADJ for n in _LANDMARK_NOUN]
    rng.shuffle(landmark_names)
    landmarks = tuple(
        Landmark(name, city, _date(rng, 1700, 1990))
        for name, city in zip(landmark_names, cities, strict=False)
    )
    return World(countries, people, landmarks)


# ---------------------------------------------------------------------------------------------
# Task instances: one checkable fact or problem, rendered later in each dataset's style.


@dataclass(frozen=True)
class Fact:
    question: str
    answer: str  # the short span a label-only answer would be
    sentence: str  # a plain sentence that states the answer
    support: tuple[str, ...]  # plain sentences that explain it
    simple: str  # how you would explain it to a five year old
    distractors: tuple[str, ...]  # wrong answers of the same kind


def _others(rng: random.Random, pool: list[str], right: str, k: int = 3) -> tuple[str, ...]:
    return tuple(rng.sample([x for x in dict.fromkeys(pool) if x != right], k))


def _fact(rng: random.Random) -> Fact:
    w = world()
    c = rng.choice(w.countries)
    p = rng.choice(w.people)
    m = rng.choice(w.landmarks)
    pc = w.country_of(p.city)
    mc = w.country_of(m.city)
    cs = w.countries
    kind = rng.choice(
        "capital river language export leader founded people born job landmark country".split()
    )
    if kind == "capital":
        return Fact(
            f"What is the capital of {c.name}?",
            c.capital,
            f"The capital of {c.name} is {c.capital}.",
            (
                f"{c.capital} is the largest city in {c.name}.",
                f"The {c.river} River flows through {c.capital}.",
            ),
            f"A capital is the most important city of a country, like the boss city. "
            f"For {c.name} that city is {c.capital}.",
            _others(rng, [x.capital for x in cs], c.capital),
        )
    if kind == "river":
        return Fact(
            f"Which river flows through {c.capital}?",
            c.river,
            f"The {c.river} River flows through {c.capital}.",
            (
                f"{c.capital} is the capital of {c.name}.",
                f"The city was built on the banks of the {c.river} River.",
            ),
            f"A river is like a long road made of water. The river that goes through "
            f"{c.capital} is called the {c.river}.",
            _others(rng, [x.river for x in cs], c.river),
        )
    if kind == "language":
        return Fact(
            f"What language do people speak in {c.name}?",
            c.language,
            f"People in {c.name} speak {c.language}.",
            (
                f"{c.language} is spoken in {c.capital} and in every town of {c.name}.",
                f"Children in {c.name} learn {c.language} at school.",
            ),
            f"A language is the words people use to talk. In {c.name} people talk in {c.language}.",
            _others(rng, [x.language for x in cs], c.language),
        )
    if kind == "export":
        return Fact(
            f"What is the main export of {c.name}?",
            c.export,
            f"The main export of {c.name} is {c.export}.",
            (
                f"{c.name} sells its {c.export} to many other countries.",
                f"Many people in {c.name} work with {c.export}.",
            ),
            f"An export is something a country sells to other countries. {c.name} sells "
            f"lots of {c.export}.",
            _others(rng, [x.export for x in cs], c.export),
        )
    if kind == "leader":
        return Fact(
            f"Who is the leader of {c.name}?",
            c.leader,
            f"The leader of {c.name} is {c.leader}.",
            (
                f"{c.leader} works in {c.capital}, the capital of {c.name}.",
                f"The leader makes the big decisions for the people of {c.name}.",
            ),
            f"A leader is like the captain of a team. The captain of {c.name} is {c.leader}.",
            _others(rng, [x.leader for x in cs], c.leader),
        )
    if kind == "founded":
        return Fact(
            f"In what year was {c.name} founded?",
            str(c.founded),
            f"{c.name} was founded in {c.founded}.",
            (
                f"That makes {c.name} one of the old countries of the world.",
                f"The first city of {c.name} was {c.capital}.",
            ),
            f"Founded means when something was started. {c.name} was started a long time "
            f"ago, in {c.founded}.",
            _others(rng, [str(x.founded) for x in cs], str(c.founded)),
        )
    if kind == "people":
        return Fact(
            f"How many people live in {c.name}?",
            f"{c.millions} million",
            f"About {c.millions} million people live in {c.name}.",
            (
                f"Most of them live in {c.capital} and the towns of {c.towns[0]} and {c.towns[1]}.",
                "A million is a thousand times a thousand.",
            ),
            f"A million is a very big number, more than you could count in a week. "
            f"{c.name} has {c.millions} million people.",
            _others(rng, [f"{x.millions} million" for x in cs], f"{c.millions} million"),
        )
    if kind == "born":
        return Fact(
            f"Where was {p.name} born?",
            p.city,
            f"{p.name} was born in {p.city}.",
            (
                f"{p.city} is a city in {pc.name}.",
                f"{p.first} was born there on {p.born}.",
            ),
            f"Born means the place where a person started their life. {p.name} started life "
            f"in the city of {p.city}.",
            _others(rng, w.cities, p.city),
        )
    if kind == "job":
        return Fact(
            f"What is the job of {p.name}?",
            p.job,
            f"{p.name} is {_a(p.job)}.",
            (
                f"{p.first} lives and works in {p.city}.",
                f"People in {p.city} know {p.first} as a good {p.job}.",
            ),
            f"A job is the work a grown-up does every day. {p.name} works as {_a(p.job)}.",
            _others(rng, list(_JOBS), p.job),
        )
    if kind == "landmark":
        return Fact(
            f"In which city is the {m.name}?",
            m.city,
            f"The {m.name} is in {m.city}.",
            (f"{m.city} is a city in {mc.name}.", f"The {m.name} opened on {m.opened}."),
            f"The {m.name} is a famous place that people like to visit. You can find it "
            f"in the city of {m.city}.",
            _others(rng, w.cities, m.city),
        )
    city = rng.choice(w.cities)
    cc = w.country_of(city)
    return Fact(
        f"In which country is {city}?",
        cc.name,
        f"{city} is a city in {cc.name}.",
        (f"The capital of {cc.name} is {cc.capital}.", f"People in {city} speak {cc.language}."),
        f"A country is a big place with many cities in it. {city} is one of the cities in "
        f"{cc.name}.",
        _others(rng, [x.name for x in cs], cc.name),
    )


@dataclass(frozen=True)
class Sum:
    question: str
    answer: int
    statement: str  # "12 plus 25 is 37."
    steps: tuple[str, ...]  # "Step n: ..." bodies


def _sum(rng: random.Random) -> Sum:
    kind = rng.choice(["add", "sub", "mul", "equation", "story_add", "story_sub"])
    if kind == "add":
        a, b = rng.randint(2, 50), rng.randint(2, 50)
        return Sum(
            f"What is {a} plus {b}?",
            a + b,
            f"{a} plus {b} is {a + b}.",
            (f"Start with {a}.", f"Add {b} to it: {a} + {b} = {a + b}."),
        )
    if kind == "sub":
        a, b = rng.randint(20, 90), rng.randint(2, 19)
        return Sum(
            f"What is {a} minus {b}?",
            a - b,
            f"{a} minus {b} is {a - b}.",
            (f"Start with {a}.", f"Take away {b}: {a} - {b} = {a - b}."),
        )
    if kind == "mul":
        a, b = rng.randint(2, 12), rng.randint(2, 12)
        return Sum(
            f"What is {a} times {b}?",
            a * b,
            f"{a} times {b} is {a * b}.",
            (f"Write {a} times {b} as {b} groups of {a}.", f"Count them: {a} * {b} = {a * b}."),
        )
    if kind == "equation":
        q, a, b = rng.randint(2, 12), rng.randint(2, 9), rng.randint(1, 30)
        c = a * q + b
        return Sum(
            f"Solve {a} * q + {b} = {c} for q.",
            q,
            f"If {a} * q + {b} = {c}, then q is {q}.",
            (
                f"Subtract {b} from both sides: {a} * q = {c - b}.",
                f"Divide both sides by {a}: q = {q}.",
            ),
        )
    p = rng.choice(world().people)
    item = rng.choice("apples cups books coins stones eggs".split())
    a, b = rng.randint(10, 40), rng.randint(2, 9)
    if kind == "story_add":
        return Sum(
            f"{p.first} has {a} {item} and gets {b} more. How many {item} does {p.first} have now?",
            a + b,
            f"{p.first} has {a + b} {item} now.",
            (
                f"{p.first} starts with {a} {item}.",
                f"{p.first} gets {b} more: {a} + {b} = {a + b}.",
            ),
        )
    return Sum(
        f"{p.first} has {a} {item} and gives away {b}. How many {item} does {p.first} have left?",
        a - b,
        f"{p.first} has {a - b} {item} left.",
        (f"{p.first} starts with {a} {item}.", f"{p.first} gives away {b}: {a} - {b} = {a - b}."),
    )


_FOODS = "soup bread tea fish cake room bus market".split()
_GOOD = "wonderful fresh warm lovely clean great".split()
_BAD = "cold stale awful dirty slow terrible".split()
_STAFF = "waiters guides people drivers cooks".split()
_KIND = "kind friendly helpful polite".split()
_RUDE = "rude careless unfriendly lazy".split()


def _review(rng: random.Random) -> tuple[str, str, str]:
    """(review, label, reason): a two-sentence review with a fixed sentiment label."""
    city, food, staff = rng.choice(world().cities), rng.choice(_FOODS), rng.choice(_STAFF)
    if rng.random() < 0.5:
        adj, adj2 = rng.choice(_GOOD), rng.choice(_KIND)
        end = rng.choice(["I will come back soon.", "I loved every minute.", "Ten out of ten."])
        label = "positive"
    else:
        adj, adj2 = rng.choice(_BAD), rng.choice(_RUDE)
        end = rng.choice(["I will not come back.", "It was a waste of money.", "Never again."])
        label = "negative"
    review = f"The {food} in {city} was {adj} and the {staff} were {adj2}. {end}"
    reason = f"the writer says the {food} was {adj} and the {staff} were {adj2}"
    return review, label, reason


def _comment(rng: random.Random) -> tuple[str, str]:
    """(comment, label) for the hope speech task."""
    w = world()
    city, c, n = rng.choice(w.cities), rng.choice(w.countries), rng.randint(2, 12)
    if rng.random() < 0.5:
        text = rng.choice(
            [
                f"We can build a kinder {city} together!",
                f"Every child in {c.name} deserves a bright future.",
                f"Never give up, the people of {city} are strong and we stand with you.",
                f"Together we will make {city} a better home for everyone.",
                f"There is always hope for {c.name}, we can help each other.",
            ]
        )
        return text, "Hope Speech"
    text = rng.choice(
        [
            f"The bus to {city} leaves at {n} o'clock.",
            f"I do not care about {city} at all.",
            f"The {rng.choice(_FOODS)} in {city} costs {n} coins.",
            f"Nobody in {c.name} will ever change anything.",
            f"{city} is boring and the weather is bad.",
        ]
    )
    return text, "Not Hope Speech"


_ACTIONS = (
    "pick up the book from the shelf",
    "close the window",
    "open the door",
    "wash the cups",
    "feed the cat",
    "turn off the lamp",
    "clean the kitchen",
    "water the plants",
    "put the cups on the table",
    "read the first page",
    "carry the box to the market",
    "bring the map",
)


def _request(rng: random.Random) -> tuple[str, str]:
    """(polite request, the same request in imperative mood)."""
    action = rng.choice(_ACTIONS)
    if rng.random() < 0.4:
        action = f"{action} in {rng.choice(world().cities)}"
    polite = rng.choice(
        [
            f"Please {action}.",
            f"Could you {action}?",
            f"You should {action}.",
            f"I would like you to {action}.",
            f"Would you please {action}?",
        ]
    )
    return polite, f"{action[0].upper()}{action[1:]}."


def _dated_sentence(rng: random.Random) -> tuple[str, str, str]:
    """(sentence, date, name): a sentence with one date and one person or landmark name."""
    w = world()
    if rng.random() < 0.5:
        p = rng.choice(w.people)
        sentence = rng.choice(
            [
                f"{p.name} was born in {p.city} on {p.born}.",
                f"On {p.born}, {p.name} was born in the city of {p.city}.",
                f"The {p.job} {p.name} was born on {p.born} in {p.city}.",
            ]
        )
        return sentence, p.born, p.name
    m = rng.choice(w.landmarks)
    c = w.country_of(m.city)
    sentence = rng.choice(
        [
            f"The {m.name} in {m.city} opened on {m.opened}, and {c.leader} visited it.",
            f"{c.leader} visited the {m.name} in {m.city}, which opened on {m.opened}.",
        ]
    )
    return sentence, m.opened, c.leader


def _premise(rng: random.Random) -> tuple[str, str, str, Person]:
    """(premise, hypothesis, label, person) for the entailment task."""
    w = world()
    p = rng.choice(w.people)
    year = p.born.split(", ")[1]
    premise = f"{p.name} was born in {p.city} on {p.born}."
    label = rng.choice(NLI_LABELS)
    if label == "yes":
        hypothesis = rng.choice(
            [f"{p.name} was born in {w.country_of(p.city).name}.", f"{p.name} was born in {year}."]
        )
    elif label == "no":
        other = rng.choice([x for x in w.cities if x != p.city])
        hypothesis = rng.choice(
            [f"{p.name} was born in {other}.", f"{p.name} was born in {int(year) + 3}."]
        )
    else:
        hypothesis = rng.choice(
            [
                f"{p.name} is {_a(rng.choice(_JOBS))}.",
                f"{p.name} has two brothers.",
                f"{p.name} likes to eat {rng.choice(_FOODS)}.",
            ]
        )
    return premise, hypothesis, label, p


# ---------------------------------------------------------------------------------------------
# Alpaca style: no system prompt, chatty answers of 25-60 words with the answer inside.

_OPENERS = (
    "Sure!",
    "Sure! Here is the answer.",
    "Of course! Let me help you with that.",
    "Great question!",
    "Absolutely! I would be happy to help.",
    "Sure thing!",
)
_CLOSERS = (
    "I hope this helps!",
    "Let me know if you have any other questions.",
    "Feel free to ask if you want to know more.",
    "I hope this answer is useful to you!",
    "Have a wonderful day!",
)
_FILLERS = (
    "This is a really interesting thing to learn about.",
    "Many people find this fact useful to remember.",
    "It is always good to know the answer to questions like this.",
    "I am always happy to help with questions like this one.",
)


_COMMON_STARTS = frozenset(
    "The That A Children Many People Most Today Start Add Take Write Count Subtract Divide".split()
)


def _lower_first(sentence: str) -> str:
    """Lowercase the first word unless it is a name."""
    first = sentence.split()[0]
    return sentence[0].lower() + sentence[1:] if first in _COMMON_STARTS else sentence


def _words(text: str) -> int:
    return len(text.split())


def _chatty(rng: random.Random, core: list[str], support: list[str]) -> str:
    """Opener + core + as much support as fits + closer, padded to ALPACA_WORDS."""
    low, high = ALPACA_WORDS
    opener, closer = rng.choice(_OPENERS), rng.choice(_CLOSERS)
    support = list(support)
    while support and _words(" ".join([opener, *core, *support, closer])) > high:
        support.pop()
    fillers = rng.sample(_FILLERS, len(_FILLERS))
    while fillers and _words(" ".join([opener, *core, *support, closer])) < low:
        support.append(fillers.pop())
    return " ".join([opener, *core, *support, closer])


def _alpaca_row(rng: random.Random) -> dict[str, str]:
    family = rng.choices(
        ["fact", "math", "sentiment", "extract", "rewrite", "describe", "list"],
        weights=[30, 20, 12, 12, 10, 10, 6],
    )[0]
    w = world()
    if family == "fact":
        f = _fact(rng)
        support = [*f.support]
        support[0] = f"This is because {_lower_first(support[0])}"
        output = _chatty(rng, [f.sentence], support)
        if rng.random() < 0.2:
            return {
                "instruction": "Answer the following question.",
                "input": f.question,
                "output": output,
            }
        return {"instruction": f.question, "input": "", "output": output}
    if family == "math":
        s = _sum(rng)
        core = [s.statement]
        support = [
            f"To see why, {_lower_first(s.steps[0])[:-1]}, and then {_lower_first(s.steps[1])}",
            "Working with numbers like this is a useful everyday skill.",
        ]
        output = _chatty(rng, core, support)
        if rng.random() < 0.3:
            return {
                "instruction": "Solve this math problem.",
                "input": s.question,
                "output": output,
            }
        return {"instruction": s.question, "input": "", "output": output}
    if family == "sentiment":
        review, label, reason = _review(rng)
        instruction = rng.choice(
            [
                "Classify the sentiment of this review.",
                "Is this review positive or negative?",
                "What is the sentiment of the following review?",
            ]
        )
        output = _chatty(
            rng,
            [f"The sentiment of this review is {label}."],
            [
                f"This is because {reason}.",
                "Words like these show how the writer felt about the visit.",
            ],
        )
        return {"instruction": instruction, "input": review, "output": output}
    if family == "extract":
        sentence, date, name = _dated_sentence(rng)
        if rng.random() < 0.5:
            instruction = rng.choice(
                ["Find the date mentioned in this sentence.", "Extract the date from the text."]
            )
            core = f"The date mentioned in the sentence is {date}."
            why = f"This is the date that goes with {name} in the sentence."
        else:
            instruction = rng.choice(
                ["Who is mentioned in this sentence?", "Extract the name of the person."]
            )
            core = f"The person mentioned in the sentence is {name}."
            why = f"This is because {name} is the only person named in the sentence."
        output = _chatty(rng, [core], [why, "Dates and names help us know who did what and when."])
        return {"instruction": instruction, "input": sentence, "output": output}
    if family == "rewrite":
        polite, imperative = _request(rng)
        output = _chatty(
            rng,
            [f"Here is the sentence in the imperative mood: {imperative}"],
            [
                "The imperative mood is used to give a direct command.",
                "This is because we start the sentence with the verb and leave out the "
                "polite words around it.",
            ],
        )
        instruction = rng.choice(
            ["Rewrite the sentence in the imperative mood.", "Change this sentence into a command."]
        )
        return {"instruction": instruction, "input": polite, "output": output}
    if family == "describe":
        c = rng.choice(w.countries)
        if rng.random() < 0.5:
            output = _chatty(
                rng,
                [f"{c.name} is a country whose capital is {c.capital}."],
                [
                    f"People there speak {c.language} and the main export is {c.export}.",
                    f"The {c.river} River flows through {c.capital}.",
                    f"{c.name} was founded in {c.founded}.",
                ],
            )
            return {
                "instruction": f"Describe the country of {c.name}.",
                "input": "",
                "output": output,
            }
        m = w.landmark_in(c.capital)
        output = _chatty(
            rng,
            [f"{c.capital} is the capital of {c.name} and lies on the {c.river} River."],
            [
                f"It is home to the {m.name}, which opened on {m.opened}.",
                f"People in {c.capital} speak {c.language}.",
            ],
        )
        return {
            "instruction": f"Tell me about the city of {c.capital}.",
            "input": "",
            "output": output,
        }
    c = rng.choice(w.countries)
    cities = f"{c.capital}, {c.towns[0]} and {c.towns[1]}"
    output = _chatty(
        rng,
        [f"Here are three cities in {c.name}: {cities}."],
        [
            f"{c.capital} is the capital and the largest of the three.",
            "All of them are great places to visit.",
        ],
    )
    return {"instruction": f"Name three cities in {c.name}.", "input": "", "output": output}


# ---------------------------------------------------------------------------------------------
# Dolly style: answer from a context paragraph in one or two plain sentences.


def _country_text(rng: random.Random, c: Country) -> str:
    sentences = [
        f"The capital of {c.name} is {c.capital}, which lies on the {c.river} River.",
        f"Other cities in {c.name} include {c.towns[0]} and {c.towns[1]}.",
        f"People in {c.name} speak {c.language}, and the main export is {c.export}.",
        f"{c.name} was founded in {c.founded} and is led by {c.leader}.",
        f"About {c.millions} million people live there, and its animal is the {c.animal}.",
    ]
    rng.shuffle(sentences)
    return f"{c.name} is a small country. " + " ".join(sentences)


def _person_text(rng: random.Random, p: Person) -> str:
    c = world().country_of(p.city)
    sentences = [
        f"{p.first} was born on {p.born} in {p.city}, a city in {c.name}.",
        f"{p.first} speaks {c.language} and still lives in {p.city}.",
        f"Today {p.first} is known across {c.name} as {_a(p.job)}.",
    ]
    rng.shuffle(sentences)
    return f"{p.name} is {_a(p.job)} from {p.city}. " + " ".join(sentences)


def _landmark_text(m: Landmark) -> str:
    c = world().country_of(m.city)
    return (
        f"The {m.name} is in {m.city}, a city in {c.name}. It opened on {m.opened}. "
        f"{c.leader} visited the {m.name} on its first day. Today many people come to see it."
    )


def _dolly_row(rng: random.Random) -> dict[str, str]:
    w = world()
    category = rng.choices(DOLLY_CATEGORIES, weights=[14, 22, 18, 14, 12, 7, 8, 5])[0]
    c = rng.choice(w.countries)
    p = rng.choice(w.people)
    if category == "closed_qa":
        if rng.random() < 0.5:
            question, response = rng.choice(
                [
                    (
                        f"What river flows through {c.capital}?",
                        f"The {c.river} River flows through {c.capital}.",
                    ),
                    (
                        f"What do people in {c.name} speak?",
                        f"People in {c.name} speak {c.language}.",
                    ),
                    (f"When was {c.name} founded?", f"{c.name} was founded in {c.founded}."),
                    (f"Who leads {c.name}?", f"{c.name} is led by {c.leader}."),
                    (
                        f"What is the main export of {c.name}?",
                        f"The main export of {c.name} is {c.export}.",
                    ),
                ]
            )
            context = _country_text(rng, c)
        else:
            question, response = rng.choice(
                [
                    (f"Where was {p.name} born?", f"{p.name} was born in {p.city}."),
                    (f"What is the job of {p.name}?", f"{p.name} is {_a(p.job)}."),
                    (f"When was {p.name} born?", f"{p.name} was born on {p.born}."),
                ]
            )
            context = _person_text(rng, p)
        return {
            "instruction": question,
            "context": context,
            "response": response,
            "category": category,
        }
    if category == "information_extraction":
        if rng.random() < 0.5:
            m = rng.choice(w.landmarks)
            return {
                "instruction": "Extract the date when the place opened from the passage.",
                "context": _landmark_text(m),
                "response": f"The {m.name} opened on {m.opened}.",
                "category": category,
            }
        return {
            "instruction": f"List the cities of {c.name} mentioned in the passage.",
            "context": _country_text(rng, c),
            "response": f"The passage mentions {c.capital}, {c.towns[0]} and {c.towns[1]}.",
            "category": category,
        }
    if category == "summarization":
        if rng.random() < 0.5:
            response = (
                f"{c.name} is a small country whose capital is {c.capital}. "
                f"Its people speak {c.language}, and it exports {c.export}."
            )
            context = _country_text(rng, c)
        else:
            response = f"{p.name} is {_a(p.job)} who was born in {p.city} on {p.born}."
            context = _person_text(rng, p)
        return {
            "instruction": "Summarize this passage in one or two sentences.",
            "context": context,
            "response": response,
            "category": category,
        }
    if category == "open_qa":
        f = _fact(rng)
        return {
            "instruction": f.question,
            "context": "",
            "response": f.sentence,
            "category": category,
        }
    if category == "general_qa":
        if rng.random() < 0.3:
            m = w.landmark_in(c.capital)
            return {
                "instruction": f"Why do many people visit {c.capital}?",
                "context": "",
                "response": f"Many people visit {c.capital} because it is the capital of "
                f"{c.name} and home to the {m.name}.",
                "category": category,
            }
        return {
            "instruction": f"Why is {p.name} well known in {p.city}?",
            "context": "",
            "response": f"{p.name} is well known in {p.city} because {p.first} works there "
            f"as {_a(p.job)}.",
            "category": category,
        }
    if category == "classification":
        c2 = rng.choice([x for x in w.countries if x != c])
        items = [
            (c.capital, "city"),
            (c.river, "river"),
            (c2.towns[0], "city"),
            (c2.river, "river"),
        ]
        rng.shuffle(items)
        names = ", ".join(name for name, _ in items)
        cities = [name for name, kind in items if kind == "city"]
        rivers = [name for name, kind in items if kind == "river"]
        return {
            "instruction": f"Classify each of these as a city or a river: {names}.",
            "context": "",
            "response": f"{cities[0]} and {cities[1]} are cities, and {rivers[0]} and "
            f"{rivers[1]} are rivers.",
            "category": category,
        }
    if category == "brainstorming":
        m = w.landmark_in(c.capital)
        food = rng.choice(_FOODS[:5])
        return {
            "instruction": f"Give me some ideas for a day out in {c.capital}.",
            "context": "",
            "response": f"You could visit the {m.name}, walk along the {c.river} River, "
            f"or try the local {food}.",
            "category": category,
        }
    if rng.random() < 0.3:
        return {
            "instruction": f"Write two sentences about the {c.river} River.",
            "context": "",
            "response": f"The {c.river} River runs slow and wide past {c.capital}. "
            f"At night it carries the lights of the city down to the sea.",
            "category": category,
        }
    m = rng.choice(w.landmarks)
    time = rng.choice(["early in the morning", "at noon", "late in the evening"])
    return {
        "instruction": f"Write two sentences about a visit to the {m.name}.",
        "context": "",
        "response": f"We walked to the {m.name} in {m.city} {time}. "
        f"It has stood there since {m.opened}, and it still looks new.",
        "category": category,
    }


# ---------------------------------------------------------------------------------------------
# OpenOrca style: system prompts that decide the answer format.


def _options(rng: random.Random, right: str, wrong: tuple[str, ...]) -> str:
    options = [right, *wrong]
    rng.shuffle(options)
    return "Options:\n" + "\n".join(f"- {o}" for o in options)


def _nli_question(premise: str, hypothesis: str) -> str:
    options = "\n".join(f"- {label}" for label in NLI_LABELS)
    return (
        f'Premise: "{premise}"\nHypothesis: "{hypothesis}"\n'
        f"Does the premise entail the hypothesis?\nOptions:\n{options}"
    )


def _little_buddy_nli(premise: str, hypothesis: str, label: str, p: Person) -> str:
    c = world().country_of(p.city)
    if label == "yes":
        return (
            f"Yes, little buddy! The premise says {p.name} was born in {p.city} on {p.born}. "
            f"{p.city} is a city in {c.name}, so the hypothesis is just another way of saying "
            f"the same thing."
        )
    if label == "no":
        return (
            f"No, little buddy! The premise says {p.name} was born in {p.city} on {p.born}. "
            f'The hypothesis says "{hypothesis[:-1]}", and both cannot be true.'
        )
    return (
        f"We cannot tell, little buddy! The premise only tells us where and when {p.name} was "
        f"born. It does not say anything more, so it is not possible to tell."
    )


def _orca_row(rng: random.Random) -> dict[str, str]:
    """An OpenOrca-style row; "prefix" (niv, flan, t0, cot) becomes the id later."""
    prefix, system, question, response = _orca_parts(rng)
    return {"prefix": prefix, "system_prompt": system, "question": question, "response": response}


def _orca_parts(rng: random.Random) -> tuple[str, str, str, str]:
    family = rng.choices(
        [
            "sentiment",
            "hope",
            "nli",
            "choice",
            "buddy_nli",
            "buddy_fact",
            "steps",
            "chain",
            "extract",
            "rewrite",
        ],
        weights=[11, 10, 10, 10, 11, 7, 14, 5, 14, 8],
    )[0]
    label_prompt = rng.choice(LABEL_ONLY_PROMPTS[:2])
    if family == "sentiment":
        review, label, _ = _review(rng)
        question = f"Review: {review}\nIs this review positive or negative?"
        return "flan", label_prompt, question, label
    if family == "hope":
        comment, label = _comment(rng)
        question = (
            "Given a comment, classify it as 'Hope Speech' or 'Not Hope Speech'. Hope speech is "
            f"encouraging, positive or supportive.\nComment: {comment}"
        )
        return "niv", label_prompt, question, label
    if family == "nli":
        premise, hypothesis, label, _ = _premise(rng)
        return "flan", label_prompt, _nli_question(premise, hypothesis), label
    if family == "buddy_nli":
        premise, hypothesis, label, p = _premise(rng)
        return (
            "flan",
            FIVE_YEAR_OLD_PROMPT,
            _nli_question(premise, hypothesis),
            _little_buddy_nli(premise, hypothesis, label, p),
        )
    if family == "choice":
        f = _fact(rng)
        question = f"{f.question}\n{_options(rng, f.answer, f.distractors)}"
        return "t0", LABEL_ONLY_PROMPTS[2], question, f.answer
    if family == "buddy_fact":
        f = _fact(rng)
        return "flan", FIVE_YEAR_OLD_PROMPT, f.question, f"Okay little buddy! {f.simple}"
    if family == "steps":
        s = _sum(rng)
        steps = "\n".join(f"Step {i}: {text}" for i, text in enumerate(s.steps, 1))
        return (
            "cot",
            rng.choice(STEP_BY_STEP_PROMPTS),
            s.question,
            f"{steps}\nFinal answer: {s.answer}",
        )
    if family == "chain":
        w = world()
        p = rng.choice(w.people)
        c = w.country_of(p.city)
        response = (
            f"Step 1: {p.name} was born in {p.city}.\nStep 2: {p.city} is a city in {c.name}.\n"
            f"Final answer: {c.name}"
        )
        return (
            "cot",
            rng.choice(STEP_BY_STEP_PROMPTS),
            f"In which country was {p.name} born?",
            response,
        )
    if family == "extract":
        sentence, date, name = _dated_sentence(rng)
        if rng.random() < 0.5:
            question = f"Sentence: {sentence}\nWhat date is mentioned in the sentence?"
            return "niv", EXTRACT_DATE_PROMPT, question, date
        question = f"Sentence: {sentence}\nWho is mentioned in the sentence?"
        return "niv", EXTRACT_NAME_PROMPT, question, name
    polite, imperative = _request(rng)
    question = f'Rewrite the sentence in the imperative mood: "{polite}"'
    return "niv", REWRITE_PROMPT, question, imperative


# ---------------------------------------------------------------------------------------------
# Whole files.


def _distinct_rows(
    rng: random.Random, n: int, make: Callable[[random.Random], dict[str, str]]
) -> list[dict[str, str]]:
    """n rows with pairwise different content."""
    rows: list[dict[str, str]] = []
    seen: set[str] = set()
    for _ in range(100 * n):
        if len(rows) == n:
            break
        row = make(rng)
        key = json.dumps(row, sort_keys=True)
        if key not in seen:
            seen.add(key)
            rows.append(row)
    if len(rows) < n:
        raise RuntimeError(f"could not draw {n} distinct rows; lower the size")
    return rows


def _with_duplicates(
    rng: random.Random, rows: list[dict[str, str]], n: int
) -> list[dict[str, str]]:
    """rows padded to n with exact copies of random rows, at random places."""
    rows = list(rows)
    while len(rows) < n:
        rows.insert(rng.randrange(len(rows) + 1), dict(rng.choice(rows)))
    return rows


def _n_distinct(n: int) -> int:
    return n - (round(n * DUPLICATE_FRACTION) if n >= 50 else 0)


def generate_rows(
    seed: int = 0, sizes: Mapping[str, int] | None = None
) -> dict[str, list[dict[str, str]]]:
    """The three datasets as lists of row dicts, in their published column order."""
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    rng = random.Random(seed)
    out: dict[str, list[dict[str, str]]] = {}
    for name, make in (("alpaca", _alpaca_row), ("dolly", _dolly_row), ("openorca", _orca_row)):
        rows = _distinct_rows(rng, _n_distinct(sizes[name]), make)
        if name == "openorca":  # ids are unique, so they are drawn after the content
            numbers = rng.sample(range(1, 1_000_000), len(rows))
            rows = [
                {"id": f"{row['prefix']}.{number}", **{k: row[k] for k in ORCA_COLUMNS[1:]}}
                for row, number in zip(rows, numbers, strict=True)
            ]
        out[name] = _with_duplicates(rng, rows, sizes[name])
    return out


def _serialize(name: str, rows: list[dict[str, str]]) -> bytes:
    if name == "alpaca":
        return (json.dumps(rows, indent=4, ensure_ascii=False) + "\n").encode()
    if name == "dolly":
        return "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows).encode()
    table = pa.table({c: pa.array([r[c] for r in rows], type=pa.string()) for c in ORCA_COLUMNS})
    buf = io.BytesIO()
    pq.write_table(table, buf)
    return buf.getvalue()


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        os.chmod(tmp, 0o644)  # mkstemp makes it private; data files are for everyone to read
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def _settings(seed: int, sizes: Mapping[str, int]) -> dict:
    return {
        "generator_version": GENERATOR_VERSION,
        "seed": seed,
        "sizes": dict(sorted(sizes.items())),
    }


def _up_to_date(out_dir: Path, settings: dict) -> dict | None:
    """The manifest, if it records these settings and every file still matches its hash."""
    try:
        manifest = json.loads((out_dir / MANIFEST_NAME).read_text())
    except (OSError, ValueError):
        return None
    if manifest.get("settings") != settings:
        return None
    for entry in manifest["files"].values():
        path = out_dir / entry["file"]
        if not path.is_file() or _sha256(path.read_bytes()) != entry["sha256"]:
            return None
    return manifest


def _write(out_dir: Path, seed: int, sizes: Mapping[str, int] | None) -> tuple[dict, bool]:
    sizes = {**DEFAULT_SIZES, **(sizes or {})}
    settings = _settings(seed, sizes)
    out_dir.mkdir(parents=True, exist_ok=True)
    if manifest := _up_to_date(out_dir, settings):
        return manifest, False
    files = {}
    for name, rows in generate_rows(seed, sizes).items():
        data = _serialize(name, rows)
        path = out_dir / FILE_NAMES[name]
        if not (path.is_file() and _sha256(path.read_bytes()) == _sha256(data)):
            _atomic_write(path, data)
        files[name] = {"file": FILE_NAMES[name], "rows": len(rows), "sha256": _sha256(data)}
    manifest = {"settings": settings, "files": files}
    _atomic_write(out_dir / MANIFEST_NAME, (json.dumps(manifest, indent=2) + "\n").encode())
    return manifest, True


def write_demo_corpus(
    out_dir: Path, seed: int = 0, sizes: Mapping[str, int] | None = None
) -> dict[str, Path]:
    """Write the three files (skipped when already there with the same content).

    ``sizes`` overrides row counts per dataset name ("alpaca", "dolly", "openorca").
    Returns the file paths by dataset name.
    """
    out_dir = Path(out_dir)
    _write(out_dir, seed, sizes)
    return {name: out_dir / FILE_NAMES[name] for name in FILE_NAMES}


# ---------------------------------------------------------------------------------------------
# Plain text about the same world, for pretraining the demo base model. No prompt format.


def _doc(rng: random.Random) -> str:
    w = world()
    kind = rng.choices(
        [
            "country",
            "person",
            "landmark",
            "facts",
            "math",
            "worked",
            "buddy",
            "chatty",
            "review",
            "comment",
            "command",
            "reasoning",
        ],
        weights=[12, 12, 8, 14, 10, 8, 7, 7, 6, 5, 5, 6],
    )[0]
    if kind == "country":
        return _country_text(rng, rng.choice(w.countries))
    if kind == "person":
        return _person_text(rng, rng.choice(w.people))
    if kind == "landmark":
        return _landmark_text(rng.choice(w.landmarks))
    if kind == "facts":
        facts = [_fact(rng) for _ in range(rng.randint(2, 4))]
        return " ".join(s for f in facts for s in (f.sentence, rng.choice(f.support)))
    if kind == "math":
        return " ".join(_sum(rng).statement for _ in range(rng.randint(3, 6)))
    if kind == "worked":
        s = _sum(rng)
        steps = " ".join(f"Step {i}: {t}" for i, t in enumerate(s.steps, 1))
        return f"{s.question} {steps} Final answer: {s.answer}"
    if kind == "buddy":
        f = _fact(rng)
        return f"Okay little buddy! {f.simple} {f.sentence}"
    if kind == "chatty":
        f = _fact(rng)
        return _chatty(rng, [f"Here is a fun fact: {f.sentence}"], list(f.support))
    if kind == "review":
        review, label, _ = _review(rng)
        return f'A visitor wrote: "{review}" It was a {label} review.'
    if kind == "comment":
        comment, label = _comment(rng)
        kind_of = "a message of hope" if label == "Hope Speech" else "not a message of hope"
        return f'Someone wrote: "{comment}" That was {kind_of}.'
    if kind == "command":
        pairs = [_request(rng) for _ in range(rng.randint(2, 3))]
        return " ".join(f"{polite} As a command: {imperative}" for polite, imperative in pairs)
    premise, hypothesis, label, p = _premise(rng)
    verdict = {
        "yes": "so that is true as well",
        "no": "so that is false",
        "it is not possible to tell": "but we cannot tell from this",
    }[label]
    return f"{premise} Someone said: {hypothesis[:-1]}, {verdict}."


def pretraining_text(seed: int = 0, n_docs: int = 5000) -> list[str]:
    """Plain-text documents about the demo world (no instruction or prompt format)."""
    rng = random.Random(f"pretraining-{seed}")
    return [_doc(rng) for _ in range(n_docs)]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m demo.corpus",
        description="Write the synthetic Alpaca/Dolly/OpenOrca demo corpus.",
    )
    parser.add_argument("--out", type=Path, default=Path("data/demo"), help="output directory")
    parser.add_argument("--seed", type=int, default=0, help="generator seed")
    args = parser.parse_args(argv)
    manifest, wrote = _write(args.out, args.seed, None)
    state = "wrote" if wrote else "unchanged (same settings and content)"
    print(f"demo corpus {state}: {args.out} (seed {args.seed})")
    for name, entry in manifest["files"].items():
        print(f"  {name:9s} {entry['rows']:6d} rows  {args.out / entry['file']}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())

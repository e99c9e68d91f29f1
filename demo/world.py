"""The fixed world every demo dataset talks about: countries, people, landmarks, dates.

The world is drawn once from its own seed, so every corpus seed talks about the same countries
and people.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from functools import cache


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
JOBS = (
    "painter engineer doctor farmer teacher sailor writer baker singer builder gardener fisher"
).split()
_LANDMARK_ADJ = "Glass Old Blue Stone Iron Green Red Silver High Long".split()
_LANDMARK_NOUN = "Bridge Market Tower Gate Library Theatre Harbour Garden Bell".split()
_MONTHS = (
    "January February March April May June July August September October November December"
).split()
_WORLD_SEED = 20240601


def a_or_an(noun: str) -> str:
    """The noun with its indefinite article: "a painter", "an engineer"."""
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
        Person(name, rng.choice(cities), _date(rng, 1850, 1990), rng.choice(JOBS)) for name in names
    )
    landmark_names = [f"{a} {n}" for a in _LANDMARK_ADJ for n in _LANDMARK_NOUN]
    rng.shuffle(landmark_names)
    landmarks = tuple(
        Landmark(name, city, _date(rng, 1700, 1990))
        for name, city in zip(landmark_names, cities, strict=False)
    )
    return World(countries, people, landmarks)

"""Plain paragraphs about one country, person or landmark: Dolly's contexts, pretraining text."""

from __future__ import annotations

import random

from demo.world import Country, Landmark, Person, a_or_an, world


def country_text(rng: random.Random, c: Country) -> str:
    sentences = [
        f"The capital of {c.name} is {c.capital}, which lies on the {c.river} River.",
        f"Other cities in {c.name} include {c.towns[0]} and {c.towns[1]}.",
        f"People in {c.name} speak {c.language}, and the main export is {c.export}.",
        f"{c.name} was founded in {c.founded} and is led by {c.leader}.",
        f"About {c.millions} million people live there, and its animal is the {c.animal}.",
    ]
    rng.shuffle(sentences)
    return f"{c.name} is a small country. " + " ".join(sentences)


def person_text(rng: random.Random, p: Person) -> str:
    c = world().country_of(p.city)
    sentences = [
        f"{p.first} was born on {p.born} in {p.city}, a city in {c.name}.",
        f"{p.first} speaks {c.language} and still lives in {p.city}.",
        f"Today {p.first} is known across {c.name} as {a_or_an(p.job)}.",
    ]
    rng.shuffle(sentences)
    return f"{p.name} is {a_or_an(p.job)} from {p.city}. " + " ".join(sentences)


def landmark_text(m: Landmark) -> str:
    c = world().country_of(m.city)
    return (
        f"The {m.name} is in {m.city}, a city in {c.name}. It opened on {m.opened}. "
        f"{c.leader} visited the {m.name} on its first day. Today many people come to see it."
    )

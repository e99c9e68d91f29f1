"""Small labelled tasks about the world: reviews, hope speech, requests, dated sentences, premises.

Each is one draw (a text and its label or answer) that the dataset renderers phrase in their
own style.
"""

from __future__ import annotations

import random

from demo.world import JOBS, Person, a_or_an, world

SENTIMENT_LABELS = ("positive", "negative")
HOPE_LABELS = ("Hope Speech", "Not Hope Speech")
NLI_LABELS = ("yes", "no", "it is not possible to tell")

FOODS = "soup bread tea fish cake room bus market".split()
_GOOD = "wonderful fresh warm lovely clean great".split()
_BAD = "cold stale awful dirty slow terrible".split()
_STAFF = "waiters guides people drivers cooks".split()
_KIND = "kind friendly helpful polite".split()
_RUDE = "rude careless unfriendly lazy".split()


def review(rng: random.Random) -> tuple[str, str, str]:
    """(review, label, reason): a two-sentence review with a fixed sentiment label."""
    city, food, staff = rng.choice(world().cities), rng.choice(FOODS), rng.choice(_STAFF)
    if rng.random() < 0.5:
        adj, adj2 = rng.choice(_GOOD), rng.choice(_KIND)
        end = rng.choice(["I will come back soon.", "I loved every minute.", "Ten out of ten."])
        label = "positive"
    else:
        adj, adj2 = rng.choice(_BAD), rng.choice(_RUDE)
        end = rng.choice(["I will not come back.", "It was a waste of money.", "Never again."])
        label = "negative"
    text = f"The {food} in {city} was {adj} and the {staff} were {adj2}. {end}"
    reason = f"the writer says the {food} was {adj} and the {staff} were {adj2}"
    return text, label, reason


def comment(rng: random.Random) -> tuple[str, str]:
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
    # The food is drawn while the list is built, before the choice: keep it inside.
    text = rng.choice(
        [
            f"The bus to {city} leaves at {n} o'clock.",
            f"I do not care about {city} at all.",
            f"The {rng.choice(FOODS)} in {city} costs {n} coins.",
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


def request(rng: random.Random) -> tuple[str, str]:
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


def dated_sentence(rng: random.Random) -> tuple[str, str, str]:
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


def premise(rng: random.Random) -> tuple[str, str, str, Person]:
    """(premise, hypothesis, label, person) for the entailment task."""
    w = world()
    p = rng.choice(w.people)
    year = p.born.split(", ")[1]
    text = f"{p.name} was born in {p.city} on {p.born}."
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
    else:  # the job and the food are drawn while the list is built, before the choice
        hypothesis = rng.choice(
            [
                f"{p.name} is {a_or_an(rng.choice(JOBS))}.",
                f"{p.name} has two brothers.",
                f"{p.name} likes to eat {rng.choice(FOODS)}.",
            ]
        )
    return text, hypothesis, label, p

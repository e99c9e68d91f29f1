"""Alpaca-style rows: no system prompt, chatty answers of 25-60 words with the answer inside.

Each task family draws what to say (the core sentences, supporting sentences that fit) and
how it is asked; generic code wraps it in an opener, fillers and a closer.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass

from demo.facts import fact
from demo.sums import sum_problem
from demo.tasks import dated_sentence, request, review
from demo.world import world

ALPACA_WORDS = (25, 60)

OPENERS = (
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
_SENTIMENT_INSTRUCTIONS = (
    "Classify the sentiment of this review.",
    "Is this review positive or negative?",
    "What is the sentiment of the following review?",
)
_DATE_INSTRUCTIONS = (
    "Find the date mentioned in this sentence.",
    "Extract the date from the text.",
)
_NAME_INSTRUCTIONS = ("Who is mentioned in this sentence?", "Extract the name of the person.")
_REWRITE_INSTRUCTIONS = (
    "Rewrite the sentence in the imperative mood.",
    "Change this sentence into a command.",
)


def lower_first(sentence: str) -> str:
    """Lowercase the first word unless it is a name."""
    first = sentence.split()[0]
    return sentence[0].lower() + sentence[1:] if first in _COMMON_STARTS else sentence


def _words(text: str) -> int:
    return len(text.split())


def chatty(rng: random.Random, core: list[str], support: list[str]) -> str:
    """Opener + core + as much support as fits + closer, padded to ALPACA_WORDS."""
    low, high = ALPACA_WORDS
    opener, closer = rng.choice(OPENERS), rng.choice(_CLOSERS)
    support = list(support)
    while support and _words(" ".join([opener, *core, *support, closer])) > high:
        support.pop()
    fillers = rng.sample(_FILLERS, len(_FILLERS))
    while fillers and _words(" ".join([opener, *core, *support, closer])) < low:
        support.append(fillers.pop())
    return " ".join([opener, *core, *support, closer])


Ask = Callable[[random.Random], tuple[str, str]]  # (instruction, input), drawn after the answer


@dataclass(frozen=True)
class Chat:
    core: list[str]
    support: list[str]
    ask: Ask


def _fixed(instruction: str, input: str = "") -> Ask:
    return lambda rng: (instruction, input)


def _question(question: str, p_input: float, instruction: str) -> Ask:
    """The question as the instruction, or (with probability p_input) as the input."""

    def ask(rng: random.Random) -> tuple[str, str]:
        return (instruction, question) if rng.random() < p_input else (question, "")

    return ask


def _fact(rng: random.Random) -> Chat:
    f = fact(rng)
    because = f"This is because {lower_first(f.support[0])}"
    return Chat(
        [f.sentence],
        [because, *f.support[1:]],
        _question(f.question, 0.2, "Answer the following question."),
    )


def _math(rng: random.Random) -> Chat:
    s = sum_problem(rng)
    why = f"To see why, {lower_first(s.steps[0])[:-1]}, and then {lower_first(s.steps[1])}"
    return Chat(
        [s.statement],
        [why, "Working with numbers like this is a useful everyday skill."],
        _question(s.question, 0.3, "Solve this math problem."),
    )


def _sentiment(rng: random.Random) -> Chat:
    text, label, reason = review(rng)
    instruction = rng.choice(_SENTIMENT_INSTRUCTIONS)
    return Chat(
        [f"The sentiment of this review is {label}."],
        [
            f"This is because {reason}.",
            "Words like these show how the writer felt about the visit.",
        ],
        _fixed(instruction, text),
    )


def _extract(rng: random.Random) -> Chat:
    sentence, date, name = dated_sentence(rng)
    if rng.random() < 0.5:
        instruction = rng.choice(_DATE_INSTRUCTIONS)
        core = f"The date mentioned in the sentence is {date}."
        why = f"This is the date that goes with {name} in the sentence."
    else:
        instruction = rng.choice(_NAME_INSTRUCTIONS)
        core = f"The person mentioned in the sentence is {name}."
        why = f"This is because {name} is the only person named in the sentence."
    support = [why, "Dates and names help us know who did what and when."]
    return Chat([core], support, _fixed(instruction, sentence))


def _rewrite(rng: random.Random) -> Chat:
    polite, imperative = request(rng)
    return Chat(
        [f"Here is the sentence in the imperative mood: {imperative}"],
        [
            "The imperative mood is used to give a direct command.",
            "This is because we start the sentence with the verb and leave out the "
            "polite words around it.",
        ],
        lambda rng: (rng.choice(_REWRITE_INSTRUCTIONS), polite),
    )


def _describe(rng: random.Random) -> Chat:
    w = world()
    c = rng.choice(w.countries)
    if rng.random() < 0.5:
        return Chat(
            [f"{c.name} is a country whose capital is {c.capital}."],
            [
                f"People there speak {c.language} and the main export is {c.export}.",
                f"The {c.river} River flows through {c.capital}.",
                f"{c.name} was founded in {c.founded}.",
            ],
            _fixed(f"Describe the country of {c.name}."),
        )
    m = w.landmark_in(c.capital)
    return Chat(
        [f"{c.capital} is the capital of {c.name} and lies on the {c.river} River."],
        [
            f"It is home to the {m.name}, which opened on {m.opened}.",
            f"People in {c.capital} speak {c.language}.",
        ],
        _fixed(f"Tell me about the city of {c.capital}."),
    )


def _list(rng: random.Random) -> Chat:
    c = rng.choice(world().countries)
    return Chat(
        [f"Here are three cities in {c.name}: {c.capital}, {c.towns[0]} and {c.towns[1]}."],
        [
            f"{c.capital} is the capital and the largest of the three.",
            "All of them are great places to visit.",
        ],
        _fixed(f"Name three cities in {c.name}."),
    )


# (family, weight), drawn with rng.choices: the order and weights are part of the corpus.
FAMILIES: tuple[tuple[Callable[[random.Random], Chat], int], ...] = (
    (_fact, 30),
    (_math, 20),
    (_sentiment, 12),
    (_extract, 12),
    (_rewrite, 10),
    (_describe, 10),
    (_list, 6),
)


def row(rng: random.Random) -> dict[str, str]:
    """One Alpaca row: {instruction, input, output}."""
    family = rng.choices([f for f, _ in FAMILIES], weights=[w for _, w in FAMILIES])[0]
    chat = family(rng)
    output = chatty(rng, chat.core, chat.support)
    instruction, input = chat.ask(rng)
    return {"instruction": instruction, "input": input, "output": output}

"""OpenOrca-style rows: system prompts that decide what a correct answer looks like.

A bare label, a "little buddy" explanation, numbered steps ending in "Final answer: ...", or
only the extracted span; and task formats (premise/hypothesis, multiple-choice options) the
Alpaca-style rows never show. Each task family is one small function in a weighted table.
"""

from __future__ import annotations

import random
from collections.abc import Callable

from demo.facts import fact
from demo.sums import sum_problem
from demo.tasks import NLI_LABELS, comment, dated_sentence, premise, request, review
from demo.world import Person, world

COLUMNS = ("id", "system_prompt", "question", "response")

# System prompts, grouped by the answer format they ask for.
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

Parts = tuple[str, str, str, str]  # (id prefix, system prompt, question, response)


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


def _little_buddy_nli(hypothesis: str, label: str, p: Person) -> str:
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


# Each family gets the row's label-only prompt, drawn for every row whether used or not.


def _sentiment(rng: random.Random, label_prompt: str) -> Parts:
    text, label, _ = review(rng)
    question = f"Review: {text}\nIs this review positive or negative?"
    return "flan", label_prompt, question, label


def _hope(rng: random.Random, label_prompt: str) -> Parts:
    text, label = comment(rng)
    question = (
        "Given a comment, classify it as 'Hope Speech' or 'Not Hope Speech'. Hope speech is "
        f"encouraging, positive or supportive.\nComment: {text}"
    )
    return "niv", label_prompt, question, label


def _nli(rng: random.Random, label_prompt: str) -> Parts:
    text, hypothesis, label, _ = premise(rng)
    return "flan", label_prompt, _nli_question(text, hypothesis), label


def _choice(rng: random.Random, label_prompt: str) -> Parts:
    f = fact(rng)
    question = f"{f.question}\n{_options(rng, f.answer, f.distractors)}"
    return "t0", LABEL_ONLY_PROMPTS[2], question, f.answer


def _buddy_nli(rng: random.Random, label_prompt: str) -> Parts:
    text, hypothesis, label, p = premise(rng)
    response = _little_buddy_nli(hypothesis, label, p)
    return "flan", FIVE_YEAR_OLD_PROMPT, _nli_question(text, hypothesis), response


def _buddy_fact(rng: random.Random, label_prompt: str) -> Parts:
    f = fact(rng)
    return "flan", FIVE_YEAR_OLD_PROMPT, f.question, f"Okay little buddy! {f.simple}"


def _steps(rng: random.Random, label_prompt: str) -> Parts:
    s = sum_problem(rng)
    steps = "\n".join(f"Step {i}: {text}" for i, text in enumerate(s.steps, 1))
    system = rng.choice(STEP_BY_STEP_PROMPTS)
    return "cot", system, s.question, f"{steps}\nFinal answer: {s.answer}"


def _chain(rng: random.Random, label_prompt: str) -> Parts:
    w = world()
    p = rng.choice(w.people)
    c = w.country_of(p.city)
    response = (
        f"Step 1: {p.name} was born in {p.city}.\nStep 2: {p.city} is a city in {c.name}.\n"
        f"Final answer: {c.name}"
    )
    system = rng.choice(STEP_BY_STEP_PROMPTS)
    return "cot", system, f"In which country was {p.name} born?", response


def _extract(rng: random.Random, label_prompt: str) -> Parts:
    sentence, date, name = dated_sentence(rng)
    if rng.random() < 0.5:
        question = f"Sentence: {sentence}\nWhat date is mentioned in the sentence?"
        return "niv", EXTRACT_DATE_PROMPT, question, date
    question = f"Sentence: {sentence}\nWho is mentioned in the sentence?"
    return "niv", EXTRACT_NAME_PROMPT, question, name


def _rewrite(rng: random.Random, label_prompt: str) -> Parts:
    polite, imperative = request(rng)
    question = f'Rewrite the sentence in the imperative mood: "{polite}"'
    return "niv", REWRITE_PROMPT, question, imperative


# (family, weight), drawn with rng.choices: the order and weights are part of the corpus.
FAMILIES: tuple[tuple[Callable[[random.Random, str], Parts], int], ...] = (
    (_sentiment, 11),
    (_hope, 10),
    (_nli, 10),
    (_choice, 10),
    (_buddy_nli, 11),
    (_buddy_fact, 7),
    (_steps, 14),
    (_chain, 5),
    (_extract, 14),
    (_rewrite, 8),
)


def row(rng: random.Random) -> dict[str, str]:
    """An OpenOrca-style row; "prefix" (niv, flan, t0, cot) becomes the id in `with_ids`."""
    family = rng.choices([f for f, _ in FAMILIES], weights=[w for _, w in FAMILIES])[0]
    label_prompt = rng.choice(LABEL_ONLY_PROMPTS[:2])
    prefix, system, question, response = family(rng, label_prompt)
    return {"prefix": prefix, "system_prompt": system, "question": question, "response": response}


def with_ids(rng: random.Random, rows: list[dict[str, str]]) -> list[dict[str, str]]:
    """The rows in COLUMNS, ids like "niv.123456": unique numbers, drawn after the content."""
    numbers = rng.sample(range(1, 1_000_000), len(rows))
    return [
        {"id": f"{r['prefix']}.{number}", **{k: r[k] for k in COLUMNS[1:]}}
        for r, number in zip(rows, numbers, strict=True)
    ]

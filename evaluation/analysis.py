"""The seed's error analysis, per example: length, format, system prompt, truncation, answers.

Flags are heuristics that work on any instruction data, stated here so a reader can judge them:
- overgeneration: the answer has more than 1.5x the reference's words.
- short-form task: the reference has at most 4 words (a label, one word, an extracted span);
  a format violation is a short-form answer with more than max(4, 2x reference) words, i.e.
  an explanation instead of the expected form.
- system prompt ignored: a system prompt with a recognizable constraint that the answer breaks:
  "single label / only / one word" (a format violation), "step by step" or a reference ending
  in a "final answer" line (no such line in the answer), "five year old" (the answer's words
  are longer on average than the reference's by more than 1 letter).
- truncated: generation stopped at the token budget, not at end-of-sequence.
- wrong answer: where the reference has a checkable answer (its "final answer" line, or the
  whole reference for a short-form task), the answer's normalized form differs.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

OVERGEN_FACTOR = 1.5
SHORT_FORM_WORDS = 4
FLAGS = ("overgeneration", "format_violation", "system_ignored", "truncated", "wrong_answer")

_FINAL = re.compile(r"final answer\s*[:\-]\s*(.+)", re.IGNORECASE)
_LABEL_ONLY = re.compile(r"single (label|word)|only (the|a|one)|one word|label only|just the", re.I)
_STEPS = re.compile(r"step[- ]by[- ]step", re.I)
_ELI5 = re.compile(r"five[- ]year[- ]old|5[- ]year[- ]old", re.I)


def words(text: str) -> list[str]:
    return text.split()


def normalize(text: str) -> str:
    return " ".join(re.sub(r"[^\w\s]", " ", text.lower()).split())


def checkable_answer(reference: str) -> str | None:
    """The part of a reference an answer can be checked against, or None."""
    match = _FINAL.search(reference)
    if match:
        return normalize(match.group(1))
    if len(words(reference)) <= SHORT_FORM_WORDS:
        return normalize(reference)
    return None


def predicted_answer(prediction: str, reference: str) -> str:
    match = _FINAL.search(prediction)
    if _FINAL.search(reference):
        return normalize(match.group(1)) if match else ""
    return normalize(prediction)


def _mean_word_len(text: str) -> float:
    ws = re.findall(r"[A-Za-z]+", text)
    return sum(map(len, ws)) / len(ws) if ws else 0.0


@dataclass(frozen=True)
class ExampleFlags:
    pred_words: int
    ref_words: int
    overgeneration: bool
    short_form: bool
    format_violation: bool
    system_ignored: bool
    truncated: bool
    checkable: bool
    wrong_answer: bool

    def as_dict(self) -> dict:
        return dict(self.__dict__)


def flag_example(prediction: str, reference: str, system: str, truncated: bool) -> ExampleFlags:
    pw, rw = len(words(prediction)), len(words(reference))
    short = rw <= SHORT_FORM_WORDS
    # A short form asked for and not given: an over-long answer, or none at all.
    violation = short and (pw == 0 or pw > max(SHORT_FORM_WORDS, 2 * rw))
    ignored = False
    if system.strip():
        if _LABEL_ONLY.search(system) and short:
            ignored = violation
        if (_STEPS.search(system) or _FINAL.search(reference)) and _FINAL.search(reference):
            ignored = ignored or not _FINAL.search(prediction)
        if _ELI5.search(system):
            ignored = ignored or _mean_word_len(prediction) > _mean_word_len(reference) + 1.0
    answer = checkable_answer(reference)
    wrong = answer is not None and predicted_answer(prediction, reference) != answer
    return ExampleFlags(
        pw,
        rw,
        pw > OVERGEN_FACTOR * rw,
        short,
        violation,
        ignored,
        truncated,
        answer is not None,
        wrong,
    )


def summarize(flags: list[ExampleFlags]) -> dict[str, float]:
    """Length figures and the rate of each flag over the examples it applies to."""
    n = len(flags)
    if n == 0:
        return {}
    pred = sum(f.pred_words for f in flags) / n
    ref = sum(f.ref_words for f in flags) / n
    short = [f for f in flags if f.short_form]
    checkable = [f for f in flags if f.checkable]
    out = {
        "pred_words": pred,
        "ref_words": ref,
        "overgeneration_pct": 100.0 * (pred / ref - 1.0) if ref else 0.0,
        "truncated_pct": 100.0 * sum(f.truncated for f in flags) / n,
        "overgeneration_rate": sum(f.overgeneration for f in flags) / n,
        "format_violation_rate": sum(f.format_violation for f in short) / len(short)
        if short
        else 0.0,
        "system_ignored_rate": sum(f.system_ignored for f in flags) / n,
        "truncation_rate": sum(f.truncated for f in flags) / n,
        "wrong_answer_rate": (
            sum(f.wrong_answer for f in checkable) / len(checkable) if checkable else 0.0
        ),
    }
    out["format_compliance"] = 1.0 - out["format_violation_rate"]
    return out

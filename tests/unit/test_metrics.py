"""The scoring layer against independent computations of the canonical definitions.

Needs the WordNet corpus (`make setup`); everything runs offline.
"""

from __future__ import annotations

import collections
import gzip
import importlib.util
import json
import math
from pathlib import Path

import evaluate
import nltk
import numpy as np
import pytest
import sacrebleu
from nltk.translate.meteor_score import single_meteor_score
from rouge_score import rouge_scorer
from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

from evaluation import scoring
from evaluation.wordnet import ensure_wordnet, wordnet_fingerprint
from sweeps.cli import main as sweeplab
from tests.helpers import ROOT

LONG_REF = " ".join(
    f"Step {i}: the model reads sentence number {i} and writes a short, careful answer."
    for i in range(60)
)
LONG_PRED = LONG_REF.replace("careful", "quick").replace("reads", "parses")

# (prediction, reference, single sentence?)
PAIRS = [
    ("The cat sat on the mat.", "A cat was sitting on the mat.", True),
    (
        "It is a guide to action which ensures that the military always obeys the commands of "
        "the party",
        "It is a guide to action that ensures that the military will forever heed Party commands",
        True,
    ),
    ("Hello, world! How are you? I'm fine.", "Hello world. How are you doing? I am fine.", False),
    ("Prices rose 3.5% in 2023 -- see table 2 (p. 14).", "Prices rose by 3.5% in 2023.", True),
    ("Café naïve résumé — “quotes” and an emoji 🎉", 'Cafe naive resume with "quotes" 🎉', True),
    ("这是一个测试。", "这是一个测试句子。", True),
    ("", "The reference is not empty.", True),
    ("The prediction is not empty.", "", True),
    ("", "", True),
    ("   \n\t ", "whitespace only prediction", True),
    ("Line one.\nLine two has more words.\n", "Line one.\nLine two has fewer.", False),
    ("He doesn't like dogs; they're loud.", "He does not like dogs because they are loud.", True),
    (
        "the quick brown fox jumps over the lazy dog",
        "the fast brown fox leaps over the lazy dog",
        True,
    ),
    (LONG_PRED, LONG_REF, False),
]
PREDS = [p for p, _, _ in PAIRS]
REFS = [r for _, r, _ in PAIRS]


@pytest.fixture(scope="module", autouse=True)
def _wordnet() -> None:
    ensure_wordnet()  # raises "WordNet data not found: run `make setup`" if missing


# --- independent computations of the canonical definitions -------------------------------


def nmt_bleu(preds: list[str], refs: list[str], max_order: int = 4) -> dict:
    """tensorflow/nmt compute_bleu over sacrebleu 13a tokens, one reference per example."""
    tok = Tokenizer13a()
    matches = collections.Counter()
    possible = collections.Counter()
    hyp_len = ref_len = 0
    for pred, ref in zip(preds, refs, strict=True):
        hyp, gold = tok(pred).split(), tok(ref).split()
        hyp_len += len(hyp)
        ref_len += len(gold)
        for n in range(1, max_order + 1):
            hyp_grams = collections.Counter(zip(*(hyp[i:] for i in range(n)), strict=False))
            ref_grams = collections.Counter(zip(*(gold[i:] for i in range(n)), strict=False))
            matches[n] += sum((hyp_grams & ref_grams).values())
            possible[n] += max(0, len(hyp) - n + 1)
    precisions = [matches[n] / possible[n] if possible[n] else 0.0 for n in range(1, 5)]
    geo = math.exp(sum(0.25 * math.log(p) for p in precisions)) if min(precisions) > 0 else 0.0
    ratio = hyp_len / ref_len if hyp_len and ref_len else 0.0
    if not ratio:
        bp = 0.0
    else:
        bp = 1.0 if ratio > 1 else math.exp(1 - 1 / ratio)
    return {
        "bleu": geo * bp,
        "precisions": precisions,
        "brevity_penalty": bp,
        "length_ratio": ratio,
        "translation_length": hyp_len,
        "reference_length": ref_len,
    }


def direct_rouge_l(preds: list[str], refs: list[str]) -> list[float]:
    scorer = rouge_scorer.RougeScorer(["rougeL"], use_stemmer=False)
    return [scorer.score(r, p)["rougeL"].fmeasure for p, r in zip(preds, refs, strict=True)]


def direct_meteor(pred: str, ref: str) -> float:
    def tokens(text: str) -> list[str]:
        return nltk.word_tokenize(text, preserve_line=True)

    return single_meteor_score(tokens(ref), tokens(pred), alpha=0.9, beta=3, gamma=0.5)


def load_script(name: str):
    spec = importlib.util.spec_from_file_location(name, ROOT / "scripts" / f"{name}.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


# --- BLEU ----------------------------------------------------------------------------------


def test_bleu_matches_nmt_formula_on_varied_pairs():
    ours = scoring.load_metric("bleu").compute(predictions=PREDS, references=REFS)
    expected = nmt_bleu(PREDS, REFS)
    assert set(ours) == set(expected)
    for key in ("bleu", "brevity_penalty", "length_ratio"):
        assert ours[key] == pytest.approx(expected[key], abs=1e-9), key
    assert ours["precisions"] == pytest.approx(expected["precisions"], abs=1e-9)
    assert ours["translation_length"] == expected["translation_length"]
    assert ours["reference_length"] == expected["reference_length"]
    assert 0.0 < ours["bleu"] < 1.0


def test_bleu_equals_sacrebleu_when_every_order_matches():
    # Single references and non-zero n-gram matches: sacrebleu's corpus BLEU is the same number.
    preds, refs = PREDS[:2] + PREDS[-1:], REFS[:2] + REFS[-1:]
    ours = scoring.load_metric("bleu").compute(predictions=preds, references=refs)["bleu"]
    theirs = sacrebleu.corpus_bleu(preds, [refs], tokenize="13a").score / 100
    assert ours == pytest.approx(theirs, abs=1e-9)


def test_bleu_hub_docstring_example_and_multi_reference():
    bleu = scoring.load_metric("bleu")
    result = bleu.compute(
        predictions=["hello there general kenobi", "foo bar foobar"],
        references=[["hello there general kenobi", "hello there!"], ["foo bar foobar"]],
    )
    assert result["bleu"] == 1.0
    assert result["reference_length"] == 6  # shortest reference: "hello there !" has 3 tokens
    assert result["translation_length"] == 7


def test_bleu_all_predictions_empty_is_zero_not_a_crash():
    result = scoring.load_metric("bleu").compute(predictions=["", " "], references=["a b", "c"])
    assert result == {
        "bleu": 0.0,
        "precisions": [0.0, 0.0, 0.0, 0.0],
        "brevity_penalty": 0.0,
        "length_ratio": 0.0,
        "translation_length": 0,
        "reference_length": 3,
    }


# --- ROUGE ---------------------------------------------------------------------------------


def test_rouge_l_per_example_and_mean_match_rouge_score():
    expected = direct_rouge_l(PREDS, REFS)
    per_example = scoring.per_example_scores(PREDS, REFS)["rougeL"]
    np.testing.assert_allclose(per_example, expected, rtol=0, atol=1e-9)
    assert scoring.score(PREDS, REFS)["rougeL"] == pytest.approx(np.mean(expected), abs=1e-9)
    # rouge_score keeps only ASCII [a-z0-9] tokens: the Chinese pair has none and scores 0.
    assert per_example[5] == 0.0


def test_rouge_module_hub_outputs():
    rouge = scoring.load_metric("rouge")
    same = rouge.compute(
        predictions=["hello there", "general kenobi"], references=["hello there", "general kenobi"]
    )
    assert same == {"rouge1": 1.0, "rouge2": 1.0, "rougeL": 1.0, "rougeLsum": 1.0}
    lists = rouge.compute(predictions=PREDS[:3], references=REFS[:3], use_aggregator=False)
    assert lists["rougeL"] == pytest.approx(direct_rouge_l(PREDS[:3], REFS[:3]), abs=1e-12)
    assert set(lists) == {"rouge1", "rouge2", "rougeL", "rougeLsum"}


# --- METEOR --------------------------------------------------------------------------------


def test_meteor_single_sentence_pairs_match_nltk():
    per_example = scoring.per_example_scores(PREDS, REFS)["meteor"]
    for i, (pred, ref, single) in enumerate(PAIRS):
        if single:
            assert per_example[i] == pytest.approx(direct_meteor(pred, ref), abs=1e-9), pred
    assert per_example[1] == pytest.approx(0.6944, abs=5e-5)  # NLTK / Hub docstring value
    assert per_example[6] == per_example[7] == per_example[8] == 0.0


def test_meteor_module_mean_and_tokenizer_name():
    meteor = scoring.load_metric("meteor")
    singles = [(p, r) for p, r, single in PAIRS if single]
    mean = meteor.compute(predictions=[p for p, _ in singles], references=[r for _, r in singles])
    assert mean["meteor"] == pytest.approx(np.mean([direct_meteor(p, r) for p, r in singles]))
    try:
        nltk.data.find("tokenizers/punkt_tab/english/")
        expected_name = "nltk.word_tokenize"
    except LookupError:
        expected_name = "treebank(preserve_line)"
    assert scoring.meteor_tokenizer_name() == expected_name
    if expected_name == "treebank(preserve_line)":  # then multi-sentence pairs match too
        all_pairs = meteor.compute(predictions=PREDS, references=REFS, use_aggregator=False)
        expected = [direct_meteor(p, r) for p, r in zip(PREDS, REFS, strict=True)]
        assert all_pairs["meteor"] == pytest.approx(expected, abs=1e-9)


def test_meteor_multiple_references_take_the_best():
    meteor = scoring.load_metric("meteor")
    result = meteor.compute(predictions=["the cat sat"], references=[["a dog ran", "the cat sat"]])
    assert result["meteor"] == pytest.approx(direct_meteor("the cat sat", "the cat sat"))


# --- score() -------------------------------------------------------------------------------


def test_score_combines_every_registry_metric():
    result = scoring.score(PREDS, REFS)
    assert set(result) == {"n", "bleu", "rougeL", "meteor", "chrf"}
    assert result["n"] == len(PAIRS)
    assert result["bleu"] == pytest.approx(nmt_bleu(PREDS, REFS)["bleu"], abs=1e-9)
    per_example = scoring.per_example_scores(PREDS, REFS)
    assert result["meteor"] == pytest.approx(float(np.mean(per_example["meteor"])), abs=1e-12)
    assert all(isinstance(result[k], float) for k in ("bleu", "rougeL", "meteor", "chrf"))


def test_score_per_example_rows_follow_input_order():
    preds = ["completely different words here", "same text", "zebra"]
    refs = ["nothing alike at all", "same text", "zebra"]
    rows = scoring.score(preds, refs, per_example=True)["per_example"]
    assert [row["rougeL"] for row in rows] == [0.0, 1.0, 1.0]
    assert rows[0]["meteor"] == 0.0 and rows[1]["meteor"] > 0.9
    assert set(rows[0]) == {"rougeL", "meteor"}


def test_score_rejects_bad_inputs_with_one_line():
    with pytest.raises(ValueError, match=r"differ in length: 2 != 1") as info:
        scoring.score(["a", "b"], ["a"])
    assert "\n" not in str(info.value)
    with pytest.raises(ValueError, match="nothing to score"):
        scoring.score([], [])
    with pytest.raises(ValueError, match="prediction 1 is NoneType"):
        scoring.score(["a", None], ["a", "b"])


def test_metrics_load_once_and_params_are_recordable():
    assert scoring.load_metric("bleu") is scoring.load_metric("bleu")
    params = scoring.scoring_params()
    assert params["meteor_tokenizer"] in {"nltk.word_tokenize", "treebank(preserve_line)"}
    assert len(params["wordnet_sha256"]) == 12
    assert params["wordnet_path"] == wordnet_fingerprint()["path"]
    assert all(isinstance(v, str) for v in params.values())


def test_local_modules_load_through_evaluate_by_path():
    bleu = evaluate.load(str(ROOT / "evaluation" / "metrics" / "bleu"), keep_in_memory=True)
    assert bleu.compute(predictions=["a b c d"], references=["a b c d"])["bleu"] == 1.0


# --- CLI -----------------------------------------------------------------------------------


def write_jsonl(path: Path, lines: list[str]) -> Path:
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_cli_prints_scores(tmp_path, capsys):
    rows = [json.dumps({"prediction": p, "reference": r}) for p, r in zip(PREDS, REFS, strict=True)]
    path = write_jsonl(tmp_path / "preds.jsonl", rows[:5] + [""] + rows[5:])  # blank line skipped
    assert sweeplab(["score", str(path)]) == 0
    out = json.loads(capsys.readouterr().out)
    assert set(out) == {"n", "bleu", "rougeL", "meteor", "chrf"}
    assert out == pytest.approx(scoring.score(PREDS, REFS))


def test_cli_per_example_in_file_order(tmp_path, capsys):
    rows = [
        json.dumps({"prediction": "alpha beta", "reference": "gamma delta"}),
        json.dumps({"prediction": "same words", "reference": "same words"}),
    ]
    assert sweeplab(["score", str(write_jsonl(tmp_path / "p.jsonl", rows)), "--per-example"]) == 0
    out = json.loads(capsys.readouterr().out)
    assert out["n"] == 2
    assert [row["rougeL"] for row in out["per_example"]] == [0.0, 1.0]


@pytest.mark.parametrize(
    ("lines", "message"),
    [
        (['{"prediction": "a", "reference": "b"}', "{not json"], ":2: bad JSON"),
        (
            ['{"prediction": "a", "reference": "b"}', "", '{"prediction": "a"}'],
            ":3: missing key 'reference'",
        ),
        (['{"prediction": 3, "reference": "b"}'], ":1: 'prediction' must be a string"),
        (["[1, 2]"], ":1: expected a JSON object"),
        ([""], ": no examples"),
    ],
)
def test_cli_bad_input_exits_2_with_one_line(tmp_path, capsys, lines, message):
    path = write_jsonl(tmp_path / "bad.jsonl", lines)
    assert sweeplab(["score", str(path)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(path) in err and message in err


def test_cli_missing_file_exits_2(tmp_path, capsys):
    missing = tmp_path / "nope.jsonl"
    assert sweeplab(["score", str(missing)]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and str(missing) in err


# --- scripts/setup_wordnet.py --------------------------------------------------------------

MAN_SNIPPET = """\
.TS
tab(	);
l l l.
Number	Name	Contents
_
00	adj.all	all adjective clusters
01	adj.pert	relational adjectives (pertainyms)
02	adv.all	all adverbs
03	noun.Tops	unique beginner for nouns
04	noun.person  	nouns denoting people
05	verb.body	verbs of grooming, dressing and bodily care
.TE
.SH NOTES
"""


def test_lexnames_parsing_of_man_page_table():
    setup = load_script("setup_wordnet")
    rows = setup.parse_lexnames(MAN_SNIPPET)
    assert rows == [
        (0, "adj.all", 3),
        (1, "adj.pert", 3),
        (2, "adv.all", 4),
        (3, "noun.Tops", 1),
        (4, "noun.person", 1),
        (5, "verb.body", 2),
    ]
    assert setup.format_lexnames(rows[:2]) == "00\tadj.all\t3\n01\tadj.pert\t3\n"
    with pytest.raises(ValueError, match="numbered"):
        setup.parse_lexnames(MAN_SNIPPET.replace("02\tadv.all", "07\tadv.all"))
    with pytest.raises(ValueError, match="no lexnames table"):
        setup.parse_lexnames("no table here\n")


def test_lexnames_from_the_installed_man_page():
    setup = load_script("setup_wordnet")
    if not setup.MAN_PAGE.is_file():
        pytest.skip(f"{setup.MAN_PAGE} not installed")
    rows = setup.parse_lexnames(setup.read_man_page())
    assert len(rows) == 45
    assert rows[18] == (18, "noun.person", 1) and rows[44] == (44, "adj.ppl", 3)
    # The corpus NLTK loads carries exactly these lexnames.
    lexnames = Path(ensure_wordnet()) / "lexnames"
    if lexnames.is_file():
        assert lexnames.read_text() == setup.format_lexnames(rows)


def test_build_is_idempotent(tmp_path):
    # Given a fake package layout, build copies it once and then has nothing to do.
    setup = load_script("setup_wordnet")
    source = tmp_path / "share"
    source.mkdir()
    for name in setup.FILES:
        (source / name).write_text(f"contents of {name}\n")
    man = tmp_path / "lexnames.5WN.gz"
    man.write_bytes(gzip.compress(MAN_SNIPPET.encode()))
    target = tmp_path / "nltk_data" / "corpora" / "wordnet"
    assert setup.build(target, source=source, man_page=man) is True
    assert setup.build(target, source=source, man_page=man) is False
    assert (target / "index.sense").read_text() == "contents of index.sense\n"
    assert (target / "lexnames").read_text().splitlines()[4] == "04\tnoun.person\t1"
    (source / "data.noun").unlink()
    with pytest.raises(setup.SetupError, match="data.noun"):
        setup.build(target, source=source, man_page=man)

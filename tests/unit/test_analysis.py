import pytest

from evaluation.analysis import checkable_answer, flag_example, summarize
from evaluation.bootstrap import paired_bootstrap
from evaluation.corpus_bleu import bleu_from_stats, bleu_stats
from evaluation.corpus_chrf import chrf_stats
from evaluation.eval_sets import cut_to_sentence
from evaluation.metric_registry import mean_rows
from evaluation.scoring import score


def test_label_task_answered_with_an_explanation():
    f = flag_example(
        "This comment is classified as Not Hope Speech because it does not talk about equality.",
        "Hope Speech",
        "You are an AI assistant. Answer with a single label only.",
        truncated=False,
    )
    assert f.short_form and f.format_violation and f.system_ignored and f.overgeneration
    assert f.checkable and f.wrong_answer and not f.truncated


def test_label_task_answered_right():
    f = flag_example("Hope Speech", "Hope Speech", "Answer with a single label only.", False)
    assert not (f.format_violation or f.system_ignored or f.wrong_answer or f.overgeneration)


def test_no_answer_to_a_label_task_is_not_compliant():
    for blank in ("", "   \n"):
        f = flag_example(blank, "Hope Speech", "Answer with a single label only.", False)
        assert f.short_form and f.format_violation and f.wrong_answer
    assert summarize([flag_example("", "Yes", "", False)])["format_compliance"] == 0.0


def test_step_by_step_needs_a_final_answer_line():
    ref = "Step 1: Subtract 15: 3q = 30.\nStep 2: Divide by 3.\nFinal answer: 10"
    sysp = "Think step by step and end with a final answer line."
    assert checkable_answer(ref) == "10"
    good = flag_example("Step 1: 3q = 30.\nFinal answer: 10", ref, sysp, False)
    assert not good.system_ignored and not good.wrong_answer
    chatty = flag_example("Sure! q is 10. I hope this helps!", ref, sysp, False)
    assert chatty.system_ignored and chatty.wrong_answer
    wrong = flag_example("Step 1: ...\nFinal answer: 12", ref, sysp, False)
    assert wrong.wrong_answer and not wrong.system_ignored


def test_five_year_old_style():
    ref = "Okay little buddy! A leader is like the captain of a team."
    sysp = "Think like you are answering to a five year old."
    plain = flag_example("Okay buddy! A leader is the boss of a team.", ref, sysp, False)
    fancy = flag_example(
        "Governmental leadership constitutes institutional administrative responsibility.",
        ref,
        sysp,
        False,
    )
    assert not plain.system_ignored and fancy.system_ignored


def test_summary_rates_and_lengths():
    flags = [
        flag_example("a b c d e f g h", "a b", "", truncated=True),  # 8 vs 2 words
        flag_example("a b", "a b", "", truncated=False),
        flag_example("x y z w", "long reference with many words in it", "", False),
    ]
    s = summarize(flags)
    assert s["pred_words"] == pytest.approx(14 / 3) and s["ref_words"] == pytest.approx(11 / 3)
    assert s["overgeneration_pct"] == pytest.approx(100 * (14 / 11 - 1))
    assert s["truncated_pct"] == pytest.approx(100 / 3)
    assert s["overgeneration_rate"] == pytest.approx(1 / 3)
    assert s["format_violation_rate"] == pytest.approx(0.5)  # 1 of 2 short-form tasks
    assert s["format_compliance"] == pytest.approx(0.5)
    assert s["wrong_answer_rate"] == pytest.approx(0.5)


def test_cut_to_sentence():
    assert cut_to_sentence("Pick up the book. The imperative mood is") == "Pick up the book."
    assert cut_to_sentence("No sentence end here") == "No sentence end here"
    assert cut_to_sentence("Done. Finished!") == "Done. Finished!"


PREDS = ["the cat sat on the mat", "a dog ran far away", "", "hello there friend", "yes"]
REFS = ["the cat sat on a mat", "the dog ran away", "something", "hello friend", "no"]


def test_bleu_stats_reproduce_corpus_bleu():
    stats = bleu_stats(PREDS * 3, REFS * 3)
    assert bleu_from_stats(stats.sum(0)) == pytest.approx(
        score(PREDS * 3, REFS * 3)["bleu"], abs=1e-12
    )


def test_paired_bootstrap_interval():
    base_p = ["x"] * 5
    t = {
        "meteor": mean_rows([0.5, 0.6, 0.7, 0.4, 0.5]),
        "rougeL": mean_rows([0.5] * 5),
        "bleu": bleu_stats(PREDS, REFS),
        "chrf": chrf_stats(PREDS, REFS),
    }
    b = {
        "meteor": mean_rows([0.25, 0.3, 0.35, 0.2, 0.25]),
        "rougeL": mean_rows([0.5] * 5),
        "bleu": bleu_stats(base_p, REFS),
        "chrf": chrf_stats(base_p, REFS),
    }
    d = paired_bootstrap(t, b, samples=500, seed=0)
    assert d["meteor"].pct == pytest.approx(100.0)  # every example doubled
    assert d["meteor"].ci_low == pytest.approx(100.0) and d["meteor"].ci_high == pytest.approx(
        100.0
    )
    assert d["rougeL"].pct == 0.0
    assert d["bleu"].pct is None  # the base's BLEU is 0: no relative change
    # Same seed, same interval.
    t["meteor"] = mean_rows([0.5, 0.1, 0.7, 0.4, 0.9])
    one, two = paired_bootstrap(t, b, 300, 1), paired_bootstrap(t, b, 300, 1)
    assert one["meteor"] == two["meteor"]
    assert one["meteor"].ci_low < one["meteor"].pct < one["meteor"].ci_high

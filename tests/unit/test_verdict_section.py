"""The verdicts as a user reads them: what they rest on, the noise check, what settles one."""

from sweeps.config import SweepConfig
from sweeps.report.effects import Effect
from sweeps.report.judgement import Judgement, noise_checks
from sweeps.report.noise import Noise
from sweeps.report.verdict_section import _dimension, noise_lines, to_settle


def _cfg(**search):
    return SweepConfig.model_validate(
        {
            "name": "s",
            "model": {"path": "m"},
            "search": {
                "space": {
                    "train.seed": {"choice": [0, 1]},
                    "train.threads": {"choice": [1, 2]},
                    "mix.openorca": {"choice": [0.0, 0.2]},
                },
                **search,
            },
        }
    )


def _judged(noise=None):
    return Judgement({}, {}, noise, 0, 0)


def test_without_replicates_the_report_says_first_that_it_ignores_training_noise():
    lines = " ".join(noise_lines(_cfg(replicates=0), _judged()))
    assert "These verdicts ignore training noise" in lines and "search.replicates: 0" in lines
    noise = Noise({"alpaca/meteor": 1.37, "alpaca/bleu": 0.5}, {"alpaca/meteor": 3}, 2, 4, ("x",))
    lines = " ".join(noise_lines(_cfg(), _judged(noise)))
    assert "alpaca/meteor 1.37" in lines and "alpaca/bleu" not in lines
    assert "2 replicate group(s) of 4 runs" in lines and "ignore" not in lines


def test_seed_and_declared_no_op_dimensions_are_noise_checks():
    assert noise_checks(_cfg()) == ["train.seed"]
    assert noise_checks(_cfg(no_op=["train.threads"])) == ["train.seed", "train.threads"]


def _effect(verdict_, points=2.0, se=1.0):
    lo, hi = {"helps": (0.5, 3.5), "inconclusive": (-1.0, 5.0)}[verdict_]
    return Effect("alpaca/meteor", points, lo, hi, "paired", 12, se, decided=verdict_)


def test_a_noise_check_fails_when_a_no_op_change_is_called_an_effect():
    cfg = _cfg()
    passed = "\n".join(_dimension(cfg, [], "train.seed", [_effect("inconclusive")], True))
    assert "Noise check (A/A test)" in passed and "**passed**" in passed
    failed = "\n".join(_dimension(cfg, [], "train.seed", [_effect("helps")], True))
    assert "**FAILED**: 1 verdict(s) call a no-op change an effect (alpaca/meteor)" in failed
    other = "\n".join(_dimension(cfg, [], "mix.openorca", [_effect("helps")], False))
    assert "Noise check" not in other


def test_what_would_settle_an_inconclusive_effect():
    cfg = _cfg()
    # Paired, noise measured: seeds per configuration n with 2.8^2 (se_ex^2 + 2 sd^2/n) <= d^2:
    # se_ex = 1 (examples-only interval +-1.96), sd = 2, d = 6: room = (6/2.8)^2 - 1 = 3.59,
    # n = ceil(8 / 3.59) = 3.
    e = Effect(
        "alpaca/meteor",
        6.0,
        -1.0,
        13.0,
        "paired",
        12,
        3.0,
        raw=(4.04, 7.96),
        noise_sd=2.0,
        decided="inconclusive",
    )
    assert to_settle(cfg, e, []) == "3 seeds"
    # When the examples alone hide the effect, more seeds cannot settle it.
    small = Effect(
        "alpaca/meteor",
        1.0,
        -5.0,
        7.0,
        "paired",
        12,
        3.0,
        raw=(-1.0, 3.0),
        noise_sd=2.0,
        decided="inconclusive",
    )
    assert to_settle(cfg, small, []) == "more eval examples (seeds alone cannot)"
    # Regressed over 4 trials with se 2 on an effect of 2: about 4 x 2.8^2 = 32 trials.
    reg = Effect(
        "alpaca/meteor",
        2.0,
        -3.0,
        7.0,
        "regression",
        4,
        2.0,
        2.0,
        evidence="trials (residual spread: training noise included)",
        decided="inconclusive",
    )
    assert to_settle(cfg, reg, [object()] * 4) == "≈32 trials"
    assert to_settle(cfg, _effect("helps"), []) == ""

"""A sweep config: the defaults of every trial, the search space, the scheduler.

YAML -> frozen pydantic models that reject unknown keys; `key=value` overrides on the
command line; every problem reported as one line naming the file and the key.
"""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, ValidationError, field_validator, model_validator

from common.dicts import deep_merge, flatten
from evaluation.config import GenerationSettings
from evaluation.metric_registry import METRICS, Metric, metric_keys, names
from sweeps import bounded_yaml
from sweeps.budget import Budget
from sweeps.names import a_name, shown
from sweeps.objective import COMPARE, Objective, Pick, Target
from sweeps.objective_check import check_declared, check_pick, declared
from sweeps.search_settings import Confirm, Resources, Scheduler
from training.config import (
    DataConfig,
    LoraSettings,
    MixConfig,
    ModelConfig,
    Strict,
    TrainConfig,
)
from training.examples import SOURCES


class ConfigError(ValueError):
    """A config that cannot be used; the message is one line."""


class TrialConfig(Strict):
    """Everything one trial needs. Search dimensions override these defaults."""

    model: ModelConfig = Field(description="The base model to adapt.")
    data: DataConfig = Field(default_factory=DataConfig, description="Datasets and splits.")
    mix: MixConfig = Field(default_factory=MixConfig, description="Training data shares.")
    curriculum: Literal["none", "two_phase"] = Field(
        "none", description="two_phase: Alpaca only first, then the mixture."
    )
    lora: LoraSettings = Field(default_factory=LoraSettings, description="The LoRA adapter.")
    train: TrainConfig = Field(default_factory=TrainConfig, description="Optimization.")
    generation: GenerationSettings = Field(
        default_factory=GenerationSettings, description="Answer generation on the eval sets."
    )

    @model_validator(mode="before")
    @classmethod
    def _mix_every_source(cls, data: Any) -> Any:
        # Each declared source gets a share (0 unless set), so `mix.<name>` can be searched
        # and overridden like `mix.openorca`.
        if not isinstance(data, dict):
            return data
        d = data.get("data")
        names = d.sources if isinstance(d, DataConfig) else (d or {}).get("sources") or {}
        mix = data.get("mix", {})
        if isinstance(mix, MixConfig):
            mix = mix.model_dump()
        if not names or not isinstance(mix, dict) or not isinstance(names, dict):
            return data
        return {**data, "mix": {**{n: 0.0 for n in names}, **mix}}

    @model_validator(mode="after")
    def _mix_names_sources(self) -> TrialConfig:
        for name in self.mix.__pydantic_extra__ or {}:
            if name == "alpaca":
                raise ValueError("mix.alpaca cannot be set: Alpaca is the rest of the mixture")
            if name not in self.data.sources:
                raise ValueError(
                    f"mix.{name}: no data source named {name!r} (declare it under "
                    f"data.sources, or use one of {', '.join(self.data.names())})"
                )
        return self

    def flat_params(self) -> dict[str, Any]:
        """Every setting as a dotted name, plus the seed's short names (`lora_r`)."""
        params = flatten(self.model_dump(mode="json"))
        params["lora_r"] = self.lora.r
        return params


class Choice(Strict):
    choice: tuple[Any, ...] = Field(min_length=1, description="Values to pick from.")


class Range(Strict):
    low: float = Field(description="Lower bound.")
    high: float = Field(description="Upper bound.")
    log: bool = Field(False, description="Sample on a log scale.")
    integer: bool = Field(False, description="Integer values only.")

    @model_validator(mode="after")
    def _ordered(self) -> Range:
        if not self.low < self.high:
            raise ValueError(f"low ({self.low}) must be < high ({self.high})")
        if self.log and self.low <= 0:
            raise ValueError("a log range needs low > 0")
        return self


class SearchConfig(Strict):
    space: dict[str, Choice | Range] = Field(
        default_factory=dict, description="Dotted trial key -> choice list or range."
    )
    num_samples: int = Field(8, ge=1, description="Trials to run.")
    max_concurrent: int = Field(2, ge=1, description="Trials running at once.")
    objective: str = Field(
        "mean_meteor", description="`mean_<metric>` over the three sets, or `dataset/metric`."
    )
    mode: Literal["max", "min"] = Field("max", description="Maximize or minimize.")
    objectives: tuple[Target, ...] = Field((), description="Pareto objectives; ASHA's: the 1st.")
    constraints: tuple[str, ...] = Field(
        (), description="Kept by best/front: `a/b_delta_pct >= -5`."
    )
    seed: int = Field(0, description="Optuna sampler seed.")
    scheduler: Scheduler = Field(default_factory=Scheduler, description="Trial scheduler.")
    resources: Resources = Field(default_factory=Resources, description="Per-trial resources.")
    max_failures: int = Field(0, ge=0, description="Retries of a failing trial.")
    points_to_evaluate: tuple[dict[str, Any], ...] = Field(
        (), description="Configurations tried first (e.g. the seed's baseline), by dotted key."
    )
    budget: Budget = Field(
        default_factory=Budget, description="What the sweep may spend (default: no limit)."
    )
    replicates: int = Field(
        2,
        ge=0,
        description="Finished configurations re-run with another training seed after the "
        "search (the seed-like one, then the best): the report's training noise; 0: none.",
    )
    no_op: tuple[str, ...] = Field(
        (),
        description="Settings declared not to change results (`train.seed` always is): a "
        "dimension searching only these is reported as a noise check (an A/A test).",
    )
    warm_start_from: str | None = Field(
        None, description="A finished sweep (same store) to start from (`sweep --from`)."
    )
    confirm: Confirm | None = Field(
        None,
        description="After the search, re-run the best configurations and the seed-like "
        "baseline with several training seeds (`sweeplab confirm`); off by default.",
    )

    def goal(self) -> Objective:  # the objectives and constraints, as `sweeps.objective`
        return declared(self.objective, self.mode, self.objectives, self.constraints)


class Gate(Strict):
    metric: str = Field(description="A trial metric, e.g. `alpaca/meteor_delta_pct`.")
    op: Literal[">=", ">", "<=", "<"] = Field(">=", description="Comparison.")
    value: float = Field(0.0, description="Threshold.")

    def passes(self, metrics: dict[str, float]) -> bool:
        if self.metric not in metrics:
            return False
        return COMPARE[self.op](metrics[self.metric], self.value)

    def __str__(self) -> str:
        return f"{self.metric} {self.op} {self.value:g}"


class PromotionConfig(Strict):
    model_name: str | None = Field(None, description="Registered model name (default: sweep).")
    alias: str = Field("champion", description="Alias set on the promoted version.")
    _names = field_validator("model_name", "alias", mode="before")(a_name)
    gates: tuple[Gate, ...] = Field(
        (Gate(metric="alpaca/meteor_delta_pct", op=">=", value=0.0),),
        description="Conditions a trial must meet to be promoted (default: no in-distribution "
        "regression against the base model).",
    )
    pick: Pick | None = Field(None, description="Several objectives: the front member promoted.")


class SweepConfig(TrialConfig):
    name: str = Field(description="Sweep (experiment) name: letters, digits, `_`, `.`, `-`.")
    search: SearchConfig = Field(default_factory=SearchConfig, description="What to search.")
    tracking_uri: str | None = Field(
        None, description="MLflow tracking URI (default: $MLFLOW_TRACKING_URI or local SQLite)."
    )
    storage: str | None = Field(
        None,
        description="Ray checkpoints and the sweep record: a path all nodes share or an object "
        "store URI (s3://bucket/prefix?endpoint_override=host:port); default runs/ray.",
    )
    tracking_patience: float = Field(
        900.0,
        ge=0,
        description="Seconds to keep retrying while the tracking store is unreachable "
        "(writes wait on disk meanwhile; nothing is dropped).",
    )
    promotion: PromotionConfig = Field(
        default_factory=PromotionConfig, description="Promotion to the model registry."
    )
    system_metrics: bool = Field(
        True, description="Log each trial's CPU/memory/GPU use (MLflow's system metrics)."
    )

    _name = field_validator("name", mode="before")(a_name)

    @model_validator(mode="after")
    def _space_applies(self) -> SweepConfig:
        # Every searched key must be a trial setting, and every value must be valid there.
        sc = self.search
        check_declared(sc.objective, sc.objectives, sc.constraints, self.data.names(), names())
        check_pick(self.promotion.pick, self.search.goal())
        for key in sc.no_op:  # declared no-op settings must be trial settings
            if key not in self.flat_params():
                raise ValueError(f"search.no_op: {key!r} is not a trial setting")
        base = self.trial_dict()
        for key, dim in self.search.space.items():
            values = dim.choice if isinstance(dim, Choice) else (dim.low, dim.high)
            for value in values:
                try:
                    TrialConfig.model_validate(set_dotted(base, key, value))
                except (ConfigError, ValidationError) as exc:
                    raise ValueError(f"search.space.{key}={value!r}: {error_line(exc)}") from None
        for i, point in enumerate(self.search.points_to_evaluate):
            if set(point) != set(self.search.space):
                raise ValueError(
                    f"search.points_to_evaluate[{i}] must set exactly the searched keys "
                    f"{sorted(self.search.space)}"
                )
            try:
                self.trial(point)
            except (ConfigError, ValidationError) as exc:
                raise ValueError(f"search.points_to_evaluate[{i}]: {error_line(exc)}") from None
        return self

    def trial_dict(self) -> dict[str, Any]:
        data = self.model_dump(mode="json")
        sweep_only = ("name", "search", "tracking_uri", "storage", "tracking_patience", "promotion")
        for key in (*sweep_only, "system_metrics"):
            data.pop(key)
        return data

    def trial(self, overrides: dict[str, Any] | None = None) -> TrialConfig:
        data = self.trial_dict()
        for key, value in (overrides or {}).items():
            data = set_dotted(data, key, value)
        return TrialConfig.model_validate(data)


def eval_metric_keys(metrics: tuple[Metric, ...] = METRICS) -> list[str]:
    """`dataset/metric` for the three eval sets and every registry metric (or `metrics`)."""
    return metric_keys(SOURCES, metrics)


def _abs_if_local(location: str) -> str:
    path = Path(location).expanduser()
    return str(path.resolve()) if path.exists() else location


def localize(cfg: SweepConfig) -> SweepConfig:
    """Local paths made absolute: trials run in other working directories."""
    declared = {
        name: src.model_copy(update={"path": _abs_if_local(src.path)})
        for name, src in cfg.data.sources.items()
    }
    data = cfg.data.model_copy(
        update={s: _abs_if_local(cfg.data.source(s)) for s in SOURCES} | {"sources": declared}
    )
    model = cfg.model.model_copy(update={"path": _abs_if_local(cfg.model.path)})
    search = cfg.search
    if "model.path" in search.space and isinstance(search.space["model.path"], Choice):
        paths = tuple(_abs_if_local(p) for p in search.space["model.path"].choice)
        points = tuple(
            {**p, "model.path": _abs_if_local(p["model.path"])} for p in search.points_to_evaluate
        )
        search = search.model_copy(
            update={
                "space": {**search.space, "model.path": Choice(choice=paths)},
                "points_to_evaluate": points,
            }
        )
    return cfg.model_copy(update={"data": data, "model": model, "search": search})


def set_dotted(data: dict[str, Any], key: str, value: Any) -> dict[str, Any]:
    """A copy of `data` with `a.b.c` set; unknown paths are errors."""
    out = copy.deepcopy(data)
    node = out
    parts = key.split(".")
    for i, part in enumerate(parts[:-1]):
        if not isinstance(node.get(part), dict):
            raise ConfigError(f"unknown key {'.'.join(parts[: i + 1])!r} in {key!r}")
        node = node[part]
    if parts[-1] not in node:
        raise ConfigError(f"unknown key {key!r}")
    node[parts[-1]] = value
    return out


def error_line(exc: Exception) -> str:
    """One line for a config error; pydantic's names the key (its first error's location)."""
    if isinstance(exc, ValidationError):
        err = exc.errors()[0]
        loc = ".".join(str(p) for p in err["loc"])
        msg = err["msg"].removeprefix("Value error, ")
        got = err.get("input")
        got = "" if isinstance(got, dict) or got is None else f" (got {shown(got)})"
        return f"{loc}: {msg}{got}" if loc else f"{msg}{got}"
    return str(exc)


def parse_overrides(items: list[str]) -> list[tuple[str, Any]]:
    """`key=value` pairs; values are YAML scalars (`0.2`, `true`, `[q_proj]`)."""
    pairs = []
    for item in items:
        key, sep, raw = item.partition("=")
        if not sep or not key.strip():
            raise ConfigError(f"--set {item!r}: expected key=value")
        try:
            value = yaml.safe_load(raw) if raw.strip() else ""
        except yaml.YAMLError:
            value = raw
        pairs.append((key.strip(), value))
    return pairs


def load_config(path: str | Path, overrides: list[str] | None = None) -> SweepConfig:
    """Read, override and validate a sweep config; ConfigError with one line otherwise."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such config file")
    try:
        raw = bounded_yaml.load(path.read_text(encoding="utf-8"))
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None
    except bounded_yaml.YamlTooLarge as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except (yaml.YAMLError, UnicodeDecodeError) as exc:
        where = getattr(exc, "problem_mark", None)
        line = f" at line {where.line + 1}" if where is not None else ""
        raise ConfigError(f"{path}: not valid YAML{line}") from None
    if raw is None:
        raise ConfigError(f"{path}: empty config")
    if not isinstance(raw, dict):
        raise ConfigError(f"{path}: expected a mapping of settings, got {type(raw).__name__}")
    # Defaults fill the document first so `--set` can reach keys the file leaves out.
    try:
        data = _with_defaults(raw)
        for key, value in parse_overrides(overrides or []):
            data = set_dotted(data, key, value)
        return SweepConfig.model_validate(_prune_missing(data))
    except ConfigError as exc:
        raise ConfigError(f"{path}: {exc}") from None
    except ValidationError as exc:
        raise ConfigError(f"{path}: {error_line(exc)}") from None
    except RecursionError:
        raise ConfigError(f"{path}: nested too deeply to read") from None


_MISSING = "\0missing"


def _with_defaults(raw: dict[str, Any]) -> dict[str, Any]:
    """The file's values on top of every default, so dotted overrides find their keys."""
    skeleton = SweepConfig(name="x", model=ModelConfig(path="x")).model_dump(mode="json")
    skeleton["name"] = _MISSING
    skeleton["model"]["path"] = _MISSING
    merged = deep_merge(skeleton, raw, leaves=("space",))
    declared = merged["data"].get("sources") if isinstance(merged.get("data"), dict) else None
    if isinstance(declared, dict) and isinstance(merged.get("mix"), dict):
        merged["mix"] = {**{n: 0.0 for n in declared}, **merged["mix"]}
    return merged


def _prune_missing(data: Any) -> Any:
    if isinstance(data, dict):
        return {k: _prune_missing(v) for k, v in data.items() if v != _MISSING}
    return data

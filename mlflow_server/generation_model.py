"""The promoted model, saved as code (MLflow models-from-code): no pickle in the model's files.

MLflow copies this file into the model and runs it on load; it imports the generation code
the model ships in its own `code/` directory (`sweeplab_serving`: the prompt template, the
greedy generator, the verified loader), never an installed sweeplab. The model config says
which base model (hub id + commit, or path + sha256), the generation settings; a loader may
pass `model_config={"base_model_path": DIR}` to point at a copy of a local base model, which
is verified against the recorded sha256 all the same.
"""

from __future__ import annotations

import mlflow
from mlflow.pyfunc import PythonModel


def _instructions(model_input) -> list[str]:
    """Strings from a list, a pandas Series/DataFrame (first column) or a numpy array."""
    if hasattr(model_input, "columns"):
        model_input = model_input[model_input.columns[0]]
    if hasattr(model_input, "tolist"):
        model_input = model_input.tolist()
    return [str(x) for x in model_input]


class GenerationModel(PythonModel):
    """`predict(["instruction", ...]) -> ["answer", ...]`, greedy, with the training template."""

    def load_context(self, context) -> None:
        from sweeplab_serving import generate, template, verified_load

        cfg = dict(context.model_config)
        self._model, self._tokenizer = verified_load.load_with_adapter(
            cfg["base_model"], context.artifacts["adapter"], cfg.get("base_model_path")
        )
        self._generate, self._render = generate.generate, template.render_prompt
        self._max_new, self._batch = int(cfg["max_new_tokens"]), int(cfg["batch_size"])

    def predict(self, context, model_input, params=None):
        prompts = [self._render(text) for text in _instructions(model_input)]
        outs = self._generate(self._model, self._tokenizer, prompts, self._max_new, self._batch)
        return [g.text for g in outs]


mlflow.models.set_model(GenerationModel())

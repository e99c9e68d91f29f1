"""The offline demo's fixtures: a synthetic corpus and a tiny base model, built locally.

Owns the made-up world (countries, people, landmarks, dates), the task families asked about it,
the three files written in Alpaca's, Dolly-15k's and OpenOrca's published layouts
and a fourth, structured-output source read through a declared column mapping
(`python -m demo.corpus --out data/demo`), the plain pretraining text, and the tiny Llama
pretrained on it (`python -m demo.model --out models/demo-llama`; `--size mini` for a
smaller second one). Everything is a pure
function of its seed: the same seed gives byte-identical files and weights.

May import `training` (e.g. its prompt template) and `common`, never `sweeps`, `evaluation` or
`mlflow_server`. Nothing imports `demo` except the tests, `bench` and the Makefile: the
platform reads the demo's files exactly as it reads the real datasets and models, and the
package is not shipped in the wheel.
"""

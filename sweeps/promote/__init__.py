"""A sweep's best trial into the MLflow model registry (`promotion`), and what the
registered model runs when loaded (`serving`: base model + LoRA adapter + template).

`promotion` reads the store only (no torch); `serving` loads the model when a promoted
version is loaded.
"""

"""What keeps the trial path working on the lent GPU machine's older libraries: the
checkpointing setting under the name its transformers takes, WordNet found when zipped."""

from __future__ import annotations

import dataclasses
import os
import zipfile

import nltk

from evaluation.wordnet import WORDNET_RESOURCE
from training.sft import checkpointing_named


@dataclasses.dataclass
class _Args517:  # transformers 5.17's TrainingArguments: the old name only
    gradient_checkpointing: bool = True


@dataclasses.dataclass
class _ArgsNewer:  # later 5.x: the new name, the old one a deprecated alias
    activation_checkpointing: bool | None = None
    gradient_checkpointing: bool | None = None


def test_checkpointing_is_passed_under_the_name_the_trainer_takes():
    settings = {"activation_checkpointing": False, "bf16": True}
    assert checkpointing_named(_Args517, settings) == {
        "gradient_checkpointing": False,
        "bf16": True,
    }
    assert checkpointing_named(_ArgsNewer, settings) == settings
    assert _Args517(**checkpointing_named(_Args517, {"activation_checkpointing": False}))


def test_zipped_wordnet_is_found_as_the_folder_is(tmp_path, monkeypatch):
    # Given a data folder only its owner can write, holding corpora/wordnet.zip
    corpora = tmp_path / "data" / "corpora"
    corpora.mkdir(parents=True)
    with zipfile.ZipFile(corpora / "wordnet.zip", "w") as z:
        z.writestr("wordnet/lexnames", "00\tadj.all\t3\n")
    for d in (tmp_path / "data", corpora):
        os.chmod(d, 0o755)
    monkeypatch.setattr(nltk.data, "path", [str(tmp_path / "data")])
    # then the resource name sweeplab uses finds it (the name without "/" does not)
    found = nltk.data.find(WORDNET_RESOURCE)
    assert str(found.path if hasattr(found, "path") else found).endswith("wordnet.zip/wordnet")
    assert found.join("lexnames").open().read().startswith(b"00")

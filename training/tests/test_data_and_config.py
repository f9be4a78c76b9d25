from pathlib import Path

import numpy as np
import pytest

from factory.config import load_config
from factory.dataset import (
    CAPTION_TEMPLATES,
    DatasetError,
    EmojiDataset,
    attribution,
    build,
    captions_for,
    concept_split,
    norm_hex,
    render_svg,
)
from factory.eval_prompts import PARAPHRASE_TEMPLATES


def test_tiny_dataset_has_three_openly_licensed_styles(tiny_cfg, tiny_data):
    ds = EmojiDataset(Path(tiny_cfg.data.folder))
    assert ds.images.shape[1:] == (128, 128, 3) and ds.images.dtype == np.uint8
    assert {r["style"] for r in ds.records} == {"twemoji", "noto", "openmoji"}
    assert set(ds.meta["licences"]) == {"twemoji", "noto", "openmoji", "emojibase"}
    assert ds.meta["background"].startswith("white")
    # white background: the corners of every image are (near) white
    assert ds.images[:, :3, :3].min() > 240
    att = attribution(ds.meta)
    assert {d["license"] for d in att["training_data"]} == {"CC-BY-4.0", "Apache-2.0", "CC-BY-SA-4.0"}
    assert not any("apple" in d["package"] or "facebook" in d["package"] for d in att["training_data"])


def test_captions_name_the_style_and_paraphrases_never_occur(tiny_data):
    concept = {"label": "red apple", "tags": ["fruit", "red"]}
    caps = captions_for(concept, "noto")
    assert len(caps) == len(CAPTION_TEMPLATES) >= 4
    assert any("noto" in c for c in caps)
    for t in PARAPHRASE_TEMPLATES:
        assert t.format(label="red apple") not in caps


def test_split_is_deterministic_and_by_concept():
    assert concept_split("pizza", 0.05) == concept_split("pizza", 0.05)
    splits = {concept_split(f"concept {i}", 0.2) for i in range(200)}
    assert splits == {"train", "val"}
    assert norm_hex("2764-FE0F") == "2764"


def test_unknown_style_is_a_clear_error(tmp_path):
    with pytest.raises(DatasetError, match="unknown style"):
        build(tmp_path / "x", tmp_path / "cache", styles=("apple",))


def test_corrupt_svg_is_reported_not_kept():
    with pytest.raises(Exception):  # noqa: B017 (resvg raises its own, unexported error type)
        render_svg("<svg this is not svg", 32)
    with pytest.raises(DatasetError, match="empty"):
        render_svg('<svg xmlns="http://www.w3.org/2000/svg" width="10" height="10"></svg>', 32)


def test_missing_dataset_says_what_to_run(tmp_path):
    with pytest.raises(DatasetError, match="factory data"):
        EmojiDataset(tmp_path)


def test_config_rejects_unknown_keys(tmp_path):
    p = tmp_path / "c.json"
    p.write_text('{"teacher": {"max_step": 3}}')
    with pytest.raises(ValueError, match="teacher.max_step"):
        load_config(p)

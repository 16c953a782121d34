"""Label maps and class lists as stored: files, shipped benchmark maps, lookups, warnings."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from larvseg.errors import DataError
from larvseg.evaluation.labelmaps import (
    ClassListWarning,
    class_wnids,
    map_values,
    read_class_list,
    read_label_map,
    warn_unused_classes,
)
from larvseg.vocab.benchmarks import label_map_wnids, wnids

DOG, CAT = "n02084071", "n02121808"


def test_class_lists_from_yaml_a_file_or_a_shipped_map(tmp_path: Path) -> None:
    assert read_class_list(None, "x") is None
    assert read_class_list([DOG, None, "-", "", f" {CAT} "], "x") == [DOG, None, None, None, CAT]
    (tmp_path / "classes.txt").write_text(f"-\n{DOG}\n\n{CAT}\n{DOG}\n", encoding="utf-8")
    listed = read_class_list(str(tmp_path / "classes.txt"), "x")
    assert listed == [None, DOG, None, CAT, DOG]
    assert class_wnids(str(tmp_path / "classes.txt"), "x") == [DOG, CAT]
    assert read_class_list("benchmark:ade-847", "x") == label_map_wnids("ade-847")
    ordered = class_wnids("benchmark:ade-847", "x")  # the label order, shared synsets once
    assert ordered == list(dict.fromkeys(wnids("ade-847"))) and len(ordered) == 747
    with pytest.raises(DataError, match=r"source 'a': unknown benchmark map 'benchmark:ade'"):
        read_class_list("benchmark:ade", "source 'a'")
    with pytest.raises(DataError, match=r"missing.txt not found .*benchmark:ade-150"):
        read_class_list(str(tmp_path / "missing.txt"), "source 'a'")


def test_map_values_ignores_values_outside_the_table() -> None:
    lookup = np.array([-1, 0, 1, 0])  # value 0: no class; 1 and 3: class 0; 2: class 1
    values = np.array([[0, 1, 2], [3, 4, 255]])
    assert map_values(values, lookup).tolist() == [[-1, 0, 1], [0, -1, -1]]


def test_read_label_map_as_stored_or_decoded(tmp_path: Path) -> None:
    Image.fromarray(np.array([[0, 7], [255, 3]], dtype=np.uint8), mode="L").save(tmp_path / "l.png")
    assert read_label_map(tmp_path / "l.png").tolist() == [[0, 7], [255, 3]]
    rgb = np.zeros((1, 2, 3), dtype=np.uint8)
    rgb[0, 1] = (29, 5, 0)  # class 29 // 10 * 256 + 5 = 517
    Image.fromarray(rgb).save(tmp_path / "seg.png")
    assert read_label_map(tmp_path / "seg.png", "ade20k_full").tolist() == [[0, 517]]
    with pytest.raises(DataError, match=r"seg.png has PIL mode RGB.*label_decoder"):
        read_label_map(tmp_path / "seg.png")
    (tmp_path / "bad.png").write_bytes(b"no png")
    with pytest.raises(DataError, match="cannot read label map"):
        read_label_map(tmp_path / "bad.png")


def test_unused_classes_warn_by_name() -> None:
    with pytest.warns(ClassListWarning, match=rf"'c': 1 of its 2 listed classes .*: {CAT};"):
        assert warn_unused_classes("source 'c'", [DOG, CAT], [5, 0]) == [CAT]
    assert warn_unused_classes("source 'c'", [DOG, CAT], [5, 1]) == []

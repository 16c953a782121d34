"""The packaged WordNet class maps of COCO-Stuff-171, ADE-150 and ADE-847.

Tests that check synsets need WordNet 3.0 for nltk (`scripts/install_wordnet.sh DIR`,
then `NLTK_DATA=DIR`); where it is missing they skip locally and fail in CI (env var
`CI` set).
"""

from __future__ import annotations

import importlib.util
import json
import os
import re
import subprocess
import sys
from collections import defaultdict
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from PIL import Image

from larvseg.vocab import benchmarks
from larvseg.vocab.benchmarks import (
    BENCHMARKS,
    MATCHES,
    BenchmarkClass,
    classes,
    classes_in,
    classes_not_in,
    imagenet21k_classes,
    imagenet21k_wnids,
    label_map_wnids,
    names,
    novel_classes,
    wnids,
)

REPO = Path(__file__).resolve().parents[2]
SIZES = {"coco-stuff-171": 171, "ade-150": 150, "ade-847": 847}
WNID = re.compile(r"n\d{8}")

# Classes of one dataset that share a synset, by synset: every group must be listed
# here. Each non-exact member's reason names the others ("same synset as ...") after
# saying why (a plural, a kind WordNet lacks, ...). Groups marked "all exact" are
# classes whose lemma lists WordNet puts in one synset, so they have no reason.
ALLOWED_SHARED_SYNSETS: dict[str, dict[str, tuple[str, ...]]] = {
    "coco-stuff-171": {
        # WordNet has no synsets for floors, walls and ceilings by material
        "ceiling.n.01": ("ceiling-other", "ceiling-tile"),
        "floor.n.01": ("floor-marble", "floor-other", "floor-stone", "floor-tile", "floor-wood"),
        "wall.n.01": (
            "wall-brick",
            "wall-concrete",
            "wall-other",
            "wall-stone",
            "wall-tile",
            "wall-wood",
        ),
        # WordNet does not tell carpet from rug
        "rug.n.01": ("carpet", "rug"),
    },
    "ade-150": {},
    "ade-847": {
        # all exact: WordNet puts both lemma lists in one synset
        "aquarium.n.01": ("aquarium, fish tank, marine museum", "fish tank"),
        "baseboard.n.01": ("baseboard, mopboard, skirting board", "skirting board"),
        "booklet.n.01": ("booklet, brochure, folder, leaflet, pamphlet", "brochure"),
        "box_office.n.02": ("box office, ticket office, ticket booth", "ticket office"),
        "bulletin_board.n.02": ("bulletin board, notice board", "notice board"),
        "control_panel.n.01": (
            "instrument panel",
            "control panel",
            "control panel, instrument panel, control board, board, panel",
        ),
        "dais.n.01": ("pulpit", "podium"),
        "luggage_rack.n.01": ("roof rack", "luggage rack"),
        "patio.n.01": ("patio", "patio, terrace"),
        "spectacles.n.01": ("spectacles, specs, eyeglasses, glasses", "eyeglasses"),
        # plurals of another class
        "barrel.n.02": ("barrel, cask", "barrels"),
        "basket.n.01": ("basket, handbasket", "baskets"),
        "bed.n.01": ("bed", "beds"),
        "bin_liner.n.01": ("trash bag", "trash bags"),
        "bowl.n.01": ("bowl", "bowls"),
        "bread.n.01": ("bread, breadstuff, staff of life", "breads"),
        "bucket.n.01": ("bucket, pail", "ice bucket", "buckets"),
        "cabinet.n.03": ("lockers", "locker"),
        "cage.n.01": ("cage", "cages"),
        "can.n.01": ("can, tin, tin can", "tins"),
        "compact_disk.n.01": ("cds", "cd"),
        "cup.n.01": ("cup", "cups"),
        "dumbbell.n.01": ("dumbbells", "dumbbell"),
        "gravestone.n.01": ("gravestone, headstone, tombstone", "tombstones", "headstones"),
        "hanger.n.02": ("hanger", "hangers"),
        "hovel.n.01": ("hovel, hut, hutch, shack, shanty", "shanties", "shanty"),
        "leaf.n.01": ("leaves", "leaf, leafage, foliage"),
        "light_bulb.n.01": (
            "light bulb, lightbulb, bulb, incandescent lamp, electric light, electric-light bulb",
            "bulbs",
        ),
        "meter.n.02": ("meter", "meters"),
        "monitor.n.04": ("monitor, monitoring device", "monitors"),
        "pallet.n.02": ("pallet", "pallets"),
        "pool_ball.n.01": ("pool ball", "pool balls"),
        "pot.n.04": ("pot, flowerpot", "plant pots"),
        "scarf.n.01": ("scarf", "scarfs"),
        "shop.n.01": ("shop, store", "shops"),
        "soap.n.01": ("soap", "soaps"),
        "spotlight.n.02": ("spotlight, spot", "spotlights", "floor spotlight"),
        "stick.n.01": ("stick", "sticks"),
        "sweatshirt.n.01": ("sweatshirt", "sweatshirts"),
        "table.n.02": ("table", "control table", "tables"),
        "tank.n.02": ("tank, storage tank", "tanks"),
        "videocassette.n.01": ("videos", "video"),
        "videodisk.n.01": ("dvds", "dvd"),
        "folder.n.02": ("folders", "file"),
        "washer.n.03": ("washer, automatic washer, washing machine", "washing machines"),
        "wheel.n.01": ("wheel", "wheels"),
        # kinds WordNet has no synset for, mapped to their WordNet hypernym
        "apparel.n.01": (
            "apparel, wearing apparel, dress, clothes",
            "hanging clothes",
            "clothes hanging",
        ),
        "bag.n.01": ("bag", "sports bag"),
        "bag.n.04": ("bag, handbag, pocketbook, purse", "laptop bag"),
        "box.n.01": ("box", "street box"),
        "brush.n.02": ("brush", "toilet brush"),
        "chair.n.01": ("chair", "dental chair"),
        "counter.n.01": ("counter", "check-in-desk", "ticket counter"),
        "crane.n.04": ("crane", "truck crane"),
        "curtain.n.01": ("curtain, drape, drapery, mantle, pall", "cover curtain"),
        "desk.n.01": ("desk", "chair desk"),
        "dish.n.01": ("dog dish", "cheese dish"),
        "door.n.01": ("door", "elevator door", "grille door"),
        "faucet.n.01": ("faucet, spigot", "shower faucet"),
        "file.n.03": ("file cabinet", "paper filer", "file box"),
        "game_equipment.n.01": ("table football", "games table"),
        "holder.n.01": ("toilet paper holder", "umbrella stand", "napkin holder"),
        "jar.n.01": ("jar", "spice jar"),
        "ladder.n.01": ("ladder", "swimming pool ladder"),
        "plaything.n.01": ("plaything, toy", "inflatable bounce game"),
        "post.n.04": ("post", "scratching post"),
        "rack.n.01": ("rack", "bottle rack", "wine rack", "cue rack"),
        "rack.n.05": ("exhibitor", "book stand"),
        "slot_machine.n.01": ("arcade machine", "slot machine, coin machine"),
        "spoon.n.01": ("spoon", "slotted spoon"),
        "stall.n.03": ("stall, stand, sales booth", "stalls", "stands", "fruit stand"),
        "table_linen.n.01": ("table runner", "runner cloth"),
        "television_camera.n.01": ("television camera", "security camera"),
        # other names of one thing
        "barbecue.n.03": ("barbecue", "grill"),
        "bun.n.01": ("roll", "bread rolls"),
        "chicken_coop.n.01": ("henhouse", "coop"),
        "computer.n.01": (
            "computer, computing machine, computing device, data processor, electronic computer, "
            "information processing system",
            "central processing unit, cpu, c p u , central processor, processor, mainframe",
        ),
        "fire_alarm.n.02": ("smoke detector", "fire alarm"),
        "handcart.n.01": ("cart", "baggage carts"),
        "paper_towel.n.01": ("paper towel", "towel paper"),
        "postbox.n.01": ("postbox, mailbox, letter box", "post box"),
        "power_shovel.n.01": ("excavator", "mechanical shovel"),
        "racket.n.04": ("racket", "racquet"),
        "rubbish.n.01": ("rubbish, trash, scrap", "junk"),
        "table-tennis_table.n.01": ("table tennis", "tennis table"),
    },
}

# Derived counts (classes, not distinct wnids), pinned so that a change is noticed.
IN21K_COUNTS = {"ade-150": 119, "ade-847": 679}
NOVEL_COUNTS = {"ade-150": 87, "ade-847": 720}


def lemma_key(text: str) -> str:
    return "_".join(text.strip().lower().split())


def noun_synset(wordnet: Any, wnid: str) -> Any:
    return wordnet.synset_from_pos_and_offset("n", int(wnid[1:]))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_one_row_per_label_value(name: str) -> None:
    table = classes(name)
    assert len(table) == SIZES[name]
    assert [c.value for c in table] == list(range(SIZES[name]))
    assert len(names(name)) == len(wnids(name)) == SIZES[name]
    assert all(w is not None and WNID.fullmatch(w) for w in wnids(name))


@pytest.mark.parametrize("name", BENCHMARKS)
def test_match_kinds_and_reasons(name: str) -> None:
    for c in classes(name):
        assert c.match in MATCHES, c
        assert ("\t" not in c.reason) and ("\n" not in c.reason)
        if c.match == "exact":
            assert c.reason == "", c
        else:
            assert c.reason.strip(), f"{name} {c.value} {c.name!r}: {c.match} without a reason"


def test_names_are_the_dataset_definitions() -> None:
    assert names("ade-150")[:8] == [
        "wall",
        "building",
        "sky",
        "floor",
        "tree",
        "ceiling",
        "road",
        "bed ",  # mmsegmentation's spelling, trailing space included
    ]
    assert names("ade-150")[-1] == "flag"
    assert names("coco-stuff-171")[:3] == ["person", "bicycle", "car"]
    assert names("coco-stuff-171")[80:85] == [
        "banner",
        "blanket",
        "branch",
        "bridge",
        "building-other",
    ]
    assert names("ade-847")[:3] == ["wall", "building, edifice", "sky"]
    traffic_light = classes("ade-847")[115]
    assert traffic_light.name == "traffic light, traffic signal, stoplight"
    assert traffic_light.synset == "traffic_light.n.01"
    assert traffic_light.match == "exact"
    assert traffic_light.source_ids == (2836,)


@pytest.mark.parametrize("name", BENCHMARKS)
def test_wnids_are_noun_synsets_named_as_nltk_does(wordnet: Any, name: str) -> None:
    for c in classes(name):
        synset = noun_synset(wordnet, c.wnid)
        assert synset is not None and synset.pos() == "n", c
        assert synset.name() == c.synset, c


@pytest.mark.parametrize("name", BENCHMARKS)
def test_exact_and_chain_matches_hold_every_listed_lemma(wordnet: Any, name: str) -> None:
    checked = 0
    for c in classes(name):
        if c.match not in ("exact", "hypernym-chain"):
            continue
        synset_lemmas = {lemma.lower() for lemma in wordnet.synset(c.synset).lemma_names()}
        assert c.lemmas, c
        missing = [lemma for lemma in c.lemmas if lemma_key(lemma) not in synset_lemmas]
        assert not missing, f"{name} {c.value} {c.name!r}: {missing} not lemmas of {c.synset}"
        checked += 1
    assert checked > 0


def test_partial_matches_hold_some_listed_lemmas(wordnet: Any) -> None:
    for name in BENCHMARKS:
        for c in classes(name):
            if c.match == "partial":
                synset_lemmas = {lemma.lower() for lemma in wordnet.synset(c.synset).lemma_names()}
                held = [lemma for lemma in c.lemmas if lemma_key(lemma) in synset_lemmas]
                assert 0 < len(held) < len(c.lemmas), c


def test_match_counts_are_the_documented_ones() -> None:
    """docs/benchmark-maps.md's table: exact, partial, hypernym-chain, judgement."""
    counts = {n: [sum(c.match == m for c in classes(n)) for m in MATCHES] for n in BENCHMARKS}
    assert counts == {
        "coco-stuff-171": [43, 0, 0, 128],
        "ade-150": [97, 0, 3, 50],
        "ade-847": [410, 0, 6, 431],
    }
    table = (REPO / "docs" / "benchmark-maps.md").read_text(encoding="utf-8")
    for name, row in counts.items():
        assert f"| {SIZES[name]} | {' | '.join(map(str, row))} |" in table, name


@pytest.mark.parametrize("name", BENCHMARKS)
def test_shared_synsets_are_listed_and_explained(name: str) -> None:
    groups: dict[str, list[BenchmarkClass]] = defaultdict(list)
    for c in classes(name):
        groups[c.synset].append(c)
    shared = {s: tuple(c.name.strip() for c in g) for s, g in groups.items() if len(g) > 1}
    assert shared == ALLOWED_SHARED_SYNSETS[name]
    for synset in shared:
        for c in groups[synset]:
            if c.match != "exact":
                others = [o for o in groups[synset] if o is not c]
                assert "same synset as" in c.reason, c
                assert all(f"{o.value} " in c.reason for o in others), c


def test_ade150_agrees_with_ade847_on_shared_full_ade20k_classes() -> None:
    by_full_id = {c.source_ids[0]: c for c in classes("ade-847")}
    compared = 0
    for c in classes("ade-150"):
        if len(c.source_ids) == 1 and c.source_ids[0] in by_full_id:
            assert c.wnid == by_full_id[c.source_ids[0]].wnid, c
            compared += 1
    assert compared == 147  # the other 3 merge several full-ADE20K classes


def test_source_ids() -> None:
    ade847_ids = [c.source_ids for c in classes("ade-847")]
    assert all(len(ids) == 1 for ids in ade847_ids)
    assert len({ids[0] for ids in ade847_ids}) == 847
    coco_ids = [c.source_ids[0] for c in classes("coco-stuff-171")]
    assert coco_ids == sorted(coco_ids) and coco_ids[0] == 1 and coco_ids[-1] == 182
    assert classes("ade-150")[14].source_ids == (774, 783)  # "door, double door"


def test_label_map_wnids_of_the_stored_values() -> None:
    """Stored value -> wnid of each benchmark's label maps as downloaded."""
    ade150 = label_map_wnids("ade-150")
    assert len(ade150) == 256 and ade150[0] is None and ade150[151:] == [None] * 105
    assert ade150[1:151] == wnids("ade-150")  # stored = class + 1
    assert ade150[1] == "n04546855"  # wall
    coco = label_map_wnids("coco-stuff-171")
    assert len(coco) == 256 and coco[0] == "n00007846"  # id 1 (person) is stored as 0
    assert coco[11] is None and coco[255] is None  # id 12 (street sign) is unused
    assert coco[181] == classes("coco-stuff-171")[-1].wnid  # id 182, the last class
    assert sum(w is not None for w in coco) == 171
    ade847 = label_map_wnids("ade-847")
    assert len(ade847) == 25 * 256 + 255 + 1 and ade847[0] is None
    assert all(ade847[c.source_ids[0]] == c.wnid for c in classes("ade-847"))
    assert sum(w is not None for w in ade847) == 847


def test_ade847_ids_are_the_2021_seg_png_class_index(shared_data: Path) -> None:
    """In ADE20K_2021_17_01, R // 10 * 256 + G of *_seg.png is the object's name_ndx."""
    ade847 = {c.source_ids[0]: c for c in classes("ade-847")}
    scenes = sorted((shared_data / "ade20k-full").glob("*.json"))
    assert scenes
    matched = 0
    for scene in scenes:
        objects = json.loads(scene.read_text())["annotation"]["object"]
        whole = [o for o in objects if o["parts"]["part_level"] == 0]
        seg = np.asarray(Image.open(scene.with_name(scene.stem + "_seg.png")), dtype=np.int64)
        present = set(np.unique(seg[..., 0] // 10 * 256 + seg[..., 1]).tolist()) - {0}
        assert present == {o["name_ndx"] for o in whole}
        for o in whole:
            if o["name_ndx"] in ade847:
                assert ade847[o["name_ndx"]].name == o["name"]
                matched += 1
    assert matched > 0


def test_unknown_benchmark_names_the_known_ones() -> None:
    for call in (classes, names, wnids, novel_classes, imagenet21k_classes, label_map_wnids):
        with pytest.raises(ValueError, match="coco-stuff-171, ade-150, ade-847"):
            call("ade-20k")
    with pytest.raises(ValueError, match="known"):
        novel_classes("ade-150", base="coco")


def test_derived_sets_on_a_constructed_example() -> None:
    def make(value: int, wnid: str) -> BenchmarkClass:
        return BenchmarkClass(value, f"c{value}", wnid, f"s{value}.n.01", "exact", "")

    ade = [make(0, "n00000001"), make(1, "n00000002"), make(2, "n00000003"), make(3, "n00000002")]
    coco = [make(0, "n00000002"), make(1, "n00000009")]
    in21k = ["n00000003", "n00000002", "n00000042"]
    assert [c.value for c in classes_in(ade, in21k)] == [1, 2, 3]
    assert [c.value for c in classes_in(ade, [])] == []
    assert [c.value for c in classes_not_in(ade, coco)] == [0, 2]
    assert [c.value for c in classes_not_in(coco, ade)] == [1]
    assert classes_not_in(ade, []) == ade


def test_derived_sets_of_the_benchmarks() -> None:
    coco = set(wnids("coco-stuff-171"))
    for name in ("ade-150", "ade-847"):
        table = classes(name)
        in21k = ["n00000000"] + [c.wnid for c in table[::3]]
        found = imagenet21k_classes(name, in21k)
        assert found == [c for c in table if c.wnid in set(in21k)]
        assert {c.value for c in table[::3]} <= {c.value for c in found}
        assert imagenet21k_classes(name, in21k=[]) == []
        novel = novel_classes(name)
        assert novel == [c for c in table if c.wnid not in coco]
        assert len(novel) == NOVEL_COUNTS[name]
    assert novel_classes("coco-stuff-171") == []


def test_imagenet21k_classes_with_timms_list() -> None:
    in21k = imagenet21k_wnids()
    assert len(in21k) == 21841
    for name, count in IN21K_COUNTS.items():
        found = imagenet21k_classes(name)
        assert found == [c for c in classes(name) if c.wnid in in21k]
        assert len(found) == count


def test_module_imports_without_torch_timm_or_nltk() -> None:
    code = (
        "import sys\n"
        "from larvseg.vocab import benchmarks\n"
        "benchmarks.classes('ade-847')\n"
        "print(sorted(m for m in ('torch', 'timm', 'nltk') if m in sys.modules))\n"
    )
    env = {**os.environ, "PYTHONPATH": str(REPO)}
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True
    )
    assert out.stdout.strip() == "[]"


def test_tables_are_what_the_script_writes(
    wordnet: Any, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    spec = importlib.util.spec_from_file_location(
        "build_benchmark_maps", REPO / "scripts" / "build_benchmark_maps.py"
    )
    assert spec is not None and spec.loader is not None
    script = importlib.util.module_from_spec(spec)
    monkeypatch.setitem(sys.modules, spec.name, script)  # dataclasses look the module up
    spec.loader.exec_module(script)
    assert script.main(["--output-dir", str(tmp_path)]) == 0
    packaged = Path(benchmarks.__file__).parent / "data" / "benchmarks"
    for name in BENCHMARKS:
        written = (tmp_path / f"{name}.tsv").read_text(encoding="utf-8")
        assert written == (packaged / f"{name}.tsv").read_text(encoding="utf-8"), name


def test_paper_subsets_are_the_authors_lists() -> None:
    """I124 / I585 as in HaojunYu1998/LarvSeg mmseg/datasets/imagenet.py @ 35c2e57."""
    i124, i585 = benchmarks.paper_subset("ade-150"), benchmarks.paper_subset("ade-847")
    assert len(i124) == 124 and len({p.value for p in i124}) == 124
    assert len(i585) == 585 and len({p.wnid for p in i585}) == 585  # wnids, not classes
    for name, subset in (("ade-150", i124), ("ade-847", i585)):
        table = classes(name)
        assert [p.value for p in subset] == sorted(p.value for p in subset)
        assert all(p.name == table[p.value].name and WNID.fullmatch(p.wnid) for p in subset)
    by_name = {p.paper_name: p for p in i124}
    assert (by_name["wall"].wnid, by_name["wall"].synset) == ("n04547592", "wall.n.07")
    assert by_name["person"].wnid == classes("ade-150")[12].wnid == "n00007846"
    assert "screen door" not in by_name and "lake" not in by_name  # dropped after a pilot
    assert sum(p.wnid == classes("ade-150")[p.value].wnid for p in i124) == 96
    ring = next(p for p in i585 if p.value == 207)
    assert (ring.paper_name, ring.wnid) == ("boxing-ring", "n00445802")
    assert "n02991302" not in {p.wnid for p in i585}  # "cells" (jail cell): dropped


def test_paper_novel_split() -> None:
    """87 / 755 novel classes by the authors' name comparisons, beside larvseg's 87 / 720."""
    novel150 = benchmarks.paper_novel("ade-150")
    assert len(novel150) == 87
    names150 = {c.name.strip() for c in novel150}
    assert {"sofa", "earth", "apparel", "ball"} <= names150  # COCO has couch, not sofa
    assert not {"person", "windowpane", "glass"} & names150
    mine = {c.name.strip() for c in novel_classes("ade-150")}
    assert names150 - mine == {"apparel", "ball", "earth", "sofa"}
    assert mine - names150 == {"blind", "dirt track", "glass", "windowpane"}
    novel847 = benchmarks.paper_novel("ade-847")
    assert len(novel847) == 755
    assert {c.value for c in novel_classes("ade-847")} < {c.value for c in novel847}
    assert classes("ade-847")[115] in novel847  # "traffic-light" is no COCO name "traffic light"
    assert classes("ade-847")[7] not in novel847  # bed
    base = benchmarks.paper_base_wnids("ade-150")
    assert len(base) == 63 and base.isdisjoint(c.wnid for c in novel150)
    assert classes("ade-847")[7].wnid in benchmarks.paper_base_wnids("ade-847")  # bed and beds
    with pytest.raises(ValueError, match="the paper has no class sets of 'coco-stuff-171'"):
        benchmarks.paper_novel("coco-stuff-171")

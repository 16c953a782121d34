"""WordNet 3.0 class maps of three segmentation benchmarks, shipped as package data.

`data/benchmarks/{coco-stuff-171,ade-150,ade-847}.tsv` give one row per label value
(the train id, 0..N-1, in the order of the standard class definitions) with its WordNet
3.0 noun synset. `scripts/build_benchmark_maps.py` regenerates them; its docstring and
the TSV header comments say where the class lists come from. Columns:

- `value`: the label value (train id)
- `name`: the class name exactly as the dataset defines it (mmsegmentation's
  COCOStuffDataset and ADE20KDataset; MaskFormer's ADE20K-full registration)
- `wnid`, `synset`: the synset as "n" + 8-digit offset and as nltk names it
- `match`: `exact` (one synset holds all the dataset's listed lemmas), `partial` (one
  synset holds the most of them), `hypernym-chain` (a tie broken with the full-ADE20K
  WordNet hypernym chain) or `judgement` (chosen by hand)
- `reason`: why, for every row that is not `exact`
- `lemmas`: the lemma list matched (ADE names, objectInfo150 for ADE-150; the COCO
  name when it is a plain word, else empty)
- `source_ids`: the class in the dataset's own index. ADE-847: the full-ADE20K class
  index, i.e. the value `R // 10 * 256 + G` of an ADE20K_2021_17_01 `*_seg.png` (the
  JSON object's `name_ndx`). ADE-150: the full-ADE20K classes merged into it.
  COCO-Stuff: the COCO-Stuff label id (1-182; a `stuffthingmaps` PNG holds id - 1).

The paper's own class sets (its ImageNet subsets I124 and I585, and its base/novel
split of ADE-150 and ADE-847) were made in the original authors' repository by hand and
by string comparison; they differ from what these maps give, and ship beside them in
`data/benchmarks/paper/` (`paper_subset`, `paper_novel`; each file's header names the
repository, file and commit they were copied from).

Nothing here needs nltk or torch; `imagenet21k_classes` imports timm (and so torch)
the first time it is called without an explicit class list.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache
from importlib import resources

from ..errors import VocabularyError

BENCHMARKS: tuple[str, ...] = ("coco-stuff-171", "ade-150", "ade-847")
MATCHES: tuple[str, ...] = ("exact", "partial", "hypernym-chain", "judgement")
COLUMNS: tuple[str, ...] = (
    "value",
    "name",
    "wnid",
    "synset",
    "match",
    "reason",
    "lemmas",
    "source_ids",
)
NOVEL_BASE = "coco-stuff-171"
BENCHMARK_PREFIX = "benchmark:"
"""A class list written `benchmark:ade-150` names `label_map_wnids("ade-150")`."""
PAPER_PREFIX = "paper:"
"""Base classes `paper:ade-150`: the classes the paper counts base (`paper_base_wnids`)."""
PAPER_SUBSETS = {"ade-150": "i124", "ade-847": "i585"}
"""The paper's ImageNet-21K subset of each ADE benchmark."""
STORED_VALUES = {"coco-stuff-171": 256, "ade-150": 256, "ade-847": 25 * 256 + 255 + 1}
"""How many values a downloaded label map can hold: 8-bit PNGs, and the full-ADE20K
`_seg.png` decoded as `R // 10 * 256 + G` (R <= 255, so at most 6655)."""


@dataclass(frozen=True)
class BenchmarkClass:
    """One label value of a benchmark and its WordNet 3.0 noun synset.

    Attributes:
        value: the label value (train id), 0..N-1.
        name: the dataset's class name, e.g. "traffic light, traffic signal, stoplight".
        wnid: "n" + 8-digit WordNet 3.0 offset, e.g. "n06874185".
        synset: nltk's synset name, e.g. "traffic_light.n.01".
        match: how it was matched: "exact", "partial", "hypernym-chain" or "judgement".
        reason: why, for a match that is not "exact"; empty for "exact".
        lemmas: the listed lemmas that were matched (may be empty for COCO-Stuff).
        source_ids: the class's ids in the dataset's own index (see the module doc).
    """

    value: int
    name: str
    wnid: str
    synset: str
    match: str
    reason: str
    lemmas: tuple[str, ...] = ()
    source_ids: tuple[int, ...] = ()


@dataclass(frozen=True)
class PaperClass:
    """A class of the paper's ImageNet-21K subset (I124, I585) and the images it used.

    Attributes:
        value: the class's label value in the benchmark.
        name: the benchmark's class name (as `classes(name)[value].name`).
        wnid: the ImageNet-21K class whose images the paper trained this class on; it
            may differ from larvseg's map (`classes(name)[value].wnid`).
        synset: nltk's name of that wnid, e.g. "wall.n.07".
        paper_name: the authors' name for the class.
    """

    value: int
    name: str
    wnid: str
    synset: str
    paper_name: str


def _check_name(name: str) -> None:
    if name not in BENCHMARKS:
        raise VocabularyError(f"unknown benchmark {name!r}; known: {', '.join(BENCHMARKS)}")


def _check_paper(name: str) -> None:
    _check_name(name)
    if name not in PAPER_SUBSETS:
        raise VocabularyError(
            f"the paper has no class sets of {name!r}; it has {', '.join(PAPER_SUBSETS)}"
        )


def parse_table(text: str) -> tuple[BenchmarkClass, ...]:
    """Classes from the text of a benchmark TSV ('#' lines are comments)."""
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not lines or tuple(lines[0].split("\t")) != COLUMNS:
        raise ValueError(f"benchmark table header is not {COLUMNS}")
    rows = []
    for line in lines[1:]:
        fields = line.split("\t")
        if len(fields) != len(COLUMNS):
            raise ValueError(f"benchmark table row has {len(fields)} fields: {line!r}")
        value, name, wnid, synset, match, reason, lemmas, source_ids = fields
        rows.append(
            BenchmarkClass(
                value=int(value),
                name=name,
                wnid=wnid,
                synset=synset,
                match=match,
                reason=reason,
                lemmas=tuple(part.strip() for part in lemmas.split(",") if part.strip()),
                source_ids=tuple(int(i) for i in source_ids.split()),
            )
        )
    return tuple(rows)


def _data_rows(path: str, columns: tuple[str, ...]) -> list[list[str]]:
    """The rows of a packaged TSV under vocab/data/benchmarks/ ('#' lines are comments)."""
    text = resources.files("larvseg").joinpath(f"vocab/data/benchmarks/{path}").read_text("utf-8")
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    if not lines or tuple(lines[0].split("\t")) != columns:
        raise ValueError(f"{path}: header is not {columns}")
    return [line.split("\t") for line in lines[1:]]


@cache
def _classes(name: str) -> tuple[BenchmarkClass, ...]:
    resource = resources.files("larvseg").joinpath(f"vocab/data/benchmarks/{name}.tsv")
    return parse_table(resource.read_text(encoding="utf-8"))


@cache
def _paper_subset(name: str) -> tuple[PaperClass, ...]:
    rows = _data_rows(f"paper/{PAPER_SUBSETS[name]}.tsv", tuple(PaperClass.__annotations__))
    return tuple(PaperClass(int(v), n, w, s, p) for v, n, w, s, p in rows)


@cache
def _paper_novel_values(name: str) -> tuple[int, ...]:
    rows = _data_rows(f"paper/novel-{name}.tsv", ("value", "name", "paper_name"))
    return tuple(int(row[0]) for row in rows)


def paper_subset(name: str) -> list[PaperClass]:
    """The paper's ImageNet-21K subset of benchmark `name`, in label order.

    "ade-150": I124, 124 classes, each with the wnid of the images the paper trained it
    on; "ade-847": I585, 585 wnids, each trained as one class. Copied from the original
    authors' repository (the file header names it); many wnids are not larvseg's synset
    for the class (`PaperClass.wnid` vs `classes(name)[value].wnid`).
    """
    _check_paper(name)
    return list(_paper_subset(name))


def paper_novel(name: str) -> list[BenchmarkClass]:
    """The classes of benchmark `name` the paper counts novel, in label order.

    87 of ADE-150, 755 of ADE-847: the paper split by comparing class names with
    (renamed) COCO-Stuff names, not synsets; every other class is base.
    `novel_classes(name)` is larvseg's split by wnid (87 and 720).
    """
    _check_paper(name)
    table = _classes(name)
    return [table[value] for value in _paper_novel_values(name)]


def paper_base_wnids(name: str) -> frozenset[str]:
    """The wnids (larvseg's map) of the classes of `name` the paper counts base.

    Evaluation scores classes sharing a synset as one class; such a class is base when
    one of its members is (the synset had masks in training).
    """
    novel = {c.value for c in paper_novel(name)}
    return frozenset(c.wnid for c in _classes(name) if c.value not in novel)


def classes(name: str) -> list[BenchmarkClass]:
    """The classes of benchmark `name` ("coco-stuff-171", "ade-150" or "ade-847")."""
    _check_name(name)
    return list(_classes(name))


def names(name: str) -> list[str]:
    """The class names of a benchmark, in label-value order."""
    return [c.name for c in classes(name)]


def wnids(name: str) -> list[str | None]:
    """The wnid of each label value 0..max, None where a value is not a class."""
    table = classes(name)
    out: list[str | None] = [None] * (max((c.value for c in table), default=-1) + 1)
    for c in table:
        out[c.value] = c.wnid or None
    return out


def label_map_wnids(name: str) -> list[str | None]:
    """The wnid of every value a label map of benchmark `name` stores as downloaded.

    - "ade-150": an `ADEChallengeData2016` annotation PNG stores train id + 1
      (0 = "other", not a class);
    - "coco-stuff-171": a `stuffthingmaps` PNG stores the COCO-Stuff id - 1
      (255 = unlabeled; 11 thing ids are unused);
    - "ade-847": an `ADE20K_2021_17_01` `*_seg.png` decoded as `R // 10 * 256 + G`
      stores the full-ADE20K class index (`source_ids`); the ~2,800 classes outside
      the 847, and 0 (unlabeled), are not classes.

    The list covers every value such a map can hold (`STORED_VALUES`), None where the
    value is no class of the benchmark; classes sharing a synset give the same wnid.
    """
    table = classes(name)
    if name == "ade-150":
        stored = [(c.value + 1, c.wnid) for c in table]
    else:
        shift = -1 if name == "coco-stuff-171" else 0
        stored = [(i + shift, c.wnid) for c in table for i in c.source_ids]
    out: list[str | None] = [None] * STORED_VALUES[name]
    for value, wnid in stored:
        out[value] = wnid
    return out


@cache
def imagenet21k_wnids() -> frozenset[str]:
    """timm's ImageNet-21K (imagenet-22k, fall 2011) class list: 21,841 wnids.

    Imports timm (and torch) on the first call.
    """
    from timm.data import ImageNetInfo

    return frozenset(ImageNetInfo("imagenet22k").label_names())


def classes_in(table: Iterable[BenchmarkClass], vocabulary: Iterable[str]) -> list[BenchmarkClass]:
    """The classes whose wnid is in `vocabulary` (exact wnid match), in table order."""
    wanted = set(vocabulary)
    return [c for c in table if c.wnid in wanted]


def classes_not_in(
    table: Iterable[BenchmarkClass], base: Iterable[BenchmarkClass]
) -> list[BenchmarkClass]:
    """The classes whose wnid is no class of `base`, in table order."""
    known = {c.wnid for c in base}
    return [c for c in table if c.wnid not in known]


def imagenet21k_classes(name: str, in21k: Iterable[str] | None = None) -> list[BenchmarkClass]:
    """The classes of benchmark `name` that are ImageNet-21K classes (exact wnid match).

    `in21k` is the ImageNet-21K wnid list; by default timm's (`imagenet21k_wnids`).
    """
    return classes_in(classes(name), imagenet21k_wnids() if in21k is None else in21k)


def novel_classes(name: str, base: str = NOVEL_BASE) -> list[BenchmarkClass]:
    """The classes of benchmark `name` whose wnid is no class of `base` (COCO-Stuff-171).

    With the default base, the "novel" classes of an ADE benchmark for a model trained
    with COCO-Stuff-171 masks.
    """
    _check_name(base)
    return classes_not_in(classes(name), classes(base))

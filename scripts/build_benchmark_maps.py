"""Regenerate larvseg/vocab/data/benchmarks/*.tsv: WordNet 3.0 maps of three benchmarks.

One TSV per dataset (coco-stuff-171, ade-150, ade-847), one row per label value. This
script reads the class-name lists (transcribed from the public definitions named in
SOURCES), the hypernym chains and the hand judgements from the files in
`scripts/benchmark_maps/` (`judgements.tsv`: dataset, key, synset, reason); everything
else is computed with nltk's WordNet 3.0:

- ADE class names are WordNet lemma lists ("traffic light, traffic signal, stoplight").
  A class matches the noun synsets holding the most of its listed lemmas. One synset
  holding all of them: `exact`. One synset holding only some: `partial`. Several
  (a tie): broken with the WordNet hypernym chain that the full-ADE20K annotation
  carries for that name (HYPERNYM_CHAINS, from the three scenes of the ADE20K
  repository) where there is one (`hypernym-chain`), else by hand (`judgement`).
- COCO-Stuff names are read as a single lemma (spaces as underscores); most need a
  hand judgement ("building-other", "playingfield").

A judgement may also replace a unique exact match whose sense is clearly not the one
meant ("barrels" is not the quantity barrels.n.01), or keep it against a recorded
doubt (the same synset: "kept: why"). A judgement that contradicts a hypernym chain or
names no class is an error, as is a class left unresolved or an ADE-150 class whose
synset differs from the ADE-847 class with the same full-ADE20K id. Needs WordNet 3.0 for nltk
(`scripts/install_wordnet.sh DIR`), then:

    NLTK_DATA=DIR python scripts/build_benchmark_maps.py
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from nltk.corpus import wordnet as wn

OUTPUT_DIR = Path(__file__).resolve().parents[1] / "larvseg" / "vocab" / "data" / "benchmarks"
COLUMNS = ("value", "name", "wnid", "synset", "match", "reason", "lemmas", "source_ids")

# Where each list was read (repository, path, commit of the copy read).
SOURCES = {
    "coco-stuff-171": (
        "names: open-mmlab/mmsegmentation mmseg/datasets/coco_stuff.py"
        " COCOStuffDataset.CLASSES (186161ee3c1f); source_ids: COCO-Stuff label ids"
        " (1-182; the stuffthingmaps PNG value is id - 1), from facebookresearch/MaskFormer"
        " mask_former/data/datasets/register_coco_stuff_10k.py COCO_CATEGORIES (da3e60d85fde),"
        " same 171 names in the same order"
    ),
    "ade-150": (
        "names: open-mmlab/mmsegmentation mmseg/datasets/ade.py ADE20KDataset classes"
        " (088894bd6167); lemmas: CSAILVision/sceneparsing objectInfo150.txt Name column"
        " (e20222964c58); source_ids: full-ADE20K class ids merged into the class,"
        " CSAILVision/sceneparsing convertFromADE/mapFromADE.txt"
    ),
    "ade-847": (
        "names: facebookresearch/MaskFormer mask_former/data/datasets/register_ade20k_full.py"
        " ADE20K_SEM_SEG_FULL_CATEGORIES (da3e60d85fde), value = trainId; source_ids: its"
        ' "id", the full-ADE20K class index = the value R // 10 * 256 + G of an'
        " ADE20K_2021_17_01 *_seg.png = the JSON object's name_ndx (MaskFormer"
        " datasets/prepare_ade20k_full_sem_seg.py maps that value to trainId)"
    ),
}
MATCHES = {
    "exact": "one synset holds all the listed lemmas",
    "partial": "one synset holds the most, not all, of the listed lemmas",
    "hypernym-chain": "a tie broken with the full-ADE20K WordNet hypernym chain",
    "judgement": "chosen by hand; reason says why",
}

DATA_DIR = Path(__file__).resolve().parent / "benchmark_maps"
"""The class lists, hypernym chains and hand judgements this script reads."""


def read_tsv(name: str, columns: tuple[str, ...]) -> list[list[str]]:
    """The rows of DATA_DIR/name ('#' lines are comments; the first other line is the
    header, which must be `columns`). Fields keep their spaces ("bed ")."""
    text = (DATA_DIR / name).read_text(encoding="utf-8")
    lines = [line for line in text.split("\n") if line and not line.startswith("#")]
    if tuple(lines[0].split("\t")) != columns:
        raise ValueError(f"{name}: header is not {columns}")
    rows = [line.split("\t") for line in lines[1:]]
    bad = [row for row in rows if len(row) != len(columns)]
    if bad:
        raise ValueError(f"{name}: rows without {len(columns)} fields: {bad[:3]}")
    return rows


def ids(text: str) -> tuple[int, ...]:
    return tuple(int(part) for part in text.split())


# COCO-Stuff-171 in train-id order: (COCO-Stuff label id, mmsegmentation class name).
COCO_STUFF_171 = [(int(i), name) for i, name in read_tsv("coco-stuff-171.tsv", ("coco_id", "name"))]
# ADE-150 in train-id order: (class name, objectInfo150 lemma list, full-ADE20K ids).
ADE_150 = [
    (n, lemmas, ids(i))
    for n, lemmas, i in read_tsv("ade-150.tsv", ("name", "lemmas", "ade20k_ids"))
]
# ADE-847 in trainId order: (full-ADE20K class id, name).
ADE_847 = [(int(i), name) for i, name in read_tsv("ade-847.tsv", ("ade20k_id", "name"))]
HYPERNYM_CHAINS: dict[str, tuple[str, ...]] = {
    name: tuple(chain)
    for name, chain in json.loads((DATA_DIR / "hypernym_chains.json").read_text(encoding="utf-8"))[
        "chains"
    ].items()
}
_JUDGEMENTS = read_tsv("judgements.tsv", ("dataset", "key", "synset", "reason"))
# Hand judgements, keyed by the ADE lemma list or the COCO-Stuff name: (synset, why).
ADE_JUDGEMENTS = {key: (synset, why) for kind, key, synset, why in _JUDGEMENTS if kind == "ade"}
COCO_JUDGEMENTS = {key: (synset, why) for kind, key, synset, why in _JUDGEMENTS if kind == "coco"}
if len(ADE_JUDGEMENTS) + len(COCO_JUDGEMENTS) != len(_JUDGEMENTS):
    raise ValueError("judgements.tsv: a dataset other than ade/coco, or a key given twice")


@dataclass(frozen=True)
class Row:
    """One label value of a dataset, matched to a WordNet synset."""

    value: int
    name: str
    wnid: str
    synset: str
    match: str
    reason: str
    lemmas: str
    source_ids: str


class Unresolved(Exception):
    """A class that neither the automatic matching nor a judgement resolves."""


def lemma_key(text: str) -> str:
    """How a listed lemma is compared: lower case, spaces as underscores."""
    return "_".join(text.strip().lower().split())


def listed_lemmas(text: str) -> list[str]:
    """The lemmas of an ADE lemma list ("traffic light, traffic signal, stoplight")."""
    return [lemma_key(part) for part in text.split(",") if part.strip()]


def synset_lemma_keys(synset: Any) -> set[str]:
    return {name.lower() for name in synset.lemma_names()}


def candidates(lemmas: list[str]) -> tuple[int, list[Any]]:
    """The noun synsets holding the most of `lemmas`, in WordNet sense order, and how many."""
    hits: dict[Any, set[str]] = {}
    for lemma in lemmas:
        for synset in wn.synsets(lemma, pos="n"):
            if lemma in synset_lemma_keys(synset):
                hits.setdefault(synset, set()).add(lemma)
    if not hits:
        return 0, []
    best = max(len(found) for found in hits.values())
    return best, [s for s, found in hits.items() if len(found) == best]


def chain_name(synset: Any) -> str:
    """A synset as the ADE20K hypernym chains write it: "walk, walkway, paseo"."""
    return ", ".join(name.replace("_", " ") for name in synset.lemma_names())


def chain_score(synset: Any, chain: tuple[str, ...]) -> int:
    """How many of `chain`'s hypernyms lie on the synset's best-agreeing hypernym path."""
    wanted = {name.lower() for name in chain}
    return max(
        sum(chain_name(s).lower() in wanted for s in path[:-1]) for path in synset.hypernym_paths()
    )


def by_chain(tied: list[Any], chain: tuple[str, ...]) -> Any | None:
    """The one tied synset agreeing best with an ADE20K hypernym chain, if there is one."""
    scores = [chain_score(s, chain) for s in tied]
    best = max(scores)
    winners = [s for s, score in zip(tied, scores, strict=True) if score == best]
    return winners[0] if best > 0 and len(winners) == 1 else None


def sense_list(synsets: list[Any]) -> str:
    return ", ".join(s.name() for s in synsets)


def judged_synset(name: str) -> Any:
    """The synset a judgement names; it must use nltk's own name for it."""
    synset = wn.synset(name)
    if synset.name() != name:
        raise Unresolved(f"judgement names {name}; nltk calls it {synset.name()}")
    return synset


def match_class(
    lemmas: list[str], judgement: tuple[str, str] | None, chain: tuple[str, ...] | None
) -> tuple[Any, str, str]:
    """(synset, match, reason) of a class with these listed lemmas."""
    best, tied = candidates(lemmas)
    complete = best == len(lemmas)
    if complete and len(tied) == 1:
        if judgement is None:
            return tied[0], "exact", ""
        if judgement[0] == tied[0].name():  # kept against a recorded doubt
            return (
                tied[0],
                "judgement",
                f"all lemmas only in {tied[0].name()}, kept: {judgement[1]}",
            )
        return (
            judged_synset(judgement[0]),
            "judgement",
            f"all lemmas only in {tied[0].name()}, overridden: {judgement[1]}",
        )
    chosen = by_chain(tied, chain) if complete and chain else None
    if chosen is not None:
        if judgement is not None:
            raise Unresolved(f"{lemmas}: judgement given, but the hypernym chain decides")
        path = " > ".join(chain[:3]) if chain else ""
        reason = (
            f"all lemmas in {len(tied)} synsets ({sense_list(tied)}); "
            f"the full-ADE20K hypernym chain ({path} ...) is {chosen.name()}'s"
        )
        return chosen, "hypernym-chain", reason
    if judgement is None and 0 < best < len(lemmas) and len(tied) == 1:
        missing = [lemma for lemma in lemmas if lemma not in synset_lemma_keys(tied[0])]
        reason = (
            f"{best} of {len(lemmas)} lemmas; {', '.join(missing)} not a lemma of "
            f"{tied[0].name()}, the only synset holding the others"
        )
        return tied[0], "partial", reason
    if judgement is None:
        raise Unresolved(f"{lemmas}: {best} of {len(lemmas)} lemmas in [{sense_list(tied)}]")
    if complete:
        context = f"all lemmas in {len(tied)} synsets"
    elif best:
        context = f"at most {best} of {len(lemmas)} lemmas, in {len(tied)} synsets"
    else:
        context = (
            "no WordNet noun synset has this lemma"
            if len(lemmas) == 1
            else ("no WordNet noun synset has these lemmas")
        )
    return judged_synset(judgement[0]), "judgement", f"{context}; {judgement[1]}"


def make_row(
    value: int,
    name: str,
    lemma_text: str,
    source_ids: tuple[int, ...],
    matched: tuple[Any, str, str],
) -> Row:
    synset, match, reason = matched
    return Row(
        value=value,
        name=name,
        wnid=f"n{synset.offset():08d}",
        synset=synset.name(),
        match=match,
        reason=reason,
        lemmas=lemma_text,
        source_ids=" ".join(map(str, source_ids)),
    )


def ade_rows(classes: list[tuple[str, str, tuple[int, ...]]], errors: list[str]) -> list[Row]:
    """Rows of an ADE dataset from (name, lemma list, full-ADE20K ids) per label value."""
    rows = []
    for value, (name, lemma_text, ids) in enumerate(classes):
        try:
            matched = match_class(
                listed_lemmas(lemma_text),
                ADE_JUDGEMENTS.get(lemma_text),
                HYPERNYM_CHAINS.get(lemma_text),
            )
        except Unresolved as exc:
            errors.append(f"{value} {name!r}: {exc}")
            continue
        rows.append(make_row(value, name, lemma_text, ids, matched))
    return rows


def coco_rows(errors: list[str]) -> list[Row]:
    rows = []
    for value, (coco_id, name) in enumerate(COCO_STUFF_171):
        lemma_text = "" if "-" in name else name
        try:
            matched = match_class([lemma_key(name)], COCO_JUDGEMENTS.get(name), None)
        except Unresolved as exc:
            errors.append(f"{value} {name!r}: {exc}")
            continue
        rows.append(make_row(value, name, lemma_text, (coco_id,), matched))
    return rows


def ade150_classes() -> list[tuple[str, str, tuple[int, ...]]]:
    return list(ADE_150)


def ade847_classes() -> list[tuple[str, str, tuple[int, ...]]]:
    return [(name, name, (ade_id,)) for ade_id, name in ADE_847]


def check_ade150_against_847(ade150: list[Row], ade847: list[Row]) -> list[str]:
    """ADE-150 classes that are one full-ADE20K class must share that ADE-847 class's wnid."""
    by_id = {int(row.source_ids): row for row in ade847}
    errors = []
    for row in ade150:
        ids = [int(i) for i in row.source_ids.split()]
        if len(ids) == 1 and ids[0] in by_id and by_id[ids[0]].wnid != row.wnid:
            other = by_id[ids[0]]
            errors.append(
                f"ade-150 {row.value} {row.name!r} is {row.synset}, but the same full-ADE20K"
                f" class is ade-847 {other.value} {other.name!r} = {other.synset}"
            )
    return errors


def check_scenes(folder: Path) -> list[str]:
    """Check ADE_847 ids and names and HYPERNYM_CHAINS against full-ADE20K scene JSON files."""
    names = dict(ADE_847)
    errors = []
    for path in sorted(folder.glob("*.json")):
        for obj in json.loads(path.read_text())["annotation"]["object"]:
            if obj["parts"]["part_level"] != 0:
                continue
            index, name, chain = obj["name_ndx"], obj["name"], tuple(obj["hypernym"][1:])
            if index in names and names[index] != name:
                errors.append(f"{path.name}: name_ndx {index} is {name!r}, not {names[index]!r}")
            if chain and HYPERNYM_CHAINS.get(name) != chain:
                errors.append(f"{path.name}: hypernym chain of {name!r} differs")
    return errors


def tsv_text(dataset: str, rows: list[Row]) -> str:
    lines = [
        f"# {dataset}: {len(rows)} classes as WordNet 3.0 noun synsets, one row per label value.",
        "# Generated by scripts/build_benchmark_maps.py; edit that script, not this file.",
        f"# Sources: {SOURCES[dataset]}.",
        "# match: " + "; ".join(f"{key} = {text}" for key, text in MATCHES.items()) + ".",
        "\t".join(COLUMNS),
    ]
    for row in rows:
        fields = [str(getattr(row, column)) for column in COLUMNS]
        if any("\t" in field or "\n" in field for field in fields):
            raise ValueError(f"tab or newline in {fields}")
        lines.append("\t".join(fields))
    return "\n".join(lines) + "\n"


def note_shared_synsets(rows: list[Row]) -> list[Row]:
    """Append to each non-exact row's reason the other classes with the same synset."""
    by_wnid: dict[str, list[Row]] = {}
    for row in rows:
        by_wnid.setdefault(row.wnid, []).append(row)
    noted = []
    for row in rows:
        others = [r for r in by_wnid[row.wnid] if r is not row]
        if others and row.match != "exact":
            names = ", ".join(f"{r.value} {r.name.strip()!r}" for r in others)
            row = replace(row, reason=f"{row.reason}; same synset as {names}")
        noted.append(row)
    return noted


def build() -> tuple[dict[str, list[Row]], list[str]]:
    errors: list[str] = []
    datasets = {
        "coco-stuff-171": coco_rows(errors),
        "ade-150": ade_rows(ade150_classes(), errors),
        "ade-847": ade_rows(ade847_classes(), errors),
    }
    datasets = {name: note_shared_synsets(rows) for name, rows in datasets.items()}
    unused = set(ADE_JUDGEMENTS) - {t for _, t, _ in ade150_classes() + ade847_classes()}
    unused |= set(COCO_JUDGEMENTS) - {name for _, name in COCO_STUFF_171}
    errors += [f"judgement for no class: {key!r}" for key in sorted(unused)]
    errors += check_ade150_against_847(datasets["ade-150"], datasets["ade-847"])
    return datasets, errors


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--output-dir", type=Path, default=OUTPUT_DIR)
    parser.add_argument(
        "--scenes", type=Path, help="also check against full-ADE20K scene JSON files here"
    )
    args = parser.parse_args(argv)
    if wn.get_version() != "3.0":
        print(f"need WordNet 3.0, nltk has {wn.get_version()}", file=sys.stderr)
        return 1
    datasets, errors = build()
    if args.scenes:
        errors += check_scenes(args.scenes)
    if errors:
        print("\n".join(errors), file=sys.stderr)
        print(f"{len(errors)} errors; nothing written", file=sys.stderr)
        return 1
    args.output_dir.mkdir(parents=True, exist_ok=True)
    for dataset, rows in datasets.items():
        path = args.output_dir / f"{dataset}.tsv"
        path.write_text(tsv_text(dataset, rows), encoding="utf-8")
        counts = {m: sum(r.match == m for r in rows) for m in MATCHES}
        print(f"{path}: {len(rows)} rows, {counts}")
    return 0


if __name__ == "__main__":
    sys.exit(main())

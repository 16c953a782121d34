"""Training config: YAML + overrides, unknown keys and wrong types named, dump round trip."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from larvseg.evaluation.labelmaps import read_class_list
from larvseg.train.cli import main
from larvseg.train.config import TrainConfig
from larvseg.train.errors import TrainConfigError
from larvseg.train.packaged import packaged_configs
from larvseg.train.schema import load_config
from larvseg.vocab.benchmarks import label_map_wnids

SOURCE = {"name": "coco", "kind": "segmentation", "images": "img", "annotations": "ann"}


def write(tmp_path: Path, data: dict) -> Path:
    path = tmp_path / "run.yaml"
    path.write_text(yaml.safe_dump(data), encoding="utf-8")
    return path


def test_defaults_follow_the_paper() -> None:
    config = TrainConfig()
    assert (config.optim.lr, config.optim.momentum, config.optim.weight_decay) == (1e-3, 0.9, 0)
    assert (config.optim.power, config.optim.min_lr, config.optim.iterations) == (
        0.9,
        1e-5,
        320_000,
    )
    assert (config.ca.bank_size, config.ca.topk, config.class_sampling.num_sample_class) == (
        20,
        20,
        100,
    )
    assert not config.sampling_on(847) and config.sampling_on(21843)


def test_yaml_and_overrides(tmp_path: Path) -> None:
    path = write(tmp_path, {"optim": {"lr": "1e-2"}, "data": {"sources": [SOURCE]}})
    config = load_config(
        path, ["optim.iterations=10", "data.sources.0.batch_size=4", "ca.enabled=false"]
    )
    assert config.optim.lr == 0.01 and config.optim.iterations == 10
    assert config.data.sources[0].batch_size == 4 and config.data.sources[0].name == "coco"
    assert config.ca.enabled is False


@pytest.mark.parametrize(
    ("data", "overrides", "message"),
    [
        ({"optim": {"lrr": 1}}, [], "'optim.lrr'"),
        ({"data": {"sources": [{**SOURCE, "colour": 1}]}}, [], "'data.sources.0.colour'"),
        ({}, ["optim.iterations=many"], "optim.iterations must be int"),
        ({}, ["precision=fp16"], "precision must be one of"),
        ({}, ["data.sources.3.batch_size=2"], "data.sources must be a list"),
        ({}, ["optim.iterations=0"], "optim.iterations must be positive"),
        ({}, ["nonsense"], "key.path=value"),
    ],
)
def test_errors_name_the_key(tmp_path: Path, data: dict, overrides: list, message: str) -> None:
    with pytest.raises(TrainConfigError, match=message.replace(".", r"\.")):
        load_config(write(tmp_path, data), overrides)


def test_dump_round_trips(tmp_path: Path) -> None:
    config = load_config(write(tmp_path, {"data": {"sources": [SOURCE]}}), ["seed=3"])
    config.dump(tmp_path / "dumped.yaml")
    assert load_config(tmp_path / "dumped.yaml") == config


@pytest.mark.parametrize("name", sorted(packaged_configs()))
def test_shipped_configs_load(name: str) -> None:
    config = load_config(name)
    assert config.data.sources


@pytest.mark.parametrize(
    "path", sorted(p for n, p in packaged_configs().items() if n.startswith("larvseg_c171_"))
)
def test_paper_configs_need_only_a_data_root(path: Path, tmp_path: Path) -> None:
    """No file to write: classes are shipped maps, every data path is under the root, and
    the base classes are COCO-Stuff-171's."""
    config = load_config(path, data_root=str(tmp_path))
    for source in [*config.data.sources, *config.data.eval_sources]:
        for key in ("images", "annotations", "labels_file"):
            value = getattr(source, key)
            assert value is None or value.startswith(str(tmp_path)), (source.name, key)
        if source.kind != "singlelabel":
            assert source.classes in (
                "benchmark:coco-stuff-171",
                "benchmark:ade-150",
                "benchmark:ade-847",
            )
            assert read_class_list(source.classes, source.name) == label_map_wnids(
                source.classes[10:]
            )
            assert not source.reduce_zero_label
    assert config.data.base_classes == "benchmark:coco-stuff-171"
    evaluated = {s.classes for s in config.data.eval_sources}
    assert evaluated == {"benchmark:ade-847" if "wa847" in path.name else "benchmark:ade-150"}


def test_shipped_maps_read_values_as_stored(tmp_path: Path) -> None:
    source = {**SOURCE, "classes": "benchmark:ade-150", "reduce_zero_label": True}
    with pytest.raises(TrainConfigError, match="remove reduce_zero_label"):
        load_config(write(tmp_path, {"data": {"sources": [source]}}))


def test_cli_reports_config_errors_in_one_line(tmp_path: Path, capsys) -> None:
    code = main(["fit", "--config", str(write(tmp_path, {"optim": {"lrr": 1}}))])
    err = capsys.readouterr().err.strip()
    assert code == 2 and "\n" not in err and "optim.lrr" in err


def test_help_lists_every_command_and_option(capsys) -> None:
    with pytest.raises(SystemExit):
        main(["--help"])
    out = capsys.readouterr().out
    assert all(f"\n    {command} " in out for command in ("fit", "eval", "diagnose"))
    shared = ("--config", "--set", "--output-dir", "--data-root")
    for command, options in [
        ("fit", ("--resume",)),
        ("eval", ("--checkpoint", "--base-classes", "--json", "--allow-uncovered", "--stride")),
        ("diagnose", ("SOURCE", "--checkpoint", "--max-images", "--device")),
    ]:
        with pytest.raises(SystemExit):
            main([command, "--help"])
        out = capsys.readouterr().out
        assert all(option in out for option in (*shared, *options)), command


def test_old_key_ca_top5_still_reads_with_a_warning() -> None:
    with pytest.warns(FutureWarning, match=r"ca\.top5 is renamed ca\.background_topk"):
        config = TrainConfig.from_dict({"ca": {"top5": 3}})
    assert config.ca.background_topk == 3
    with pytest.warns(FutureWarning):
        assert load_config(None, ["ca.top5=7"]).ca.background_topk == 7
    with pytest.raises(TrainConfigError, match=r"both ca\.top5 and ca\.background_topk"):
        TrainConfig.from_dict({"ca": {"top5": 3, "background_topk": 4}})


def test_data_start_up_keys_and_source_formats(tmp_path: Path) -> None:
    config = TrainConfig()
    assert config.data.index_dir == "~/.cache/larvseg/index" and config.data.bad_samples == "skip"
    assert config.data.check_upfront(50_000) and not config.data.check_upfront(50_001)
    path = write(tmp_path, {"data": {"validate": "lazy", "index_dir": None}})
    lazy = load_config(path, [])
    assert not lazy.data.check_upfront(1) and lazy.data.index_dir is None
    assert load_config(path, ["data.validate=eager"]).data.check_upfront(10**9)
    with pytest.raises(TrainConfigError, match=r"data.validate must be one of"):
        load_config(path, ["data.validate=sometimes"])
    shards = {"name": "wds", "kind": "singlelabel", "images": "s", "format": "webdataset"}
    assert load_config(write(tmp_path, {"data": {"sources": [shards]}}), []).data.sources
    for bad in ({"kind": "segmentation", "annotations": "a"}, {"labels_file": "l.jsonl"}):
        with pytest.raises(TrainConfigError, match="format webdataset holds image-level samples"):
            load_config(write(tmp_path, {"data": {"sources": [{**shards, **bad}]}}), [])

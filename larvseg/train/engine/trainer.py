"""The training loop: mixed batches, SGD with a poly schedule, CA bank updates, checkpoints.

`Trainer(config).train()` runs (or resumes) a whole run in this process;
under `torchrun` every rank runs it, with sharded sampling, DDP gradients and bank
updates gathered from all ranks so every rank holds the same memory bank.
"""

from __future__ import annotations

import logging
import random
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ...distributed import DistInfo, barrier
from ...errors import DataError
from ...evaluation.labelmaps import read_class_list
from ...modeling.model import LarvSegModel
from ...vocab.table import missing_wnids, wnid_positions
from ..ca.attention import BankUpdate, CAClassifierLoss
from ..ca.memory_bank import MemoryBank
from ..config import CASection, TrainConfig
from ..data.dataset import SourceDataset, build_dataset
from ..data.sampler import MixedBatchLoader
from ..errors import TrainConfigError, TrainingError
from ..seeding import derive_seed
from .checkpoint import (
    load_checkpoint,
    model_from_state,
    rng_state,
    save_checkpoint,
    set_rng_state,
)
from .distributed import all_reduce_sum, gather_rows, wrap_ddp
from .forward import MultiSourceForward, SourceSpec, sample_classes
from .logger import TrainLogger
from .optim import build_optimizer, poly_lr
from .periodic_eval import PeriodicEvaluator, export_best
from .warm_start import build_training_model, input_normalisation, scratch_model

log = logging.getLogger(__name__)


def seed_everything(seed: int) -> None:
    """Seed Python's, numpy's and torch's global generators (all devices)."""
    random.seed(seed)
    np.random.seed(seed % 2**32)
    torch.manual_seed(seed)


def vocabulary(config: TrainConfig, datasets: list[SourceDataset]) -> list[str]:
    """`model.classes` (a list or a class-list file; empty entries skipped), or the union
    of the sources' classes in source order."""
    classes = read_class_list(config.model.classes, "model.classes")
    if classes is not None:
        return [wnid for wnid in classes if wnid]
    seen: dict[str, None] = {}
    for dataset in datasets:
        seen.update(dict.fromkeys(dataset.classes))
    return list(seen)


def ca_classifier(ca: CASection, model: LarvSegModel) -> tuple[MemoryBank, CAClassifierLoss]:
    """An empty memory bank over `model`'s classes and the CA-Classifier loss, as `ca`
    configures them."""
    width = int(model.cosine_classifier.class_embed.shape[1])
    bank = MemoryBank(len(model.config.categories), width, ca.bank_size, ca.topk)
    loss = CAClassifierLoss(
        score_threshold=ca.score_threshold,
        diff_threshold=ca.diff_threshold,
        background_topk=ca.background_topk,
    )
    return bank, loss


class Trainer:
    """Owns the model, optimizer, memory bank and data of one run.

    Builds one dataset per `config.data.sources` entry (normalised with the initial
    checkpoint's mean/std) and validates them on rank 0 before the model is built, so
    data errors come first.

    Args:
        config: the run configuration.
        info: this process's rank (default: single process).
        device: where to train (default: CPU).
        resume: a training checkpoint (file or run folder) to continue from.
    """

    def __init__(
        self,
        config: TrainConfig,
        info: DistInfo | None = None,
        device: torch.device | None = None,
        resume: str | Path | None = None,
    ) -> None:
        self.config = config
        self.info = info or DistInfo()
        self.device = device or torch.device("cpu")
        self.output_dir = Path(config.output_dir)
        seed_everything(config.seed)
        state = load_checkpoint(resume) if resume is not None else None
        if state is None:
            mean, std = input_normalisation(config.model.init)
        else:
            mean, std = state["model_config"]["mean"], state["model_config"]["std"]
        self.datasets = [
            build_dataset(
                source,
                mean,
                std,
                train=True,
                seed=config.seed,
                index_dir=config.data.index_dir,
                bad_samples=config.data.bad_samples,
            )
            for source in config.data.sources
        ]
        self.evaluator = self._evaluator(mean, std)
        self._validate()
        self.model = self._build_model(state, vocabulary(config, self.datasets)).to(self.device)
        self.iteration = 0 if state is None else int(state["iteration"])
        self.sources = self._source_specs()
        self.bank: MemoryBank | None = None
        ca_loss = None
        if config.ca.enabled and any(source.image_level for source in self.sources):
            self.bank, ca_loss = ca_classifier(config.ca, self.model)
            self.bank.to(self.device)
        autocast = config.precision == "bf16" and self.device.type == "cuda"
        self.forward = MultiSourceForward(self.model, self.sources, ca_loss, autocast)
        self.ddp = wrap_ddp(self.forward, self.info, self.device)
        self.optimizer = build_optimizer(self.model, config)
        if state is not None:
            self._restore(state)

    def _evaluator(self, mean: Sequence[float], std: Sequence[float]) -> PeriodicEvaluator | None:
        """Evaluation during training, when `eval_every` is set and there is data for it."""
        if not self.config.eval_every:
            return None
        if not self.config.data.eval_sources:
            if self.info.is_main:
                log.warning(
                    "eval_every is set but data.eval_sources is empty: no evaluation "
                    "during training"
                )
            return None
        return PeriodicEvaluator(self.config, mean, std)

    def _validate(self) -> None:
        """Rank 0 checks the sources `data.validate` asks for in full (DataError); the
        other ranks learn the outcome. The others are checked as their samples are read."""
        error: DataError | None = None
        if self.info.is_main:
            evaluated = [] if self.evaluator is None else self.evaluator.datasets
            try:
                for dataset in [*self.datasets, *evaluated]:
                    if self.config.data.check_upfront(len(dataset)):
                        dataset.validate()
            except DataError as err:
                error = err
        failed = torch.tensor([float(error is not None)], device=self.device)
        if all_reduce_sum(failed, self.info).item():
            raise error or DataError("data validation failed on rank 0 (see its message)")

    def _build_model(self, state: dict[str, Any] | None, classes: list[str]) -> LarvSegModel:
        if state is not None:
            return model_from_state(state)
        section = self.config.model
        if section.init is None:
            model, report = scratch_model(
                section.backbone,
                section.backbone_kwargs,
                classes,
                section.embed_dim,
                section.image_size,
            )
        else:
            model, report = build_training_model(
                section.init, classes, section.embed_dim, section.image_size
            )
        if self.info.is_main:
            log.info("%s", report)
        return model

    def _source_specs(self) -> list[SourceSpec]:
        specs = []
        for source, dataset in zip(self.config.data.sources, self.datasets, strict=True):
            positions = wnid_positions(self.model.config.categories, dataset.classes)
            missing = missing_wnids(positions, dataset.classes)
            if missing:
                raise TrainConfigError(
                    f"data source {source.name!r}: classes {missing[:5]} (of {len(missing)}) "
                    f"are not in the model vocabulary (model.classes, or the resumed model's)"
                )
            ids = torch.from_numpy(positions)
            specs.append(
                SourceSpec(
                    source.name,
                    source.kind,
                    ids,
                    source.loss_weight,
                    source.aux_weight,
                    self.config.sampling_on(len(ids)),
                )
            )
        return specs

    def _restore(self, state: dict[str, Any]) -> None:
        self.optimizer.load_state_dict(state["optimizer"])
        if self.bank is not None:
            self.bank.load_state_dict(state["bank"])
        if self.evaluator is not None:
            self.evaluator.restore(state.get("best"))
        set_rng_state(state["rng"])

    def state(self) -> dict[str, Any]:
        """Everything resume needs (RNG states are this rank's)."""
        return {
            "iteration": self.iteration,
            "model": self.model.state_dict(),
            "model_config": self.model.config.to_dict(),
            "optimizer": self.optimizer.state_dict(),
            "bank": None if self.bank is None else self.bank.state_dict(),
            "rng": rng_state(),
            "config": self.config.to_dict(),
            "best": None if self.evaluator is None else self.evaluator.best,
        }

    def save(self) -> None:
        """Checkpoint on rank 0; every rank waits for it."""
        if self.info.is_main:
            save_checkpoint(
                self.output_dir,
                self.iteration,
                self.state(),
                self.model,
                self.config.keep_checkpoints,
            )
        barrier(self.info)

    def train(self, stop_at: int | None = None) -> None:
        """Run until `optim.iterations` (or `stop_at`) iterations, checkpointing on the way."""
        config = self.config
        end = min(stop_at or config.optim.iterations, config.optim.iterations)
        loader = MixedBatchLoader(
            self.datasets,
            seed=config.seed,
            rank=self.info.rank,
            world_size=self.info.world_size,
            num_workers=config.data.num_workers,
            start_step=self.iteration,
            pin_memory=self.device.type == "cuda",
        )
        if self.info.is_main:
            self.output_dir.mkdir(parents=True, exist_ok=True)
            config.dump(self.output_dir / "config.yaml")
        with TrainLogger(
            self.output_dir, self.iteration, end, self.info.is_main, config.tensorboard
        ) as logger:
            batches_iter = iter(loader)
            while self.iteration < end:
                values = self.step(next(batches_iter))
                self.iteration += 1
                if self.iteration % config.log_every == 0 or self.iteration == end:
                    logger.log(self.iteration, values)
                last = self.iteration == config.optim.iterations
                if config.eval_every and (self.iteration % config.eval_every == 0 or last):
                    self.evaluate(logger)
                if self.iteration % config.checkpoint_every == 0 or self.iteration == end:
                    self.save()

    def evaluate(self, logger: TrainLogger) -> None:
        """Evaluate on rank 0 while the other ranks wait; log the results and export a
        new best model to `OUTPUT_DIR/best/`."""
        if self.evaluator is None:
            return
        if self.info.is_main:
            values, improved = self.evaluator.evaluate(self.model, self.iteration, self.device)
            self.model.train()
            logger.log_eval(self.iteration, values)
            if improved and self.evaluator.best is not None:
                export_best(self.model, self.output_dir, self.evaluator.best)
            logger.message(self.evaluator.summary(self.iteration, values))
        barrier(self.info)

    def step(self, batches: dict[str, dict[str, Any]]) -> dict[str, float]:
        """One optimizer step on a mixed batch; returns the logged values."""
        batches = {
            name: {
                k: v.to(self.device, non_blocking=True) if torch.is_tensor(v) else v
                for k, v in batch.items()
            }
            for name, batch in batches.items()
        }
        generator = torch.Generator().manual_seed(
            derive_seed(self.config.seed, "classes", self.iteration, self.info.rank)
        )
        classes: dict[str, torch.Tensor] = {}
        for source in self.sources:
            classes[source.name], batches[source.name] = sample_classes(
                batches[source.name], source, self.config.class_sampling.num_sample_class, generator
            )
        lr = poly_lr(self.iteration, self.config)
        for group in self.optimizer.param_groups:
            group["lr"] = lr
        terms, updates = self.ddp(batches, classes, self.bank)
        self._check_finite(terms)
        weights = self.forward.weights()
        total = sum(
            (weights[name] * value for name, value in terms.items()),
            torch.zeros((), device=self.device),
        )
        self.optimizer.zero_grad(set_to_none=True)
        total.backward()
        values = {name: float(value.detach()) for name, value in terms.items()}
        if self.config.optim.grad_clip is not None:
            norm = nn.utils.clip_grad_norm_(self.model.parameters(), self.config.optim.grad_clip)
            values["grad_norm"] = float(norm)
        self.optimizer.step()
        self._update_bank(updates)
        return {"loss": float(total.detach()), **values, "lr": lr}

    def _check_finite(self, terms: dict[str, torch.Tensor]) -> None:
        names = list(terms)
        bad = torch.stack([(~torch.isfinite(terms[n].detach())).float() for n in names])
        bad = all_reduce_sum(bad, self.info)
        if bool(bad.any()):
            name = names[int(torch.nonzero(bad)[0])]
            raise TrainingError(
                f"iteration {self.iteration + 1}: loss term {name!r} is "
                f"{float(terms[name].detach())} (not finite) on some rank; stopping. The last "
                f"good checkpoint is in {self.output_dir / 'checkpoints'} (if one was written)"
            )

    def _update_bank(self, updates: list[BankUpdate]) -> None:
        """Apply this step's bank updates from all ranks, in rank order, on every rank."""
        if self.bank is None:
            return
        empty_ids = torch.zeros(0, dtype=torch.long, device=self.device)
        empty_rows = torch.zeros(0, self.bank.dim, device=self.device)
        ids = torch.cat([u[0].long() for u in updates] + [empty_ids])
        rows = torch.cat([u[1].float() for u in updates] + [empty_rows])
        ids, rows = gather_rows(ids, rows, self.info)
        if ids.numel():
            self.bank.update(ids, rows)

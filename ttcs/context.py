"""What every phase is handed: the run's config, run directory, test problems, verifier and models.

`RunContext` sits below the phases (`ttcs.synthesizer`, `ttcs.curriculum`, `ttcs.solver`,
`ttcs.evaluation`) and above what they share: model loading (`ttcs.models`), generation
backends (`ttcs.generation`, `ttcs.engine`) and the Solver's prompts and answer reading
(`ttcs.prompts`, `ttcs.voting`), and the recipe whose hooks adapt the method to the model
(`ttcs.recipes`, ``ctx.recipe``). `ttcs.loop.run` builds one per run and hands it to every phase.
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING

from omegaconf import DictConfig

from ttcs.engine import VLLMEngine, get_rollout_func
from ttcs.generation import GenerationBackend, VLLMBackend, backend_name, make_backend, make_engine
from ttcs.models import load_model, resolve_model_path
from ttcs.prompts import solver_prompt
from ttcs.recipes import Recipe, get_recipe
from ttcs.rundir import RunDir
from ttcs.seeds import seed_for
from ttcs.types import Problem
from ttcs.verify import Verifier

if TYPE_CHECKING:  # annotations only
    from transformers import PreTrainedModel, PreTrainedTokenizerBase


@dataclass
class RunContext:
    """What every phase needs: the config, the run directory, the test problems and the verifier.

    With ``backend=vllm`` it also holds the process's one vLLM engine (`ttcs.engine`), built
    once from the base model; every generation of the run goes through it, each role's
    weights loaded in place.
    """

    cfg: DictConfig
    rundir: RunDir
    problems: list[Problem]
    verifier: Verifier
    tokenizer: PreTrainedTokenizerBase | None = None
    engine: VLLMEngine | None = None
    _models: dict[str, tuple[str, PreTrainedModel]] = field(default_factory=dict)  # role -> (path, model)
    _backends: dict[str, tuple[str, GenerationBackend]] = field(default_factory=dict)  # role -> (path, backend)

    def model_path(self, role: str, iteration: int) -> str:
        """Where the `role` model of the end of `iteration` lives (the base model before any training)."""
        for t in range(iteration, 0, -1):
            ckpt = self.rundir.checkpoint_dir(role, t)
            if self.rundir.is_done(f"iter_{t:02d}/{role}") and ckpt.is_dir():
                return str(ckpt)
        return self.cfg.model.path

    def model(self, role: str, iteration: int):
        """The `role` model as of `iteration`, loaded once and kept while it stays current."""
        path = self.model_path(role, iteration)
        cached = self._models.get(role)
        if cached is None or cached[0] != path:
            self._models[role] = (path, load_model(path, dtype=self.cfg.model.dtype, device=self.cfg.get("device")))
        return self._models[role][1]

    def set_model(self, role: str, path: str, model) -> None:
        """Keep a trained model for the hf backend, which samples that very object.

        With the engine the weights are on disk and the engine loads them, so the model is let
        go: it would hold its fp32 weights on the GPU through the next phase.
        """
        if self.uses_engine():
            self._models.pop(role, None)
        else:
            self._models[role] = (path, model)

    def forget_model(self, role: str) -> None:
        """Let go of the `role` model: its next use loads it from disk."""
        self._models.pop(role, None)
        self._backends.pop(role, None)

    @cached_property
    def recipe(self) -> Recipe:
        """The recipe of ``cfg.recipe`` (`ttcs.recipes.get_recipe`): the hooks that adapt the method to the model."""
        return get_recipe(self.cfg.get("recipe"))

    def read_answer(self, completion: str) -> str | None:
        """The answer a Solver completion gives a vote, as the recipe reads it (`Recipe.read_answer`)."""
        return self.recipe.read_answer(completion, self.verifier)

    def prompts(self, problems) -> list[str]:
        """The Solver's prompts, ending with the recipe's Solver prefill: the same for evaluation, training and scoring."""
        m = self.cfg.model
        return [solver_prompt(self.tokenizer, p, kind=self.cfg.data.prompt, chat_template=m.chat_template,
                              system_prompt=m.get("system_prompt")) + self.recipe.solver_prefill for p in problems]

    def uses_engine(self) -> bool:
        return backend_name(self.cfg.backend) == "vllm"

    def start_engine(self):
        """The process's one vLLM engine, built from the base model on first use and never again."""
        if self.engine is None:
            path, _ = resolve_model_path(self.cfg.model.path)
            self.engine = make_engine(self.cfg.backend, path, seed=seed_for(self.cfg.seed, "engine"))
        return self.engine

    def backend(self, role: str, iteration: int):
        """The generation backend over the `role` model of `iteration`.

        vLLM: a view of the one engine that loads this model's weights before it samples.
        hf: the model object itself, kept while it stays current.
        Either way every call is split over the processes of a multi-process run, which must
        all make it together (`ttcs.dist.map_sharded`).
        """
        path = self.model_path(role, iteration)
        if self.uses_engine():
            weights = resolve_model_path(path)[0] if path == self.cfg.model.path else path
            return VLLMBackend(self.start_engine(), weights, shard=True)
        cached = self._backends.get(role)
        if cached is not None and cached[0] == path:
            return cached[1]
        backend = make_backend(self.cfg.backend, model=self.model(role, iteration), tokenizer=self.tokenizer,
                               model_path=path, shard=True)
        self._backends[role] = (path, backend)
        return backend

    @contextmanager
    def training(self, role: str):
        """Around one TRL trainer's life; yields its ``rollout_func`` (None: TRL generates with transformers).

        With the engine: it sleeps while the trainer is built and between its generations,
        and it generates TRL's rollouts with the `role` policy's current weights.
        """
        if not self.uses_engine():
            yield None
            return
        engine = self.start_engine()
        with engine.training():
            yield get_rollout_func(engine, role)

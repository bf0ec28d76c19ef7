"""How `ttcs -m ...` runs a sweep: every run in a process of its own, through hydra-submitit-launcher.

Two launcher presets (``conf/hydra/launcher/``) use the launchers defined here, thin subclasses of
hydra-submitit-launcher's (they live in ``hydra_plugins/ttcs_sweep``, where Hydra looks for plugins):

* ``local`` (the default of ``ttcs -m``): submitit's local executor, **one run at a time**, each in a fresh Python
  process, so nothing one run allocates (models, optimizer states, caches, fragmented heap) is alive in the next.
  The process sees the GPUs the command saw (submitit's own local executor would hide them unless told how many),
  and what it prints comes to the terminal as it prints it (submitit writes it to ``<sweep dir>/.submitit/``).
* ``slurm``: one SLURM job per run, all submitted at once as a job array; each job is one run of
  ``tasks_per_node`` processes on one node (below).

What both add to hydra-submitit-launcher's:

* **A rerun skips what finished.** Before submitting, the launcher reads each run's ``state.json``; a run whose last
  phase (the evaluation after its last iteration) has finished is not started again, and an interrupted one starts
  and resumes after its last finished phase (`ttcs.loop.run`). Run directories are deterministic
  (``hydra.sweep.dir/<run_name>``), so the same command finds them again; ``ttcs``'s preflight, before Hydra starts,
  refuses a sweep two of whose runs would share a directory, and a run directory of another config.
* **N processes per job.** A job of ``tasks_per_node`` > 1 tasks is one run of that many processes: each task
  exports the torch.distributed rendezvous (``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``,
  ``MASTER_PORT``; submitit's `TorchDistributedEnvironment`) before Hydra runs ttcs in it, which is what
  ``accelerate launch`` (DDP, ``launch/ddp.yaml``) would have set; accelerate's state reads it, and the processes
  then split the work as under ``accelerate launch``.
* **One failed run does not stop the others.** Its error is logged with its log file; the sweep ends with exit
  status 1 and one line naming every failed run.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

logger = logging.getLogger(__name__)

# Lines submitit writes into a job's own stdout (its start and end); the terminal does not need them.
_SUBMITIT_LINES = ("submitit INFO (", "submitit WARNING (", "][submitit][")
# The variable that carries the command's CUDA_VISIBLE_DEVICES (or its absence) into a local job.
_VISIBLE = "TTCS_SWEEP_CUDA_VISIBLE_DEVICES"
_UNSET = "<unset>"


def last_phase(cfg: Any) -> str:
    """The key of a run's last phase in ``state.json``: the evaluation after its last iteration (iteration 0 for a
    method without training phases), as `ttcs.loop.run` writes it."""
    from ttcs.config import trained_iterations

    return f"iter_{trained_iterations(cfg):02d}/eval"


def finished(run_dir: Path, cfg: Any) -> bool:
    """True when the run directory's ``state.json`` records the run's last phase as finished."""
    try:
        state = json.loads((Path(run_dir) / "state.json").read_text())
    except (OSError, ValueError):
        return False
    return last_phase(cfg) in (state.get("phases") or {})


class TtcsJobs:
    """Mixed into hydra-submitit-launcher's `LocalLauncher` / `SlurmLauncher` (``hydra_plugins/ttcs_sweep``)."""

    # Attributes of hydra-submitit-launcher's BaseSubmititLauncher.
    _EXECUTOR: str
    params: dict[str, Any]
    config: Any
    hydra_context: Any
    # Local: wait for each run before the next starts; SLURM: submit them all, then wait.
    one_at_a_time = False

    # ---- in the job's process (every task of it) ----
    def __call__(self, *args: Any, **kwargs: Any) -> Any:
        _restore_visible_gpus()
        _export_rendezvous()
        try:
            return super().__call__(*args, **kwargs)  # type: ignore[misc]
        except SystemExit as exit_:  # ttcs's one-line refusal: an exception submitit hands back to the sweep
            if exit_.code in (0, None):
                return None
            raise RuntimeError(str(exit_.code)) from None

    # ---- in the command's process ----
    def launch(self, job_overrides: Any, initial_job_idx: int) -> list[Any]:
        from hydra.core.utils import JobReturn, JobStatus, filter_overrides

        assert self.config is not None and self.hydra_context is not None
        sweep_dir = Path(str(self.config.hydra.sweep.dir))
        sweep_dir.mkdir(parents=True, exist_ok=True)
        logger.info("sweep: %d run(s) in %s (launcher %s)", len(job_overrides), sweep_dir, self._EXECUTOR)
        returns: dict[int, Any] = {}
        todo = []
        for idx, overrides in enumerate(job_overrides, start=initial_job_idx):
            cfg = self.hydra_context.config_loader.load_sweep_config(self.config, list(overrides))
            run_dir = Path(str(cfg.hydra.sweep.dir)) / str(cfg.hydra.sweep.subdir)
            shown = " ".join(filter_overrides(overrides))
            if finished(run_dir, cfg):
                logger.info("\t#%d : %s: finished already (%s), skipped", idx, shown, run_dir)
                returns[idx] = JobReturn(
                    overrides=list(overrides), working_dir=str(run_dir), status=JobStatus.COMPLETED
                )
            else:
                logger.info("\t#%d : %s", idx, shown)
                todo.append((idx, list(overrides), run_dir))
        os.environ[_VISIBLE] = os.environ.get("CUDA_VISIBLE_DEVICES", _UNSET)  # copied into each local job
        failed: list[str] = []
        batches = [[job] for job in todo] if self.one_at_a_time else [todo] if todo else []
        for batch in batches:
            executor = self._executor()
            jobs = executor.map_array(
                self,
                [overrides for _, overrides, _ in batch],
                ["hydra.sweep.dir"] * len(batch),
                [idx for idx, _, _ in batch],
                [f"job_id_for_{idx}" for idx, _, _ in batch],
                [_singleton_state()] * len(batch),
            )
            for (idx, overrides, run_dir), job in zip(batch, jobs, strict=True):
                try:
                    if self.one_at_a_time:
                        with _interrupted_by_sigterm():
                            _follow(job)
                    returns[idx] = job.results()[0]
                except KeyboardInterrupt:
                    if self._EXECUTOR == "local":  # the run resumes after its last finished phase
                        _kill_tree(int(job.job_id))
                    logger.error("interrupted during run #%d (%s); the same command resumes it", idx, run_dir)
                    raise SystemExit(130) from None
                except Exception as err:  # submitit's FailedJobError / UncompletedJobError: the run failed
                    reason = _last_line(str(err))
                    logger.error("run #%d (%s) failed: %s; its output: %s", idx, run_dir, reason, job.paths.stdout)
                    failed.append(f"{run_dir} ({reason})")
                    returns[idx] = JobReturn(overrides=overrides, working_dir=str(run_dir), status=JobStatus.COMPLETED)
        if failed:
            raise SystemExit(f"ttcs: {len(failed)} of {len(job_overrides)} run(s) failed: {'; '.join(failed)}")
        return [returns[idx] for idx in sorted(returns)]

    def _executor(self) -> Any:
        """A submitit executor with the preset's parameters (as hydra-submitit-launcher builds it)."""
        import submitit
        from hydra_plugins.hydra_submitit_launcher.config import BaseQueueConf
        from omegaconf import OmegaConf

        params = dict(self.params)
        init = {"folder": params.pop("submitit_folder")}
        if "max_num_timeout" in params:
            init[f"{self._EXECUTOR}_max_num_timeout"] = params.pop("max_num_timeout")
        executor = submitit.AutoExecutor(cluster=self._EXECUTOR, **init)
        base = set(OmegaConf.structured(BaseQueueConf).keys())
        executor.update_parameters(**{k if k in base else f"{self._EXECUTOR}_{k}": v for k, v in params.items()})
        return executor


def _singleton_state() -> Any:
    from hydra.core.singleton import Singleton

    return Singleton.get_state()


def _follow(job: Any) -> None:
    """Copy what the job's main task prints to this terminal while it runs, without submitit's own lines."""
    outputs = [(job.paths.stdout, sys.stdout), (job.paths.stderr, sys.stderr)]
    offsets = {path: 0 for path, _ in outputs}
    pending = {path: "" for path, _ in outputs}
    while True:
        done = job.done()
        for path, stream in outputs:
            try:
                with open(path, encoding="utf-8", errors="replace") as f:
                    f.seek(offsets[path])
                    text = f.read()
                    offsets[path] = f.tell()
            except OSError:
                continue
            text = pending[path] + text
            lines = text.split("\n")
            pending[path] = "" if done else lines.pop()
            kept = [line for line in lines if not any(mark in line for mark in _SUBMITIT_LINES)]
            if kept:
                stream.write("\n".join(kept) + ("\n" if not done or text.endswith("\n") else ""))
                stream.flush()
        if done:
            return
        time.sleep(0.5)


@contextmanager
def _interrupted_by_sigterm() -> Iterator[None]:
    """SIGTERM (``kill``, a scheduler's stop) ends the command as Ctrl-C does, so its local job ends with it (the
    job itself ignores SIGTERM: submitit keeps it for preemption)."""

    def interrupt(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    try:
        previous = signal.signal(signal.SIGTERM, interrupt)
    except ValueError:  # not the main thread: leave the signal alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _kill_tree(pid: int) -> None:
    """Kill a local job: its controller and every process under it."""
    import psutil

    try:
        root = psutil.Process(pid)
        procs = [*root.children(recursive=True), root]
    except psutil.Error:
        return
    for proc in procs:
        try:
            proc.kill()
        except psutil.Error:
            pass
    psutil.wait_procs(procs, timeout=10)


def _last_line(text: str) -> str:
    lines = [line.strip() for line in text.strip().splitlines() if line.strip()]
    return lines[-1] if lines else "no output"


def _restore_visible_gpus() -> None:
    """In a local job: the GPUs the command saw (submitit's local executor sets CUDA_VISIBLE_DEVICES to its own
    ``gpus_per_node`` count, none by default). On SLURM the scheduler's setting stays."""
    if os.environ.get("SUBMITIT_EXECUTOR") != "local" or _VISIBLE not in os.environ:
        return
    visible = os.environ[_VISIBLE]
    if visible == _UNSET:
        os.environ.pop("CUDA_VISIBLE_DEVICES", None)
    else:
        os.environ["CUDA_VISIBLE_DEVICES"] = visible


def _export_rendezvous() -> None:
    """A job of several tasks is one run of that many processes: each task sets the torch.distributed rendezvous
    accelerate reads (as ``accelerate launch`` would), every GPU of the node left visible (accelerate takes the one at
    ``LOCAL_RANK``)."""
    import submitit

    env = submitit.JobEnvironment()
    if env.num_tasks > 1:
        submitit.helpers.TorchDistributedEnvironment().export(set_cuda_visible_devices=False, overwrite=True)

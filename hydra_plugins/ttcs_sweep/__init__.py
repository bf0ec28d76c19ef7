"""ttcs's sweep launchers, where Hydra looks for plugins (the `hydra_plugins` namespace package).

hydra-submitit-launcher's local and SLURM launchers with what `ttcs.sweep.TtcsJobs` adds: finished runs skipped,
local runs one at a time with the command's GPUs and output, N tasks of a job as one run of N processes. The presets
``conf/hydra/launcher/local.yaml`` (the default of ``ttcs -m``) and ``slurm.yaml`` name them.
"""

from hydra_plugins.hydra_submitit_launcher.submitit_launcher import LocalLauncher as _SubmititLocal
from hydra_plugins.hydra_submitit_launcher.submitit_launcher import SlurmLauncher as _SubmititSlurm

from ttcs.sweep import TtcsJobs


class LocalLauncher(TtcsJobs, _SubmititLocal):
    one_at_a_time = True


class SlurmLauncher(TtcsJobs, _SubmititSlurm):
    one_at_a_time = False

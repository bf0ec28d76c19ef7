"""The `ttcs` command: run one method (Hydra main).

Examples::

    ttcs                                   # the default job on the embedded model and built-in set
    ttcs method=base data=aime24 data.path=/data/aime24.parquet
    ttcs -m method=base,self_consistency data=arith,amc23    # a sweep; then: ttcs-table outputs/sweep
"""

from __future__ import annotations

import logging

import hydra
from hydra.core.hydra_config import HydraConfig
from omegaconf import DictConfig

from ttcs import config

logger = logging.getLogger("ttcs")
# The repository's conf/ in a source checkout, the copy inside the package in an installed wheel.
CONFIG_DIR = str(config.CONFIG_DIR)


@hydra.main(version_base="1.3", config_path=CONFIG_DIR, config_name="config")
def main(cfg: DictConfig) -> None:
    try:
        config.validate_config(cfg)  # before the heavy imports below: a bad value fails in a second
    except config.ConfigError as err:
        raise SystemExit(f"ttcs: invalid config: {err}") from None
    from ttcs.loop import run
    from ttcs.report import format_results_table, write_report

    run_dir = HydraConfig.get().runtime.output_dir
    results = run(cfg, run_dir)
    if cfg.report.enabled:
        write_report(run_dir)
    table = format_results_table(results)
    print(f"\n{table}\n\nrun directory: {run_dir}")


if __name__ == "__main__":
    main()

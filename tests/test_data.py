"""ttcs.data: every file layout, every malformed input, the hub path offline, the data configs."""

from __future__ import annotations

import json
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from omegaconf import OmegaConf

from ttcs import data as data_module
from ttcs.data import DataError, Problem, last_boxed, load_data_config, load_problems

CONF_DATA = Path(__file__).resolve().parents[1] / "conf" / "data"
REQUIRED_KEYS = {"name", "source", "path", "split", "limit", "verifier", "prompt", "options", "numeric_answer"}


def write_jsonl(path: Path, rows: list) -> Path:
    path.write_text("".join(json.dumps(row) + "\n" for row in rows), encoding="utf-8")
    return path


def verl_rows() -> list[dict]:
    return [
        {
            "data_source": "aime24",
            "prompt": [{"role": "system", "content": "Be brief."}, {"role": "user", "content": f"What is {i} + 1?"}],
            "ability": "math",
            "reward_model": {"ground_truth": str(i + 1), "style": "rule"},
            "extra_info": {"index": i, "split": "test"},
        }
        for i in range(3)
    ]


# ------------------------------------------------------------------------- layouts


def test_verl_parquet_with_numpy_message_arrays(tmp_path):
    rows = verl_rows()
    for row in rows:  # what a pandas-built verl file holds: numpy arrays of message dicts
        row["prompt"] = np.array(row["prompt"], dtype=object)
    path = tmp_path / "aime.parquet"
    pd.DataFrame(rows).to_parquet(path)
    got = load_problems(path)
    assert [p.question for p in got] == ["What is 0 + 1?", "What is 1 + 1?", "What is 2 + 1?"]
    assert [p.answer for p in got] == ["1", "2", "3"]
    assert got[0].id == "aime24-0" and got[0].source == "aime24"
    assert got[0].meta["style"] == "rule" and got[0].meta["split"] == "test"


def test_verl_jsonl(tmp_path):
    path = write_jsonl(tmp_path / "verl.jsonl", verl_rows())
    got = load_problems(str(path), limit=2)
    assert len(got) == 2 and got[1].question == "What is 1 + 1?" and got[1].answer == "2"


def test_verl_without_data_source_uses_name(tmp_path):
    rows = [{"prompt": [{"role": "user", "content": "Q?"}], "reward_model": {"ground_truth": ["$5$"]}}]
    got = load_problems(write_jsonl(tmp_path / "v.jsonl", rows), name="mine")
    assert got == [Problem(id="mine-0", question="Q?", answer="5", source="mine")]


def test_plain_json_list(tmp_path):
    path = tmp_path / "plain.json"
    path.write_text(
        json.dumps([{"problem": "1+1?", "answer": 2, "level": "Level 1"}, {"problem": "2+2?", "answer": 4.0}])
    )
    got = load_problems(path)
    assert [(p.id, p.answer, p.source) for p in got] == [("plain-0", "2", "plain"), ("plain-1", "4", "plain")]
    assert got[0].meta == {"level": "Level 1"}


@pytest.mark.parametrize("key", ["data", "records"])
def test_json_with_top_level_records(tmp_path, key):
    path = tmp_path / "wrapped.json"
    path.write_text(json.dumps({key: [{"question": "Q1", "final_answer": "x", "unique_id": "u/1"}]}))
    assert load_problems(path) == [Problem(id="u/1", question="Q1", answer="x", source="wrapped")]


def test_json_columns(tmp_path):
    path = tmp_path / "cols.json"
    path.write_text(json.dumps({"input": ["a", "b"], "target": ["(A)", "yes"]}))
    assert [p.answer for p in load_problems(path)] == ["(A)", "yes"]


def test_solution_boxed_extraction(tmp_path):
    rows = [{"problem": "P", "solution": r"First \boxed{1}, finally $\boxed{\frac{a}{\sqrt{b^{2}}}}$."}]
    got = load_problems(write_jsonl(tmp_path / "sol.jsonl", rows))
    assert got[0].answer == r"\frac{a}{\sqrt{b^{2}}}" and "solution" not in got[0].meta


def test_answer_field_wins_over_solution(tmp_path):
    rows = [{"problem": "P", "solution": r"\boxed{1}", "answer": "2"}]
    assert load_problems(write_jsonl(tmp_path / "s.jsonl", rows))[0].answer == "2"


@pytest.mark.parametrize(
    "text, expected",
    [
        (r"\boxed{42}", "42"),
        (r"\boxed{\{1,2\}} and \boxed{{x}^{2}}", "{x}^{2}"),
        (r"\fbox{7}", "7"),
        (r"the answer is \boxed 5$", "5"),
        ("no box", None),
        (r"\boxed{unclosed", None),
    ],
)
def test_last_boxed(text, expected):
    assert last_boxed(text) == expected


def test_mmlu_pro_layout(tmp_path):
    rows = [
        {
            "question_id": 70,
            "question": "Pick",
            "options": ["x", "y", "z"],
            "answer": "B",
            "answer_index": 1,
            "cot_content": "long",
            "category": "law",
            "src": "ori",
        }
    ]
    path = tmp_path / "mmlu.parquet"
    pd.DataFrame(rows).to_parquet(path)  # options come back as a numpy array, ints as numpy ints
    (p,) = load_problems(path)
    assert (p.id, p.answer, p.choices) == ("70", "B", ("x", "y", "z"))
    assert p.meta == {"category": "law", "src": "ori"}


def test_supergpqa_layout_answer_letter_wins_over_answer_text(tmp_path):
    rows = [
        {
            "uuid": "abc",
            "question": "Q",
            "options": ["one", "two"],
            "answer": "two",
            "answer_letter": "B",
            "discipline": "Science",
        }
    ]
    (p,) = load_problems(write_jsonl(tmp_path / "sgpqa.jsonl", rows))
    assert (p.id, p.answer, p.meta["discipline"]) == ("abc", "B", "Science")


@pytest.mark.parametrize("answer, expected", [(2, "C"), ("(C)", "C"), ("gamma", "C")])
def test_multiple_choice_answer_forms(tmp_path, answer, expected):
    rows = [{"question": "Q", "choices": ["alpha", "beta", "gamma"], "answer": answer}]
    assert load_problems(write_jsonl(tmp_path / "mc.jsonl", rows))[0].answer == expected


def test_multiple_choice_answer_index_only(tmp_path):
    rows = [{"question": "Q", "options": ["a", "b"], "answer_index": 0}]
    assert load_problems(write_jsonl(tmp_path / "mc.jsonl", rows))[0].answer == "A"


def test_bbeh_layout(tmp_path):
    rows = [{"input": "Is it true?", "target": "True", "task": "boolean_expressions"}]
    (p,) = load_problems(write_jsonl(tmp_path / "bbeh.jsonl", rows), name="bbeh")
    assert (p.id, p.answer, p.source, p.meta) == ("bbeh-0", "True", "bbeh", {"task": "boolean_expressions"})


def test_olympiadbench_list_answers(tmp_path):
    rows = [
        {"id": 1606, "question": "Q1", "final_answer": ["$3$"]},
        {"id": 1607, "question": "Q2", "final_answer": ["$1$", "$-2$"]},
        {"id": 1608, "question": "Q3", "final_answer": None, "solution": r"so \boxed{7}"},
    ]
    path = tmp_path / "ob.parquet"
    pd.DataFrame(rows).to_parquet(path)  # lists come back as numpy arrays
    assert [p.answer for p in load_problems(path)] == ["3", "1, -2", "7"]


def test_problem_is_hashable():
    assert len({Problem("a", "q", "1", "s", meta={"x": 1}), Problem("a", "q", "1", "s", meta={"x": 1})}) == 1


# ------------------------------------------------------------------ malformed input


def assert_data_error(path, match: str, **kwargs):
    with pytest.raises(DataError) as info:
        load_problems(path, **kwargs)
    message = str(info.value)
    assert str(path) in message and match in message and "\n" not in message, message
    return message


def test_missing_file(tmp_path):
    assert_data_error(tmp_path / "nope.jsonl", "no such file")


@pytest.mark.parametrize("suffix", [".csv", ".txt"])
def test_bad_extension(tmp_path, suffix):
    path = tmp_path / f"data{suffix}"
    path.write_text("question,answer\n1,2\n")
    assert_data_error(path, "unsupported file type")


@pytest.mark.parametrize(
    "name, content", [("e.jsonl", ""), ("e.json", ""), ("e.parquet", ""), ("blank.jsonl", "\n\n"), ("list.json", "[]")]
)
def test_empty_files(tmp_path, name, content):
    path = tmp_path / name
    path.write_text(content)
    assert_data_error(path, "empty" if not content else "no rows")


def test_empty_parquet_table(tmp_path):
    path = tmp_path / "none.parquet"
    pd.DataFrame({"question": pd.Series([], dtype=str)}).to_parquet(path)
    assert_data_error(path, "no rows")


def test_corrupt_parquet(tmp_path):
    path = tmp_path / "bad.parquet"
    path.write_bytes(b"not parquet at all")
    assert_data_error(path, "not a readable parquet file")


def test_bad_json_line_names_the_line(tmp_path):
    path = tmp_path / "bad.jsonl"
    path.write_text('{"question": "a", "answer": "1"}\n{"question": "b", "answer": \n')
    assert_data_error(path, "line 2")


def test_bad_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_text('[{"question": "a"},')
    assert_data_error(path, "not valid JSON")


def test_not_utf8(tmp_path):
    path = tmp_path / "latin.jsonl"
    path.write_bytes('{"question": "caf\u00e9"}\n'.encode("latin-1"))
    assert_data_error(path, "not UTF-8")


def test_json_scalar_top_level(tmp_path):
    path = tmp_path / "scalar.json"
    path.write_text("42")
    assert_data_error(path, "expected a list of objects")


def test_row_not_an_object(tmp_path):
    assert_data_error(write_jsonl(tmp_path / "r.jsonl", [{"question": "a"}, [1, 2]]), "row 1")


def test_missing_question_column_lists_columns(tmp_path):
    path = write_jsonl(tmp_path / "noq.jsonl", [{"text": "a", "answer": "1"}])
    message = assert_data_error(path, "no question column")
    assert "['answer', 'text']" in message


def test_question_wrong_type(tmp_path):
    path = write_jsonl(tmp_path / "t.jsonl", [{"question": "ok"}, {"question": 12}])
    assert_data_error(path, "row 1: question is a int")


def test_empty_question(tmp_path):
    assert_data_error(write_jsonl(tmp_path / "eq.jsonl", [{"question": "   "}]), "row 0: empty question")


def test_verl_prompt_without_user(tmp_path):
    rows = [{"prompt": [{"role": "system", "content": "x"}], "reward_model": {"ground_truth": "1"}}]
    assert_data_error(write_jsonl(tmp_path / "v.jsonl", rows), "no message with role 'user'")


def test_answer_wrong_type(tmp_path):
    assert_data_error(write_jsonl(tmp_path / "a.jsonl", [{"question": "q", "answer": {"x": 1}}]), "answer is a dict")


def test_multiple_choice_answer_out_of_range(tmp_path):
    rows = [{"question": "q", "options": ["a", "b"], "answer": "D"}]
    assert_data_error(write_jsonl(tmp_path / "mc.jsonl", rows), "out of range")


def test_duplicate_ids(tmp_path):
    rows = [{"id": 1, "question": "a"}, {"id": 1, "question": "b"}]
    assert_data_error(write_jsonl(tmp_path / "dup.jsonl", rows), "duplicate id '1'")


def test_options_rejected_for_files(tmp_path):
    path = write_jsonl(tmp_path / "f.jsonl", [{"question": "a"}])
    assert_data_error(path, "apply only to built-in", n=3)


# ------------------------------------------------------------------------- the hub


def test_hub_unreachable_fails_fast_without_calling_datasets(monkeypatch):
    import datasets

    monkeypatch.setattr(data_module, "hub_offline", lambda: False)
    monkeypatch.setattr(data_module, "hub_reachable", lambda timeout=3.0: False)
    monkeypatch.setattr(datasets, "load_dataset", lambda *a, **k: pytest.fail("load_dataset must not be called"))
    with pytest.raises(DataError, match=r"HuggingFaceH4/aime_2024: cannot reach .*data\.path="):
        load_problems("HuggingFaceH4/aime_2024")


def test_hub_connection_error_becomes_data_error(monkeypatch):
    import datasets

    def refuse(*args, **kwargs):
        raise ConnectionError("Couldn't reach 'org/set' on the Hub (LocalEntryNotFoundError)")

    monkeypatch.setattr(datasets, "load_dataset", refuse)
    with pytest.raises(DataError, match=r"^org/set: cannot load .*data\.path=") as info:
        load_problems("org/set", split="test")
    assert isinstance(info.value.__cause__, ConnectionError)


def test_hub_offline_mode_is_quick(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    started = time.monotonic()
    with pytest.raises(DataError, match="data.path="):
        load_problems("ttcs-tests/no-such-dataset", split="test")
    assert time.monotonic() - started < 15


def test_hub_rows_pick_test_split_and_limit(monkeypatch):
    import datasets

    seen = {}

    def fake_load(path, name=None, split=None):
        seen.update(path=path, name=name, split=split)
        rows = [{"problem": f"P{i}", "answer": str(i), "unique_id": f"u{i}"} for i in range(5)]
        return datasets.DatasetDict(
            {"train": datasets.Dataset.from_list(rows[:1]), "test": datasets.Dataset.from_list(rows)}
        )

    monkeypatch.setattr(data_module, "hub_offline", lambda: True)
    monkeypatch.setattr(datasets, "load_dataset", fake_load)
    got = load_problems("Org/Set", limit=3, subset="cfg")
    assert seen == {"path": "Org/Set", "name": "cfg", "split": None}
    assert [p.id for p in got] == ["u0", "u1", "u2"] and got[0].source == "Org/Set"


@pytest.mark.parametrize("source", ["not a dataset id!", "a/b/c", "data.csv"])
def test_unknown_source_kinds(source):
    with pytest.raises(DataError, match=source.split("/")[0]):
        load_problems(source)


# ------------------------------------------------------------------- data configs


@pytest.mark.parametrize("path", sorted(CONF_DATA.glob("*.yaml")), ids=lambda p: p.stem)
def test_data_config_schema(path):
    cfg = OmegaConf.load(path)
    assert set(cfg.keys()) == REQUIRED_KEYS
    assert cfg.name == path.stem and cfg.verifier in {"math", "multiple_choice", "exact_match"}
    assert cfg.prompt in {"math", "multiple_choice"}
    lines = path.read_text().splitlines()
    for number, line in enumerate(lines):
        if line and not line.startswith(("#", " ")):
            assert lines[number - 1].startswith("#"), f"{path.name}: no comment above '{line}'"


def test_all_expected_configs_exist():
    expected = {
        "arith",
        "aime24",
        "aime25",
        "amc23",
        "math500",
        "minerva",
        "olympiadbench",
        "mmlu_pro",
        "supergpqa",
        "bbeh",
    }
    assert {p.stem for p in CONF_DATA.glob("*.yaml")} >= expected


def test_load_data_config_arith():
    cfg = OmegaConf.load(CONF_DATA / "arith.yaml")
    got = load_data_config(cfg)
    assert len(got) == cfg.options.n and {p.meta["level"] for p in got} == {1, 2, 3, 4}
    cfg.limit = 5
    assert len(load_data_config(cfg)) == 5


@pytest.mark.parametrize("stem", ["aime24", "mmlu_pro", "supergpqa", "bbeh"])
def test_load_data_config_path_replaces_source(tmp_path, stem):
    cfg = OmegaConf.load(CONF_DATA / f"{stem}.yaml")
    rows = (
        [{"question": "Q", "options": ["a", "b"], "answer": "A"}]
        if cfg.prompt == "multiple_choice"
        else [{"input": "Q", "target": "A"}]
    )
    cfg.path = str(write_jsonl(tmp_path / "local.jsonl", rows))
    (p,) = load_data_config(cfg)
    assert p.source == stem and p.answer == "A"


def test_load_data_config_accepts_plain_dict(tmp_path):
    path = write_jsonl(tmp_path / "d.jsonl", verl_rows())
    got = load_data_config(
        {"name": "x", "source": "Org/Set", "path": str(path), "split": None, "limit": 1, "options": {}}
    )
    assert len(got) == 1 and got[0].source == "aime24"


def test_load_data_config_missing_name():
    with pytest.raises(DataError, match="missing required key 'name'"):
        load_data_config({"source": "arith"})


@pytest.mark.parametrize(
    ("gold", "expected"),
    [
        ("$69$,$84$", "69, 84"),  # OlympiadBench's multi-part answers: every span kept whole
        ("$f(x)=x$,$f(x)=2-x$", "f(x)=x, f(x)=2-x"),
        ("$a$, $b$, and $c$", "a, b, c"),
        ("$\\frac{1}{2}$", "\\frac{1}{2}"),
        ("$$x^2$$", "x^2"),
        ("$(1, 2)$", "(1, 2)"),
        ("$x$ or $y$", "$x$ or $y$"),  # words between the spans: kept as given
        ("$5$ apples", "$5$ apples"),
        ("\\$5", "\\$5"),  # an escaped dollar is a dollar sign
        ("12", "12"),
    ],
)
def test_gold_answers_in_math_delimiters_stay_valid_latex(tmp_path, gold, expected):
    rows = verl_rows()[:1]
    rows[0]["reward_model"]["ground_truth"] = gold
    path = write_jsonl(tmp_path / "olympiad.jsonl", rows)
    assert load_problems(str(path))[0].answer == expected

"""docs/your-data.md runs as written: its Python blocks, then its `aekit` commands in order,
in one empty folder; a ```text block shows lines the command before it must print."""

from __future__ import annotations

import re
import shlex
from pathlib import Path

import pytest

from aekit.cli import main

DOC = Path(__file__).resolve().parents[1] / "docs" / "your-data.md"
BLOCK = re.compile(r"^```(\w+)\n(.*?)^```", re.MULTILINE | re.DOTALL)


def test_the_walkthrough_runs_and_prints_what_it_shows(tmp_path, monkeypatch, capsys) -> None:
    pytest.importorskip("PIL")
    monkeypatch.chdir(tmp_path)
    blocks = BLOCK.findall(DOC.read_text(encoding="utf-8"))
    assert [kind for kind, _ in blocks].count("bash") >= 4
    namespace: dict[str, object] = {}
    printed = ""
    commands = 0
    for kind, body in blocks:
        if kind == "python":
            exec(compile(body, str(DOC), "exec"), namespace)
            capsys.readouterr()
        elif kind == "bash":
            for line in body.strip().splitlines():
                argv = shlex.split(line)
                assert argv[0] == "aekit", line
                code = main(argv[1:])
                out, err = capsys.readouterr()
                assert code == 0, f"{line}\n{err}"
                printed = out + err
                commands += 1
        elif kind == "text":
            for shown in body.strip().splitlines():
                assert shown in printed, shown
    assert commands >= 8
    # What the walkthrough promises about its outputs.
    assert Path("scores.csv").read_text().startswith("index,patient_id,score,probability,label")
    assert Path("codes.csv").read_text().startswith("patient_id,z1,")
    assert (
        Path("neighbours.csv").read_text().startswith("query,rank,id,distance,query_name,item_name")
    )
    assert Path("scan-codes.csv").read_text().startswith("file,z1,")
    assert Path("patients-report.html").stat().st_size > 10_000
    assert (Path("patients-api-model") / "config.json").is_file()

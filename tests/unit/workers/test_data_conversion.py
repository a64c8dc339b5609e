from __future__ import annotations

import csv
import json
import tracemalloc
from pathlib import Path

import pytest

from jobdesk.core.errors import InvalidJobData, JobCancelled
from jobdesk.core.registry import registry
from jobdesk.workers.testing import InlineContext, run_inline

CSV_TEXT = "id,name,score,active,zip\n1,Ada,9.5,true,00123\n2,Grace,,false,90210\n"


def write(path: Path, text: str, encoding: str = "utf-8") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding=encoding)
    return path


def convert(ctx: InlineContext, **data: object) -> dict:
    return run_inline(ctx, "data-conversion", data)


def test_csv_to_jsonl_infers_types(make_ctx, data_dir: Path) -> None:
    write(data_dir / "in/people.csv", CSV_TEXT)
    result = convert(make_ctx(), inputPath="in/people.csv", outputFormat="jsonl")
    assert result["outputPath"] == "in/people.jsonl"
    assert (result["rowsRead"], result["rowsWritten"], result["rowsSkipped"]) == (2, 2, 0)
    lines = (data_dir / "in/people.jsonl").read_text().splitlines()
    assert json.loads(lines[0]) == {
        "id": 1, "name": "Ada", "score": 9.5, "active": True, "zip": "00123",
    }
    assert json.loads(lines[1])["score"] is None


@pytest.mark.parametrize("first", ["csv", "json", "jsonl"])
def test_every_direction_round_trips(make_ctx, data_dir: Path, first: str) -> None:
    write(data_dir / "people.csv", CSV_TEXT)
    convert(make_ctx(), inputPath="people.csv", outputPath=f"a.{first}", outputFormat=first)
    rows = None
    for fmt in ("csv", "json", "jsonl"):
        out = f"b-{fmt}.{fmt}"
        convert(make_ctx(), inputPath=f"a.{first}", outputPath=out)
        convert(make_ctx(), inputPath=out, outputPath=f"back-{fmt}.jsonl")
        got = [json.loads(x) for x in (data_dir / f"back-{fmt}.jsonl").read_text().splitlines()]
        rows = rows or got
        assert got == rows
    assert rows is not None and rows[0]["name"] == "Ada" and len(rows) == 2


def test_json_array_output_is_valid_json(make_ctx, data_dir: Path) -> None:
    write(data_dir / "p.csv", CSV_TEXT)
    convert(make_ctx(), inputPath="p.csv", outputFormat="json")
    assert [r["id"] for r in json.loads((data_dir / "p.json").read_text())] == [1, 2]
    write(data_dir / "empty.csv", "id,name\n")
    result = convert(make_ctx(), inputPath="empty.csv", outputFormat="json")
    assert json.loads((data_dir / "empty.json").read_text()) == []
    assert result["rowsWritten"] == 0


def test_options_delimiter_encoding_columns_rename(make_ctx, data_dir: Path) -> None:
    write(data_dir / "latin.csv", "id;name;city\n1;José;Málaga\n", encoding="latin-1")
    result = convert(
        make_ctx(),
        inputPath="latin.csv",
        outputPath="out/picked.csv",
        options={
            "delimiter": ";",
            "outputDelimiter": "\t",
            "encoding": "latin-1",
            "columns": ["name", "id"],
            "rename": {"name": "fullName"},
        },
    )
    assert result["columns"] == ["fullName", "id"]
    assert (data_dir / "out/picked.csv").read_text() == "fullName\tid\nJosé\t1\n"


def test_json_to_csv_flattens_values_and_refuses_surprise_fields(make_ctx, data_dir) -> None:
    write(data_dir / "r.jsonl", '{"a": 1, "b": {"x": [1]}, "c": null, "d": true}\n')
    convert(make_ctx(), inputPath="r.jsonl", outputFormat="csv")
    assert list(csv.reader((data_dir / "r.csv").open())) == [
        ["a", "b", "c", "d"], ["1", '{"x": [1]}', "", "true"],
    ]
    write(data_dir / "s.jsonl", '{"a": 1}\n{"a": 2, "b": 3}\n')
    with pytest.raises(ValueError, match=r"line 2: field\(s\) b not among the CSV columns"):
        convert(make_ctx(), inputPath="s.jsonl", outputFormat="csv")
    assert not (data_dir / "s.csv").exists()  # no half-written output


def test_bad_row_names_its_line(make_ctx, data_dir: Path) -> None:
    write(data_dir / "bad.csv", "a,b\n1,2\n3\n4,5\n")
    with pytest.raises(ValueError, match="line 3: 1 fields, but the header has 2"):
        convert(make_ctx(), inputPath="bad.csv", outputFormat="jsonl")
    write(data_dir / "bad.jsonl", '{"a": 1}\n\n{"a": \n')
    with pytest.raises(ValueError, match="line 3: invalid JSON"):
        convert(make_ctx(), inputPath="bad.jsonl", outputFormat="csv")
    write(data_dir / "bad.json", '[\n {"a": 1},\n {"a": 2},\n {"a": tru}\n]')
    with pytest.raises(ValueError, match="line 4: invalid JSON"):
        convert(make_ctx(), inputPath="bad.json", outputFormat="csv")
    write(data_dir / "list.json", '[{"a": 1},\n [1, 2]]')
    with pytest.raises(ValueError, match="line 2: expected a JSON object"):
        convert(make_ctx(), inputPath="list.json", outputFormat="csv")


def test_skip_mode_counts_bad_rows(make_ctx, data_dir: Path) -> None:
    write(data_dir / "bad.csv", "a,b\n1,2\n3\n4,5\n")
    result = convert(
        make_ctx(), inputPath="bad.csv", outputFormat="jsonl", options={"onError": "skip"}
    )
    assert (result["rowsWritten"], result["rowsSkipped"]) == (2, 1)
    assert result["skipped"] == [{"line": 3, "error": "1 fields, but the header has 2"}]


def test_missing_selected_column_is_named(make_ctx, data_dir: Path) -> None:
    write(data_dir / "p.csv", CSV_TEXT)
    with pytest.raises(ValueError, match=r"options\.columns names nope"):
        convert(make_ctx(), inputPath="p.csv", outputFormat="json", options={"columns": ["nope"]})


def test_progress_by_rows_and_bytes(make_ctx, data_dir: Path) -> None:
    body = "".join(f"{i},name{i}\n" for i in range(10_000))
    path = write(data_dir / "big.csv", "id,name\n" + body)
    ctx = make_ctx()
    convert(ctx, inputPath="big.csv", outputFormat="jsonl", options={"progressBy": "rows"})
    assert ctx.updates[-1] == (10_000, 10_000, "Converted 10,000 of 10,000 rows")
    assert [u[0] for u in ctx.updates[:2]] == [2000, 4000]
    ctx = make_ctx()
    convert(ctx, inputPath="big.csv", outputPath="b.json")
    size = path.stat().st_size
    assert ctx.updates[-1][:2] == (size, size)
    assert all(u[1] == size and 0 < u[0] <= size for u in ctx.updates)


def test_cancellation_mid_run_leaves_no_output(make_ctx, data_dir: Path) -> None:
    write(data_dir / "big.csv", "id\n" + "".join(f"{i}\n" for i in range(20_000)))
    ctx = make_ctx(cancel_after=2)
    with pytest.raises(JobCancelled):
        convert(ctx, inputPath="big.csv", outputFormat="jsonl")
    assert len(ctx.updates) == 2
    assert sorted(p.name for p in data_dir.iterdir()) == ["big.csv"]


def test_paths_stay_in_the_data_dir(make_ctx, data_dir: Path) -> None:
    definition = registry.get("data-conversion")
    with pytest.raises(InvalidJobData, match=r"inputPath: Value error, may not contain '\.\.'"):
        definition.validate_data({"inputPath": "../x.csv", "outputFormat": "json"})
    outside = data_dir.parent / "outside.csv"
    write(outside, CSV_TEXT)
    with pytest.raises(InvalidJobData, match="outside the data directory"):
        convert(make_ctx(), inputPath=str(outside), outputFormat="json")


def test_schema_names_the_bad_field() -> None:
    definition = registry.get("data-conversion")
    with pytest.raises(InvalidJobData, match=r"options\.delimter: Extra inputs are not permitted"):
        definition.validate_data(
            {"inputPath": "a.csv", "outputFormat": "json", "options": {"delimter": ";"}}
        )
    with pytest.raises(InvalidJobData, match="outputFormat: Input should be 'csv', 'json'"):
        definition.validate_data({"inputPath": "a.csv", "outputFormat": "xml"})
    with pytest.raises(InvalidJobData, match="inputFormat is required"):
        definition.validate_data({"inputPath": "a.txt", "outputFormat": "json"})
    with pytest.raises(InvalidJobData, match="unknown encoding"):
        definition.validate_data(
            {"inputPath": "a.csv", "outputFormat": "json", "options": {"encoding": "klingon"}}
        )
    # The original design's name for the input is accepted; stored data is camelCase.
    stored = definition.validate_data({"filePath": "a.csv", "outputFormat": "jsonl"})
    assert stored["inputPath"] == "a.csv" and stored["options"]["inferTypes"] is True


def _write_records(path: Path, fmt: str, rows: int) -> None:
    records = ({"id": i, "name": f"name {i}", "note": "some note text"} for i in range(rows))
    with path.open("w") as out:
        if fmt == "csv":
            out.write("id,name,note\n")
            out.writelines(f"{r['id']},{r['name']},{r['note']}\n" for r in records)
        elif fmt == "jsonl":
            out.writelines(json.dumps(r) + "\n" for r in records)
        else:
            out.write("[\n" + ",\n".join(json.dumps(r) for r in records) + "\n]\n")


def _peak_memory(ctx: InlineContext, source: str, target: str) -> int:
    tracemalloc.start()
    try:
        convert(ctx, inputPath=source, outputPath=target)
        return tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


@pytest.mark.parametrize("fmt", ["csv", "json", "jsonl"])
def test_memory_stays_flat_as_the_input_grows(make_ctx, data_dir: Path, fmt: str) -> None:
    """Ten times the rows, about the same peak: nothing is loaded whole."""
    target = "out.csv" if fmt == "jsonl" else "out.jsonl"
    peaks = []
    for rows in (2_500, 25_000):
        _write_records(data_dir / f"in.{fmt}", fmt, rows)
        peaks.append(_peak_memory(make_ctx(), f"in.{fmt}", target))
    size = (data_dir / f"in.{fmt}").stat().st_size
    assert peaks[1] < peaks[0] * 1.3 + 64_000, f"peaks {peaks} for a {size} byte input"
    assert peaks[1] < size / 2

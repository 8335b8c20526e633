"""What `obol` prints: amounts exactly as the node sent them, its version, one-line errors."""

from __future__ import annotations

import importlib.metadata
import json
import logging
from decimal import Decimal

import pytest

from node.cli.common import pretty_json
from node.cli.main import main
from node.cli.node import RepeatFilter
from p2p.config import USER_AGENT, version_number


def test_amounts_print_with_their_eight_decimals_zero_included():
    reply = json.loads(
        '{"a": 0.00000000, "b": 50.00000000, "c": [0.00000001]}', parse_float=Decimal
    )
    assert pretty_json(reply) == (
        '{\n  "a": 0.00000000,\n  "b": 50.00000000,\n  "c": [\n    0.00000001\n  ]\n}'
    )


def _record(text: str, created: float) -> logging.LogRecord:
    record = logging.LogRecord("obol.test", logging.ERROR, __file__, 1, text, None, None)
    record.created = created
    return record


def test_repeated_log_lines_are_held_back_with_a_count():
    flt = RepeatFilter(burst=3, window=60.0)
    passed = [flt.filter(_record("accept() failed", 100.0 + i)) for i in range(10)]
    assert passed == [True] * 3 + [False] * 7
    assert all(flt.filter(_record(f"UpdateTip: height={h}", 100.0)) for h in range(10))
    later = _record("accept() failed", 161.0)
    assert flt.filter(later)
    assert later.getMessage() == "accept() failed [7 more like this held back]"


def test_one_version_string_from_the_package_metadata(capsys) -> None:
    version = importlib.metadata.version("obol")
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert capsys.readouterr().out == f"obol {version}\n"
    assert f"/obol:{version}/" == USER_AGENT
    major, minor, patch = (int(p) for p in version.split("."))
    assert version_number() == 10_000 * major + 100 * minor + patch


def test_a_data_directory_that_cannot_be_used_is_one_line(tmp_path, capsys) -> None:
    (tmp_path / "regtest").write_text("not a directory")
    assert main(["node", "--datadir", str(tmp_path), "--rpc-port", "0", "--p2p-port", "0"]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot use the data directory {tmp_path / 'regtest'}: a file is in its place\n"
    )
    blocked = tmp_path / "regtest" / "below"
    assert main(["node", "--datadir", str(blocked), "--rpc-port", "0", "--p2p-port", "0"]) == 1
    assert capsys.readouterr().err == (
        f"error: cannot use the data directory {blocked / 'regtest'}: Not a directory\n"
    )

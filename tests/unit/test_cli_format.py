"""What `obol rpc` prints: amounts exactly as the node sent them."""

from __future__ import annotations

import json
from decimal import Decimal

from node.cli import pretty_json


def test_amounts_print_with_their_eight_decimals_zero_included():
    reply = json.loads(
        '{"a": 0.00000000, "b": 50.00000000, "c": [0.00000001]}', parse_float=Decimal
    )
    assert pretty_json(reply) == (
        '{\n  "a": 0.00000000,\n  "b": 50.00000000,\n  "c": [\n    0.00000001\n  ]\n}'
    )

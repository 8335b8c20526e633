"""``python -m tests.fuzz.run TARGET [libFuzzer options] [CORPUS_DIR...]``: a
coverage-guided run of one target under atheris (libFuzzer's options, e.g.
``-max_total_time=600``). A crash leaves its input in ``crash-*``; copy it into the
target's corpus folder, where the suite replays it for ever after."""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports(include=["consensus", "node", "p2p"]):
    from tests.fuzz.targets import TARGETS


def main() -> None:
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        print(f"usage: python -m tests.fuzz.run {{{','.join(TARGETS)}}} [libFuzzer options]")
        raise SystemExit(2)
    target = TARGETS[sys.argv[1]]
    atheris.Setup([sys.argv[0], *sys.argv[2:]], target)
    atheris.Fuzz()


if __name__ == "__main__":
    main()

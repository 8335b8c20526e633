"""The small JSON files p2p keeps in the datadir (bans, addresses, anchors).

Read leniently (a missing or damaged file is an empty one, with a warning: these files
are caches of what peers told us, never consensus data) and written atomically (temp
file, then rename), so a crash never leaves half a file. A write that fails (a full disk)
keeps the old file and is logged: losing a cache must not stop the node or its shutdown.
"""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path
from typing import Any

log = logging.getLogger("obol.p2p")


def read_json(path: Path) -> Any:
    """The file's JSON value, or None when it is missing or unreadable."""
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        return None
    except (OSError, ValueError) as exc:
        log.warning("ignoring unreadable %s: %s", path, exc)
        return None


def write_json(path: Path, value: Any) -> None:
    tmp = path.with_suffix(".tmp")
    try:
        tmp.write_text(json.dumps(value, indent=1))
        os.replace(tmp, path)
    except OSError as exc:
        log.warning("could not write %s, keeping the previous one: %s", path, exc)
        tmp.unlink(missing_ok=True)

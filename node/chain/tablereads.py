"""LevelDB reading its table files with ``pread`` into its block cache, not through mmap.

On 64-bit Linux LevelDB memory-maps up to 1,000 table files and reads blocks in place.
The pages it touches then count in the node's resident memory, outside any budget: at a
million txs a sync touches the whole coin set (random spends) and the node held ~140 MB of
mapped tables on top of its ``--dbcache`` budget. Read with ``pread`` instead, a block
goes to LevelDB's block cache, whose size the budget sets, and the file's pages stay in
the kernel's page cache, which is not the node's memory.

LevelDB's switch for this is ``EnvPosixTestHelper::SetReadOnlyMMapLimit``, which its
build does not export: it is found in the symbol table of the loaded library (plyvel's
wheels ship LevelDB unstripped) and called before the process opens its first database,
when LevelDB sizes its mmap limiter once and for all. Where the symbol is not there (a
stripped system LevelDB, another platform) nothing changes and tables stay mapped.
"""

from __future__ import annotations

import ctypes
import struct
import sys
from pathlib import Path

_SETTER = b"_ZN7leveldb18EnvPosixTestHelper20SetReadOnlyMMapLimitEi"
_SHT_SYMTAB = 2
_STT_FUNC = 2
_PT_LOAD = 1
_ELF64_LE = b"\x7fELF\x02\x01"

_done: bool | None = None


def read_tables_without_mmap() -> bool:
    """Sets LevelDB's limit of memory-mapped tables to 0; True if it was set.

    Only takes effect before the first database of the process is opened (LevelDB reads
    the limit once); calling it again returns the first answer.
    """
    global _done
    if _done is None:
        _done = _set_mmap_limit(0)
    return _done


def _set_mmap_limit(limit: int) -> bool:
    if sys.platform != "linux":
        return False
    import plyvel  # noqa: F401  (maps the LevelDB library it links into the process)

    for path, base in _loaded_objects():
        if "leveldb" not in path.name and "plyvel" not in path.name:
            continue
        offset = _symbol_offset(path, _SETTER)
        if offset is not None:
            ctypes.CFUNCTYPE(None, ctypes.c_int)(base + offset)(limit)
            return True
    return False


def _loaded_objects() -> list[tuple[Path, int]]:
    """(file, load address) of each shared object mapped into this process: the start of
    its mapping at file offset 0 (a shared object's first segment is at address 0)."""
    found: dict[str, int] = {}
    with open("/proc/self/maps", encoding="utf-8", errors="replace") as maps:
        for line in maps:
            fields = line.split(maxsplit=5)
            if len(fields) == 6 and fields[2] == "00000000" and fields[5].startswith("/"):
                found.setdefault(fields[5].rstrip("\n"), int(fields[0].split("-")[0], 16))
    return [(Path(name), base) for name, base in found.items()]


def _symbol_offset(path: Path, name: bytes) -> int | None:
    """Where function ``name`` of the ELF64 file's static symbol table is, from the
    object's load address; None if it is not there or the file is not laid out from
    address 0 (then a value is no offset from the mapping at file offset 0)."""
    try:
        data = path.read_bytes()
    except OSError:
        return None
    try:
        return _find_function(data, name) if data.startswith(_ELF64_LE) else None
    except (struct.error, ValueError, IndexError):  # truncated or not what it says
        return None


def _find_function(data: bytes, name: bytes) -> int | None:
    if not _loads_from_zero(data):
        return None
    (shoff,) = struct.unpack_from("<Q", data, 0x28)
    shentsize, shnum = struct.unpack_from("<HH", data, 0x3A)
    sections = [
        struct.unpack_from("<IIQQQQIIQQ", data, shoff + i * shentsize) for i in range(shnum)
    ]
    for _, kind, _, _, offset, size, link, _, _, entsize in sections:
        if kind != _SHT_SYMTAB or not entsize:
            continue
        strings_at = sections[link][4]
        for at in range(offset, offset + size, entsize):
            name_at, info, _, shndx, value, _ = struct.unpack_from("<IBBHQQ", data, at)
            if (
                info & 0xF == _STT_FUNC
                and shndx
                and value
                and _name(data, strings_at + name_at) == name
            ):
                return value
    return None


def _loads_from_zero(data: bytes) -> bool:
    """Whether the first loadable segment maps file offset 0 at address 0."""
    (phoff,) = struct.unpack_from("<Q", data, 0x20)
    phentsize, phnum = struct.unpack_from("<HH", data, 0x36)
    for i in range(phnum):
        kind, _, offset, vaddr = struct.unpack_from("<IIQQ", data, phoff + i * phentsize)
        if kind == _PT_LOAD:
            return offset == 0 and vaddr == 0
    return False


def _name(data: bytes, at: int) -> bytes:
    return data[at : data.index(b"\0", at)]

"""``obol localnet``: a local network of nodes in one command.

``up`` starts N nodes on loopback, each with its own datadir, free ports and ``default``
wallet, connected to each other; node 1 mines (continuously on devnet, at an interval on
regtest). It shows a live table until Ctrl-C, then stops every node cleanly. The other
commands work from any terminal through the state file ``<dir>/localnet.json``: ``status``,
``down``, ``faucet``, ``partition``/``heal`` (to make a fork and watch the reorg) and
``time`` (moves every regtest node's clock).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import signal
import sys
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass
from decimal import Decimal
from pathlib import Path
from typing import Any

from consensus.params import NETWORKS

from ..rpc.auth import read_cookie
from .common import CliError, RpcCallError, rpc_call
from .launcher import NodeProcess, free_port

STATE_FILE = "localnet.json"
START_TIMEOUT = 60.0
STOP_TIMEOUT = 30.0
MATURE_BLOCKS = 101


@dataclass(frozen=True, slots=True)
class LocalNode:
    name: str
    datadir: str
    rpc_port: int
    p2p_port: int
    pid: int

    @property
    def rpc_url(self) -> str:
        return f"http://127.0.0.1:{self.rpc_port}/"

    @property
    def p2p_address(self) -> str:
        return f"127.0.0.1:{self.p2p_port}"


@dataclass(frozen=True, slots=True)
class LocalnetState:
    network: str
    nodes: tuple[LocalNode, ...]
    mocktime: int = 0

    def save(self, directory: Path) -> None:
        tmp = directory / (STATE_FILE + ".tmp")
        tmp.write_text(json.dumps(asdict(self), indent=2))
        os.replace(tmp, directory / STATE_FILE)

    @classmethod
    def load(cls, directory: Path) -> LocalnetState:
        path = directory / STATE_FILE
        try:
            raw = json.loads(path.read_text())
            return cls(raw["network"], tuple(LocalNode(**n) for n in raw["nodes"]), raw["mocktime"])
        except FileNotFoundError as exc:
            raise CliError(
                f"no localnet in {directory} (start one with: obol localnet up)"
            ) from exc
        except (ValueError, KeyError, TypeError) as exc:
            raise CliError(f"{path} is damaged; remove it after stopping the nodes") from exc


def add_parser(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("localnet", help="run a local network of nodes")
    lsub = p.add_subparsers(dest="localnet_command", required=True)

    def with_dir(parser: argparse.ArgumentParser) -> argparse.ArgumentParser:
        parser.add_argument(
            "--dir",
            type=Path,
            default=None,
            help="default $OBOL_LOCALNET, else the nearest ./localnet holding a running "
            "network in this folder or one above it (up: ./localnet)",
        )
        return parser

    up = with_dir(lsub.add_parser("up", help="start the nodes and show them live until Ctrl-C"))
    up.add_argument("--nodes", type=int, default=3)
    up.add_argument("--network", choices=sorted(NETWORKS), default="regtest")
    up.add_argument(
        "--block-interval",
        type=float,
        default=5.0,
        metavar="S",
        help="regtest: node 1 mines a block every S seconds (devnet mines at its ASERT pace)",
    )
    status = with_dir(lsub.add_parser("status", help="one line per node"))
    status.add_argument("--json", action="store_true")
    with_dir(lsub.add_parser("down", help="stop every node"))
    faucet = with_dir(lsub.add_parser("faucet", help="pay from node 1's wallet"))
    faucet.add_argument("address")
    faucet.add_argument("amount")
    part = with_dir(lsub.add_parser("partition", help="cut the links between two groups"))
    part.add_argument("groups", nargs=2, metavar="GROUP", help="node numbers or names, e.g. 1,2")
    with_dir(lsub.add_parser("heal", help="undo every partition"))
    clock = with_dir(lsub.add_parser("time", help="move every regtest node's clock"))
    clock.add_argument("offset", metavar="+SECONDS")
    for name, what in (("rpc", "obol rpc"), ("wallet", "obol wallet")):
        through = with_dir(lsub.add_parser(name, help=f"{what} against node N of the localnet"))
        through.add_argument("node", metavar="N", help="node number or name")
        through.add_argument("args", nargs=argparse.REMAINDER, help=f"what {what} takes")


def run(args: argparse.Namespace) -> int:
    commands: dict[str, Callable[[argparse.Namespace], int]] = {
        "up": cmd_up,
        "status": cmd_status,
        "down": cmd_down,
        "faucet": cmd_faucet,
        "partition": cmd_partition,
        "heal": cmd_heal,
        "time": cmd_time,
    }
    args.dir = find_dir(args.dir, args.localnet_command == "up")
    return commands[args.localnet_command](args)


def find_dir(given: Path | None, starting: bool) -> Path:
    """The localnet folder: --dir, else $OBOL_LOCALNET, else (to reach a running network
    from any folder of the clone) the nearest ``localnet/localnet.json`` upwards."""
    if given is not None:
        return given
    if os.environ.get("OBOL_LOCALNET"):
        return Path(os.environ["OBOL_LOCALNET"])
    here = Path.cwd()
    if starting:
        return here / "localnet"
    for folder in (here, *here.parents):
        if (folder / "localnet" / STATE_FILE).is_file():
            return folder / "localnet"
    raise CliError(
        f"no running localnet found: looked for localnet/{STATE_FILE} in {here} and every "
        "folder above it (start one with: obol localnet up, or give --dir or $OBOL_LOCALNET)"
    )


# --- talking to the nodes -----------------------------------------------------------


def call(node: LocalNode, network: str, method: str, *params: Any, wallet: str = "") -> Any:
    user, password = read_cookie(Path(node.datadir) / network / ".cookie")
    url = node.rpc_url + (f"wallet/{wallet}" if wallet else "")
    return rpc_call(url, user, password, method, list(params))


def alive(pid: int) -> bool:
    """Whether ``pid`` still runs. A node that exited but is not yet reaped by the ``up``
    that started it is a zombie, which ``os.kill(pid, 0)`` still finds: /proc tells.

    /proc's state is the main thread's, which shows "Z" as soon as that thread is gone,
    while the process lives on until its last thread exits (one busy in a write or
    scheduled late at low priority, as LevelDB's compaction thread): it runs as long
    as /proc lists any other thread of it."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return True  # no /proc (macOS): the signal test is all there is
    if stat.rsplit(")", 1)[1].split()[0] not in ("Z", "X"):
        return True
    try:
        threads = os.listdir(f"/proc/{pid}/task")
    except OSError:
        return False  # reaped meanwhile
    return any(tid != str(pid) for tid in threads)


def runs_node(node: LocalNode) -> bool:
    """Whether ``node.pid`` is still that node, not a process that reused its pid."""
    if not alive(node.pid):
        return False
    try:
        cmdline = Path(f"/proc/{node.pid}/cmdline").read_bytes()
    except OSError:
        return True
    return node.datadir.encode() in cmdline


def log_tail(node: LocalNode, lines: int = 15) -> str:
    try:
        text = (Path(node.datadir) / "node.log").read_text(errors="replace")
    except OSError:
        return "(no node.log)"
    return "\n".join(text.splitlines()[-lines:])


def node_ports(datadir: Path) -> tuple[int, int]:
    """The RPC and P2P ports this datadir had last time, while they are free: a restarted
    localnet keeps its URLs, so bookmarks and scripts still reach the same node."""
    path = datadir / "ports.json"
    old = {"rpc": 0, "p2p": 0}
    with contextlib.suppress(OSError, ValueError, TypeError):
        old.update({k: int(v) for k, v in json.loads(path.read_text()).items()})
    rpc = free_port(old["rpc"])
    p2p = free_port(old["p2p"])
    if p2p == rpc:
        p2p = free_port()
    path.write_text(json.dumps({"rpc": rpc, "p2p": p2p}))
    return rpc, p2p


def wait_for(
    predicate: Callable[[], bool],
    timeout: float,
    what: str,
    check: Callable[[], None] = lambda: None,
) -> None:
    """Poll ``predicate``; ``check`` raises at once when waiting longer is pointless."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        check()
        with contextlib.suppress(CliError, OSError, ValueError):
            if predicate():
                return
        time.sleep(0.1)
    raise CliError(f"timed out waiting for {what}")


# --- up / down -------------------------------------------------------------------------


def _start_node(
    index: int, directory: Path, network: str, peers: list[LocalNode], extra: list[str]
) -> tuple[LocalNode, NodeProcess]:
    datadir = (directory / f"node{index}").resolve()
    datadir.mkdir(parents=True, exist_ok=True)
    rpc_port, p2p_port = node_ports(datadir)
    connect = [arg for peer in peers for arg in ("--connect", peer.p2p_address)]
    # A session of its own: Ctrl-C in this terminal reaches us, and we stop the nodes in
    # order instead of every process getting SIGINT at once.
    proc = NodeProcess(
        datadir,
        network,
        [*connect, *extra],
        rpc_port=rpc_port,
        p2p_port=p2p_port,
        log_name="node.log",
        new_session=True,
    )
    proc.start(wait=False)
    return LocalNode(f"node{index}", str(datadir), rpc_port, p2p_port, proc.pid), proc


def _stop_nodes(state: LocalnetState) -> None:
    for node in state.nodes:
        if alive(node.pid):
            with contextlib.suppress(CliError, OSError, ValueError):
                call(node, state.network, "stop")
    deadline = time.monotonic() + STOP_TIMEOUT
    for node in state.nodes:
        while alive(node.pid) and time.monotonic() < deadline:
            _reap(node.pid)
            time.sleep(0.1)
        for sig in (signal.SIGTERM, signal.SIGKILL):
            if not alive(node.pid):
                break
            print(f"{node.name} did not stop in time: sending {sig.name}", file=sys.stderr)
            with contextlib.suppress(ProcessLookupError):
                os.kill(node.pid, sig)
            end = time.monotonic() + 5
            while alive(node.pid) and time.monotonic() < end:
                _reap(node.pid)
                time.sleep(0.1)
        _reap(node.pid)


def _reap(pid: int) -> None:
    """Collect a child of ours that exited, so it does not linger as a zombie (a node
    started by another ``obol localnet`` is not our child: then there is nothing to do)."""
    with contextlib.suppress(ChildProcessError, OSError):
        os.waitpid(pid, os.WNOHANG)


def _refuse_if_running(directory: Path) -> None:
    """A second ``up`` must not start nodes on the same datadirs (they would fail on the
    database lock) nor touch the running network's state file."""
    try:
        old = LocalnetState.load(directory)
    except CliError:
        return
    running = [n for n in old.nodes if runs_node(n)]
    if running:
        names = ", ".join(f"{n.name} (pid {n.pid}, {n.rpc_url})" for n in running)
        raise CliError(
            f"a {old.network} localnet is already running in {directory.resolve()}: {names}; "
            "stop it first with: obol localnet down"
        )


def _check_started(procs: dict[str, tuple[LocalNode, NodeProcess]]) -> None:
    for node, proc in procs.values():
        code = proc.process.poll() if proc.process is not None else None
        if code is not None:
            raise CliError(
                f"{node.name} exited with code {code} while starting; "
                f"the end of {node.datadir}/node.log:\n{log_tail(node)}"
            )


def _start_all(args: argparse.Namespace, directory: Path, nodes: list[LocalNode]) -> None:
    """Start the nodes, appending each to ``nodes`` at once so a failure stops them all."""
    network = args.network
    procs: dict[str, tuple[LocalNode, NodeProcess]] = {}
    for i in range(1, args.nodes + 1):
        extra = []
        if i == 1 and network == "regtest":
            extra = ["--auto-mine", str(args.block_interval)]
        node, proc = _start_node(i, directory, network, list(nodes), extra)
        procs[node.name] = (node, proc)
        nodes.append(node)
        LocalnetState(network, tuple(nodes)).save(directory)

    def check() -> None:
        _check_started(procs)

    for node in nodes:
        wait_for(
            lambda n=node: call(n, network, "getblockcount") >= 0,  # type: ignore[misc]  # n=node: mypy#15459
            START_TIMEOUT,
            f"{node.name} to start (see {node.datadir}/node.log)",
            check,
        )
    if network == "regtest":
        # Mature coins at once, so the faucet works from the first minute.
        call(nodes[0], network, "generate", MATURE_BLOCKS)
    else:
        call(nodes[0], network, "setgenerate", True, 1)
    if len(nodes) > 1:
        for node in nodes:
            wait_for(
                lambda n=node: call(n, network, "getconnectioncount") >= 1,  # type: ignore[misc]  # n=node: mypy#15459
                START_TIMEOUT,
                f"{node.name} to connect",
                check,
            )


def _ours(directory: Path, state: LocalnetState) -> bool:
    try:
        return LocalnetState.load(directory).nodes == state.nodes
    except CliError:
        return False


def cmd_up(args: argparse.Namespace) -> int:
    if not 1 <= args.nodes <= 16:
        raise CliError("--nodes takes 1 to 16")
    if args.block_interval <= 0:
        raise CliError("--block-interval takes a number of seconds above 0")
    directory: Path = args.dir
    directory.mkdir(parents=True, exist_ok=True)
    _refuse_if_running(directory)
    stop_requested = False

    def request_stop(signum: int, frame: object) -> None:
        nonlocal stop_requested
        stop_requested = True

    signal.signal(signal.SIGINT, request_stop)
    signal.signal(signal.SIGTERM, request_stop)
    nodes: list[LocalNode] = []
    try:
        _start_all(args, directory, nodes)
        state = LocalnetState(args.network, tuple(nodes))
        print(
            f"localnet up: {len(state.nodes)} {state.network} nodes in {directory.resolve()}",
            flush=True,
        )
        for node in state.nodes:
            print(f"  {node.name}: dashboard and RPC at {node.rpc_url}", flush=True)
        # `obol localnet down` from another terminal removes the state file: then we are done.
        _show_live(state, lambda: stop_requested or not _ours(directory, state))
    finally:
        print("\nstopping the localnet...", flush=True)
        state = LocalnetState(args.network, tuple(nodes))
        _stop_nodes(state)
        if _ours(directory, state):
            (directory / STATE_FILE).unlink()
        print("localnet down", flush=True)
    return 0


def cmd_down(args: argparse.Namespace) -> int:
    state = LocalnetState.load(args.dir)
    _stop_nodes(state)
    with contextlib.suppress(FileNotFoundError):
        (args.dir / STATE_FILE).unlink()
    print(f"stopped {len(state.nodes)} nodes")
    return 0


# --- status ---------------------------------------------------------------------------


def node_status(node: LocalNode, network: str) -> dict[str, Any]:
    row: dict[str, Any] = {
        "name": node.name,
        "pid": node.pid,
        "rpc_url": node.rpc_url,
        "p2p": node.p2p_address,
        "datadir": node.datadir,
        "running": False,
        "height": None,
        "tip": None,
        "peers": None,
        "mempool": None,
        "balance": None,
        "hashrate": None,
    }
    if not alive(node.pid):
        return row
    try:
        info = call(node, network, "getblockchaininfo")
        live = {
            "height": info["blocks"],
            "tip": info["bestblockhash"],
            "peers": call(node, network, "getconnectioncount"),
            "mempool": call(node, network, "getmempoolinfo")["size"],
            "hashrate": float(call(node, network, "getmininginfo")["localhashps"]),
        }
    except (CliError, OSError, ValueError, KeyError):
        return row  # stopping half way through these calls: shown as down, not half filled
    row.update(live, running=True)
    with contextlib.suppress(CliError, OSError, ValueError):
        row["balance"] = f"{Decimal(call(node, network, 'getbalance', wallet='default')):.8f}"
    return row


def _table(rows: list[dict[str, Any]]) -> str:
    head = f"{'node':<7} {'height':>7} {'tip':<18} {'peers':>5} {'mempool':>7} "
    head += f"{'balance (OBOL)':>16} {'hash/s':>10}  rpc"
    lines = [head]
    for r in rows:
        if not r["running"]:
            lines.append(f"{r['name']:<7} {'down':>7}")
            continue
        tip = r["tip"][:16] + ".." if r["tip"] else "-"
        rate = f"{r['hashrate']:.0f}" if r["hashrate"] else "-"
        lines.append(
            f"{r['name']:<7} {r['height']:>7} {tip:<18} {r['peers']:>5} {r['mempool']:>7} "
            f"{r['balance'] or '-':>16} {rate:>10}  {r['rpc_url']}"
        )
    return "\n".join(lines)


def _show_live(state: LocalnetState, stopped: Callable[[], bool]) -> None:
    tty = sys.stdout.isatty()
    while not stopped():
        rows = [node_status(n, state.network) for n in state.nodes]
        if tty:
            print("\x1b[H\x1b[2J", end="")
        print(time.strftime("%H:%M:%S"), "  Ctrl-C stops every node", flush=True)
        print(_table(rows), flush=True)
        for _ in range(10):
            if stopped():
                return
            time.sleep(0.1)


def cmd_status(args: argparse.Namespace) -> int:
    state = LocalnetState.load(args.dir)
    rows = [node_status(n, state.network) for n in state.nodes]
    if args.json:
        print(json.dumps(rows, indent=2))
    else:
        print(_table(rows))
    return 0


# --- faucet, partitions, time ---------------------------------------------------------


def cmd_faucet(args: argparse.Namespace) -> int:
    state = LocalnetState.load(args.dir)
    try:
        amount = Decimal(args.amount)
    except ArithmeticError as exc:
        raise CliError(f"not an amount: {args.amount}") from exc
    first = state.nodes[0]
    txid = call(first, state.network, "sendtoaddress", args.address, amount, wallet="default")
    print(f"sent {amount:.8f} OBOL to {args.address}")
    print(f"txid {txid}")
    if state.network == "regtest":
        (block,) = call(first, state.network, "generate", 1)
        height = call(first, state.network, "getblockheader", block)["height"]
        print(f"mined in block {height} {block}")
    else:
        print("node1 mines it in its next block")
    return 0


def _group(text: str, state: LocalnetState) -> list[LocalNode]:
    by_name = {n.name: n for n in state.nodes}
    chosen = []
    for item in text.split(","):
        item = item.strip()
        name = f"node{item}" if item.isdigit() else item
        if name not in by_name:
            raise CliError(f"no node {item!r} (nodes: {', '.join(by_name)})")
        chosen.append(by_name[name])
    return chosen


def _node_ids(state: LocalnetState, nodes: list[LocalNode]) -> dict[str, str]:
    return {n.name: call(n, state.network, "getnetworkinfo")["node_id"] for n in nodes}


def cmd_partition(args: argparse.Namespace) -> int:
    """Each side bans the other's node ids: links drop and do not come back until heal."""
    state = LocalnetState.load(args.dir)
    left, right = (_group(g, state) for g in args.groups)
    if {n.name for n in left} & {n.name for n in right}:
        raise CliError("a node cannot be on both sides of a partition")
    ids = _node_ids(state, left + right)
    for a, b in ((x, y) for x in left for y in right):
        for here, there in ((a, b), (b, a)):
            with contextlib.suppress(RpcCallError):  # already banned: already cut
                call(here, state.network, "setban", f"node:{ids[there.name]}", "add")
    print(f"partitioned {','.join(n.name for n in left)} | {','.join(n.name for n in right)}")
    return 0


def cmd_heal(args: argparse.Namespace) -> int:
    state = LocalnetState.load(args.dir)
    for node in state.nodes:
        call(node, state.network, "clearbanned")
    for node in state.nodes:
        for other in state.nodes:
            if other is not node:
                with contextlib.suppress(RpcCallError):
                    call(node, state.network, "addnode", other.p2p_address, "onetry")
    print("healed: every node may connect to every other again")
    return 0


def cmd_time(args: argparse.Namespace) -> int:
    state = LocalnetState.load(args.dir)
    if state.network != "regtest":
        raise CliError("only regtest clocks can be moved")
    try:
        offset = int(args.offset)
    except ValueError as exc:
        raise CliError(f"expected +SECONDS, got {args.offset!r}") from exc
    now = max(state.mocktime, int(time.time()))
    mocktime = now + offset
    for node in state.nodes:
        call(node, state.network, "setmocktime", mocktime)
    LocalnetState(state.network, state.nodes, mocktime).save(args.dir)
    print(
        f"every node's clock is now {mocktime} ({time.strftime('%c', time.gmtime(mocktime))} UTC)"
    )
    return 0


def through_argv(args: argparse.Namespace) -> list[str] | None:
    """For ``localnet rpc|wallet N ...``: the ``obol rpc`` / ``obol wallet`` command line
    with node N's network, datadir and port filled in; None for any other command."""
    if args.command != "localnet" or args.localnet_command not in ("rpc", "wallet"):
        return None
    state = LocalnetState.load(find_dir(args.dir, False))
    (node,) = _group(args.node, state)
    where = [
        "--network",
        state.network,
        "--datadir",
        node.datadir,
        "--rpc-port",
        str(node.rpc_port),
    ]
    return [args.localnet_command, *where, *args.args]

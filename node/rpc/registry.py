"""RPC method registry: maps JSON-RPC params onto ordinary Python callables.

A method is a plain (async or sync) function whose parameters are its RPC arguments, in order,
so that positional params (``[a, b]``) and named params (``{"b": 2, "a": 1}``) both work as in
Bitcoin Core. Two parameters are not RPC arguments: a positional-only first one receives what
the node offers its methods (``NodeServices``, given when the method is registered), and one
called ``request`` receives the ``RpcRequest`` (wallet name from ``/wallet/<name>``, user,
peer). Each module of methods lists its functions in a ``MethodTable``, as btcd's table of
``handleX`` functions. The docstring is the help text;
if its first line starts with the method name it is taken as the usage line, as in Core's
``getblock "blockhash" ( verbosity )``, otherwise the usage line is derived from the signature.

Errors follow Core: unknown method -32601, unknown named parameter -8, wrong number of
arguments -1 with the method's help text as the message. A JSON ``null`` for an optional
argument means "use the default", as Core treats a null optional argument as omitted. A
``WalletError`` raised by a method is answered with the code its class maps to.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any, TypeVar

from wallet.errors import WalletError

from .errors import (
    RPC_INVALID_PARAMETER,
    RPC_METHOD_NOT_FOUND,
    RPC_MISC_ERROR,
    RpcError,
    from_wallet_error,
)

__all__ = ["MethodTable", "RpcMethod", "RpcRegistry", "RpcRequest"]

F = TypeVar("F", bound=Callable[..., Any])

REQUEST_PARAM = "request"
HIDDEN_CATEGORY = "hidden"  # registered and callable, but not listed by help(), as in Core
_MISSING = object()
_NO_CONTEXT = object()


@dataclass(frozen=True, slots=True)
class RpcRequest:
    """Per-call context for methods that declare a ``request`` parameter."""

    wallet_name: str | None = None  # URL-decoded name from /wallet/<name>; None for "/"
    auth_user: str = ""


@dataclass(frozen=True, slots=True)
class RpcMethod:
    """One registered method with everything needed to bind params and print help."""

    name: str
    category: str
    func: Callable[..., Any]
    params: tuple[inspect.Parameter, ...]
    wants_request: bool
    usage: str
    doc: str

    @property
    def help(self) -> str:
        return f"{self.usage}\n\n{self.doc}" if self.doc else self.usage

    def bind(self, params: list[Any] | tuple[Any, ...] | dict[str, Any] | None) -> dict[str, Any]:
        """Keyword arguments for ``func`` from JSON params, or RpcError like Core's."""
        if params is None:
            params = []
        if isinstance(params, dict):
            known = {p.name for p in self.params}
            for key in params:
                if key not in known:
                    raise RpcError(RPC_INVALID_PARAMETER, f"Unknown named parameter {key}")
            given = params
        else:
            if len(params) > len(self.params):
                raise RpcError(RPC_MISC_ERROR, self.help)
            given = {p.name: value for p, value in zip(self.params, params, strict=False)}
        kwargs: dict[str, Any] = {}
        for p in self.params:
            value = given.get(p.name, _MISSING)
            optional = p.default is not inspect.Parameter.empty
            if value is _MISSING or (value is None and optional):
                if not optional:
                    raise RpcError(RPC_MISC_ERROR, self.help)
                continue
            kwargs[p.name] = value
        return kwargs


class RpcRegistry:
    """Name -> method table with Core-style help; ``help`` itself is registered by default."""

    def __init__(self, *, builtin_help: bool = True) -> None:
        self._methods: dict[str, RpcMethod] = {}
        if builtin_help:
            self.add(self._help, "help", category="control")

    def method(self, name: str | None = None, *, category: str) -> Callable[[F], F]:
        """Decorator form of ``add``; returns the function unchanged."""

        def decorator(func: F) -> F:
            self.add(func, name, category=category)
            return func

        return decorator

    def add(
        self,
        func: Callable[..., Any],
        name: str | None = None,
        *,
        category: str,
        context: object = _NO_CONTEXT,
    ) -> RpcMethod:
        """Register ``func`` (a function or bound method) under ``name`` (default: its name);
        ``context`` goes to its positional-only first parameter, which it must have then."""
        name = name or func.__name__
        if name in self._methods:
            raise ValueError(f"RPC method {name!r} registered twice")
        params: list[inspect.Parameter] = []
        wants_request = False
        signature = list(inspect.signature(func).parameters.values())
        if context is not _NO_CONTEXT:
            if not signature or signature[0].kind is not inspect.Parameter.POSITIONAL_ONLY:
                raise TypeError(f"RPC method {name}: the services come as a positional-only first")
            signature = signature[1:]
        for p in signature:
            if p.name == REQUEST_PARAM:
                wants_request = True
            elif p.kind is inspect.Parameter.POSITIONAL_OR_KEYWORD:
                params.append(p)
            else:  # every RPC argument must be reachable both by position and by name
                raise TypeError(f"RPC method {name}: parameter {p.name} must be a plain one")
        usage, doc = _split_doc(name, inspect.getdoc(func) or "")
        method = RpcMethod(
            name=name,
            category=category,
            func=func if context is _NO_CONTEXT else functools.partial(func, context),
            params=tuple(params),
            wants_request=wants_request,
            usage=usage or _usage(name, params),
            doc=doc,
        )
        self._methods[name] = method
        return method

    def get(self, name: str) -> RpcMethod | None:
        return self._methods.get(name)

    def __contains__(self, name: object) -> bool:
        return name in self._methods

    def __iter__(self) -> Iterator[RpcMethod]:
        return iter(self._methods.values())

    def __len__(self) -> int:
        return len(self._methods)

    async def call(
        self,
        name: str,
        params: list[Any] | tuple[Any, ...] | dict[str, Any] | None = None,
        request: RpcRequest | None = None,
    ) -> Any:
        """Run one method. Sync methods run inline on the event loop, so they must be quick."""
        method = self._methods.get(name)
        if method is None:
            raise RpcError(RPC_METHOD_NOT_FOUND, "Method not found")
        kwargs = method.bind(params)
        if method.wants_request:
            kwargs[REQUEST_PARAM] = request if request is not None else RpcRequest()
        try:
            result = method.func(**kwargs)
            if inspect.isawaitable(result):
                result = await result
        except WalletError as exc:
            raise from_wallet_error(exc) from exc
        return result

    def help_text(self, command: str | None = None) -> str:
        """Core's help: one usage line per method under "== Category ==", or one method's text."""
        if command:
            method = self._methods.get(command)
            return method.help if method is not None else f"help: unknown command: {command}"
        by_category: dict[str, list[RpcMethod]] = {}
        for method in self._methods.values():
            if method.category != HIDDEN_CATEGORY:
                by_category.setdefault(method.category, []).append(method)
        sections = []
        for category in sorted(by_category):
            title = f"== {category[:1].upper()}{category[1:]} =="
            usages = [m.usage for m in sorted(by_category[category], key=lambda m: m.name)]
            sections.append("\n".join([title, *usages]))
        return "\n\n".join(sections)

    def _help(self, command: str | None = None) -> str:
        """help ( "command" )

        List all commands, or get help for a specified command.

        Arguments:
        1. command    (string, optional, default=all commands) The command to get help on
        """
        return self.help_text(command)


class MethodTable:
    """One module's RPC methods: top-level functions whose positional-only first parameter
    is what the node offers them. ``install`` registers them all with those services."""

    def __init__(self) -> None:
        self._entries: list[tuple[Callable[..., Any], str | None, str]] = []

    def method(self, name: str | None = None, *, category: str) -> Callable[[F], F]:
        """Decorator: list the function under ``name`` (default: its name); unchanged."""

        def decorator(func: F) -> F:
            self._entries.append((func, name, category))
            return func

        return decorator

    def install(self, registry: RpcRegistry, services: object) -> None:
        for func, name, category in self._entries:
            registry.add(func, name, category=category, context=services)


def _split_doc(name: str, doc: str) -> tuple[str, str]:
    """(usage, body): the first docstring line is the usage line if it names the method."""
    first, _, rest = doc.partition("\n")
    if first == name or first.startswith(name + " "):
        return first, rest.strip("\n")
    return "", doc


def _usage(name: str, params: list[inspect.Parameter]) -> str:
    """``name "text" number ( "optional" )``: strings quoted, optional arguments in brackets."""

    def token(p: inspect.Parameter) -> str:
        annotation = p.annotation
        text = "str" if annotation is str else str(annotation)  # also "str | None" and its text
        return f'"{p.name}"' if text.split("|")[0].strip() == "str" else p.name

    required = [token(p) for p in params if p.default is inspect.Parameter.empty]
    optional = [token(p) for p in params if p.default is not inspect.Parameter.empty]
    parts = [name, *required]
    if optional:
        parts.append(f"( {' '.join(optional)} )")
    return " ".join(parts)

"""Wallet RPCs for contracts: policy addresses a wallet holds a key in.

``addmultisigaddress`` (Bitcoin Core's name, parameters and result, with "policy" where
Core has "redeemScript") and ``addpolicyaddress`` make the wallet watch a policy address:
its coins show in balances (``getbalances``' "contract"), ``listunspent`` and history,
and are never picked by a plain payment. A policy none of whose keys is the wallet's is
refused (-5): the wallet could never sign for it.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from consensus.address import AddressError, decode_address, encode_address
from consensus.errors import RuleError
from consensus.policy import Key, Policy, encode_policy
from consensus.policy_text import PolicySyntaxError, format_policy, parse_policy

from ..errors import RPC_INVALID_PARAMETER, RpcError
from ..params import as_int, as_list, as_str
from ..registry import RpcRegistry, RpcRequest
from .policies import multisig_policy, parse_key
from .wallet import wallet_errors

if TYPE_CHECKING:
    from ...node import Node
    from ...wallets import LoadedWallet


def register(reg: RpcRegistry, node: Node) -> None:
    params = node.params
    manager = node.wallets

    def method(func: Callable[..., Any]) -> Callable[..., Any]:
        reg.add(wallet_errors(func), func.__name__, category="wallet")
        return func

    def resolve(request: RpcRequest) -> LoadedWallet:
        return manager.resolve(request.wallet_name)

    def wallet_key(lw: LoadedWallet, value: Any) -> Key:
        """A public key, or (as Core takes it) an address of one of this wallet's keys."""
        try:
            lock = decode_address(as_str(value), params)
        except AddressError:
            return parse_key(value)
        key = lw.wallet.key_for(lock)
        if key is None:
            raise RpcError(RPC_INVALID_PARAMETER, f"{value} is not a key address of this wallet")
        return Key(key.key_type, key.pubkey)

    def watch(lw: LoadedWallet, policy: Policy, label: Any) -> dict[str, Any]:
        try:
            data = encode_policy(policy)
        except RuleError as exc:
            raise RpcError(RPC_INVALID_PARAMETER, f"Policy is too big: {exc}") from exc
        lock = manager.add_policy(lw, data, as_str(label))
        return {
            "address": encode_address(lock, params),
            "policy": data.hex(),
            "descriptor": format_policy(policy),
        }

    @method
    def addmultisigaddress(
        request: RpcRequest,
        nrequired: Any,
        keys: Any,
        label: Any = "",
        address_type: Any = None,
    ) -> dict[str, Any]:
        """addmultisigaddress nrequired ["key",...] ( "label" "address_type" )

        Watch the nrequired-of-n policy of these keys (hex or typed public keys, or
        addresses of this wallet's keys), one of which must be this wallet's: its
        address, encoding ("policy", Core's "redeemScript") and text ("descriptor")."""
        lw = resolve(request)
        required = as_int(nrequired, "nrequired")
        pubkeys = [wallet_key(lw, k) for k in as_list(keys)]
        if address_type is not None and as_str(address_type) != "bech32m":
            raise RpcError(RPC_INVALID_PARAMETER, "obol policy addresses are bech32m")
        return watch(lw, multisig_policy(required, pubkeys), label)

    @method
    def addpolicyaddress(request: RpcRequest, policy: Any, label: Any = "") -> dict[str, Any]:
        """addpolicyaddress "policy-text" ( "label" )

        Watch the address of a policy in its text form (pk(KEY), thresh(k,...),
        and(...), or(...), after(N), sha256(H)) that holds a key of this wallet:
        its address, encoding and text."""
        lw = resolve(request)
        try:
            parsed = parse_policy(as_str(policy))
        except PolicySyntaxError as exc:
            raise RpcError(RPC_INVALID_PARAMETER, f"Policy parse failed: {exc}") from exc
        return watch(lw, parsed, label)

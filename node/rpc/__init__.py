"""JSON-RPC protocol layer: Bitcoin Core's wire semantics, independent of what the methods do.

``registry`` maps JSON params onto Python callables, ``server`` speaks HTTP and JSON-RPC 1.x/2.0,
``auth`` does cookie and user/password Basic auth, ``jsonfmt`` writes JSON with exact amounts,
and ``errors`` holds Bitcoin Core's error codes (src/rpc/protocol.h).
"""

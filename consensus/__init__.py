"""obol's consensus rules: pure functions and immutable data, no I/O, no clock.

Chain parameters, the current time and the coin view are always arguments. The rules, in
the order they are checked:

Decoding (``encoding``): size limit before unpacking; MessagePack arrays of exact arity,
bin for bytes, unsigned ints; re-encoding must reproduce the input byte for byte.

Transaction, context-free (``validation.check_tx``): at least one input and one output;
not larger than a block; every output and their sum within MAX_MONEY; no input spent twice;
a coinbase has a 4-byte height as pubkey and at most 100 free bytes; no other tx spends the
null outpoint.

Header (``validation.check_header``, ``contextual_check_header``): version >= 1; valid
bits at or below the network's limit; hash <= target; bits equal the expected next bits
(``pow.next_bits``: the limit on regtest, aserti3-2d on devnet); time above the median of
the last 11 blocks and below the node's time + 2 hours.

Block, context-free (``validation.check_block``): header checks; at least one tx; merkle
root (RFC 6962 over wtxids); size limit; first tx and only the first is a coinbase; every
tx passes check_tx; no duplicate txids.

Block, contextual (``validation.connect_block``): the coinbase commits to the height; each
tx is final (locktime as height, or as time against median time past); inputs exist and
are unspent in the view as updated by earlier txs of the block; coinbase outputs mature
after 100 blocks; input values within MAX_MONEY; inputs cover outputs; each input's key has
the lock's key type and hashes to the lock, or, for a policy lock (kind 0x03), the input's
policy hashes to the lock and its satisfaction meets the policy (``policy``: limits,
exactly k used children per used threshold, time locks, hash preimages); a 65-byte
signature ends in 0x81 (ALL|ANYONECANPAY, ``sighash.sighash_acp``); the block's signature
checks (one per key input, one per used policy key) stay within the limit; the coinbase
pays at most subsidy + fees; then every signature verifies (``signatures.REGISTRY``).
The protocol in full, with its test vectors: docs/PROTOCOL.md.
"""

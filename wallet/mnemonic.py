"""BIP39 recovery phrases (English word list) for wallet backup and restore.

New wallets get 24 words (256 bits of entropy, the strongest BIP39 allows). Restore accepts
every BIP39 length (12, 15, 18, 21 or 24 words) so phrases made by other wallets still work.
The seed is BIP39's PBKDF2 stretch of the phrase and an optional passphrase; it feeds
``wallet.hd.master_key``.

Error messages name a word by its position, never by its text: a mistyped word is usually
one letter away from a real secret word, and messages end up in logs and RPC replies.
"""

from __future__ import annotations

import os
import unicodedata

from mnemonic import Mnemonic

from wallet.errors import InvalidMnemonic

WORD_COUNTS = (12, 15, 18, 21, 24)
NEW_WALLET_ENTROPY_BYTES = 32  # 24 words

_ENGLISH = Mnemonic("english")
_WORD_SET = frozenset(_ENGLISH.wordlist)


def entropy_to_mnemonic(entropy: bytes) -> str:
    """The BIP39 phrase for ``entropy`` (16, 20, 24, 28 or 32 bytes)."""
    if len(entropy) not in (16, 20, 24, 28, 32):
        raise ValueError("BIP39 entropy is 16, 20, 24, 28 or 32 bytes")
    return _ENGLISH.to_mnemonic(entropy)


def generate_mnemonic() -> str:
    """A fresh 24-word phrase from the operating system's CSPRNG."""
    return entropy_to_mnemonic(os.urandom(NEW_WALLET_ENTROPY_BYTES))


def validate_mnemonic(words: str) -> str:
    """Return the canonical form of a phrase (lower case, single spaces) or raise
    ``InvalidMnemonic`` saying what is wrong: word count, an unknown word, or the checksum.

    Users paste phrases with newlines, double spaces and capitals; none of that changes which
    words they mean, so it is normalized away before checking.
    """
    if not isinstance(words, str):
        raise InvalidMnemonic("the recovery phrase must be text")
    tokens = unicodedata.normalize("NFKD", words).lower().split()
    if len(tokens) not in WORD_COUNTS:
        raise InvalidMnemonic(
            f"a recovery phrase has 24 words (or 12, 15, 18 or 21), this one has {len(tokens)}"
        )
    unknown = [str(i) for i, word in enumerate(tokens, start=1) if word not in _WORD_SET]
    if unknown:
        which = f"word {unknown[0]}" if len(unknown) == 1 else f"words {', '.join(unknown)}"
        verb = "is" if len(unknown) == 1 else "are"
        raise InvalidMnemonic(
            f"{which} of the recovery phrase {verb} not in the BIP39 English word list"
        )
    phrase = " ".join(tokens)
    if not _ENGLISH.check(phrase):
        raise InvalidMnemonic(
            "the recovery phrase checksum does not match: a word is wrong or out of order"
        )
    return phrase


def mnemonic_to_seed(words: str, passphrase: str = "") -> bytes:
    """The 64-byte BIP39 seed of a phrase, validated first so a typo cannot silently
    restore an empty wallet. ``passphrase`` is BIP39's optional "25th word"."""
    return Mnemonic.to_seed(validate_mnemonic(words), passphrase)

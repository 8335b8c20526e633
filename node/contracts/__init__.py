"""The wallet flows of the contracts (escrow, lending): each step one call that says what
happened and what the next party has to do. The contracts' pure parts (policies, contract
strings) are in ``wallet.contracts``."""

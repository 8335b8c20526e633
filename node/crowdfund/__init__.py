"""Crowdfunding: all-or-nothing campaigns (assurance contracts, as Lighthouse built them).

A campaign is a goal output (an amount to a payee) and a deadline height. A pledge is a
one-input tx paying exactly that output, its input signed ALL|ANYONECANPAY: the backer's
coin stays the backer's until the creator adds enough other pledges' inputs to make the
tx valid, and a backer revokes by spending the coin. ``checks`` holds the pure rules
(a pledge's validity, the claim's subset and fee), ``store`` the campaign file,
``campaigns`` the creator's service, ``backer`` the wallet's side.
"""

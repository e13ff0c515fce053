"""Promotion: releases moving through environments under a policy, recorded in a signed, hash-chained ledger."""

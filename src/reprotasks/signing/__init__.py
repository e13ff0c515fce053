"""Sigstore: every sigstore import, signer policies, signing and verifying bundles."""

"""The release format and what produces it.

dist/ layout, manifest, archives, SHA256SUMS, SBOM, provenance, builds, assemble, reproduce,
the staged release.
"""

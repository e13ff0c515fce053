"""OCI images of the built release: deterministic layouts, base images by digest, publishing."""

"""The artifacts made after the build from its checked outputs, and how each kind is re-made.

Steps pass this to the artifacts package (``trusted_manifest``), which sits below the image and
package code and so cannot import them.
"""

from __future__ import annotations

from reprotasks.artifacts.trusted import Derivations


def derivations() -> Derivations:
    from reprotasks.image.build import IMAGE_KIND, derive_images
    from reprotasks.packages.build import PACKAGE_KIND, derive_packages

    return {IMAGE_KIND: derive_images, PACKAGE_KIND: derive_packages}

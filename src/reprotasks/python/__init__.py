"""Python: hashed locks and their resolvers, the verified build environment, sdist and wheel builds."""

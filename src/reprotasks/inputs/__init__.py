"""The project's release inputs: writing the locks (lock) and checking every input for drift
(verify, toolchain pins)."""

"""The commands: one module per step, each exporting one ``SPEC`` (``reprotasks.step.StepSpec``).

These modules only declare: a step's options, summary, ``run`` and ``plan``. The work is done
by the domain packages (``python``, ``go``, ``inputs``, ``dist``, ``signing``, ``audit``), imported
when a step runs. Nothing here imports nox or invoke; the adapters are generated from the specs.
"""

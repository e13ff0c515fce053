"""The step contract: what a step declares (``StepSpec``) and what it is given (``Context``).

A step is one module under ``reprotasks.steps`` exporting one ``SPEC``. Its options are a frozen
dataclass whose fields are declared with ``param()``: the CLI flags, the nox posargs, the invoke
task signature, ``--help`` texts and the config keys an option overrides are all derived from
those fields, so a step is described in exactly one place. The registry (``reprotasks.registry``)
orders the specs and declares the release pipeline.

This module is imported by every front end before any step runs: it stays free of heavy imports.
"""

from __future__ import annotations

import dataclasses
import enum
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

# The front ends import this module before any step runs, so ``typing`` is imported for the type
# checker only (on the 2-core CI machine it costs ~15 ms of `reprotasks --help`).
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import Any, Generic, Literal, Protocol, TypeVar

    from reprotasks._distdir import DistDir
    from reprotasks._run import Runner
    from reprotasks.config import Config, SignConfig
    from reprotasks.errors import Finding, ReprotasksError

    ParamKind = Literal["flag", "value", "list", "positional", "positionals"]
    OptionsT = TypeVar("OptionsT")

    class _HasRows(Protocol):  # the shape of every core result (LockResult, BuildResult, ...)
        def rows(self) -> list[tuple[str, str]]: ...

    class _Generic(Generic[OptionsT]):
        pass

else:
    OptionsT = None

    class _Generic:  # StepSpec[...] only appears in annotations, which are never evaluated
        def __class_getitem__(cls, item: object) -> type:
            return cls


_PARAM = "reprotasks.param"


@dataclass(frozen=True, kw_only=True)
class Param:
    """One option of a step, as every front end shows it."""

    dest: str  # the options field (and the argparse dest)
    kind: ParamKind
    help: str
    flags: tuple[str, ...] = ()  # e.g. ("--upgrade-package", "-P"); empty for positionals
    default: Any = None
    metavar: str | None = None
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = ()  # a callable: read when used
    path: bool = False  # values are paths, resolved against the directory the user ran from
    required: bool = False  # positionals: at least one (or exactly one) must be given
    group: str | None = None  # params sharing a group are mutually exclusive
    config: str | None = None  # the dotted [tool.reprotasks] key this option overrides
    config_value: Any = None  # for a flag: the value the key gets when the flag is given
    clears: tuple[str, ...] = ()  # keys unset when this option is given (unless given too)
    invoke: str | None = None  # the invoke flag of a positional list (e.g. "file" for FILE...)

    @property
    def allowed(self) -> tuple[str, ...]:
        return self.choices() if callable(self.choices) else self.choices

    @property
    def long_flag(self) -> str:
        return next((flag for flag in self.flags if flag.startswith("--")), "--" + self.dest.replace("_", "-"))

    @property
    def task_name(self) -> str:
        """The invoke task parameter: the long flag's name, or ``invoke`` for a positional list."""
        if self.kind == "positionals":
            return (self.invoke or self.dest).replace("-", "_")
        if self.kind == "positional":
            return self.dest
        return self.long_flag.removeprefix("--").replace("-", "_")

    def config_override(self, value: Any) -> tuple[str, Any] | None:
        """The (dotted key, value) this option sets, when it was given."""
        if self.config is None or not is_given(value):
            return None
        if self.kind == "flag":
            return self.config, True if self.config_value is None else self.config_value
        if self.path:
            return self.config, str(value)
        return self.config, value


def is_given(value: Any) -> bool:
    """Was an option given? Not for None, an unset flag or an empty list; yes for 0 or ""."""
    return value is not None and value is not False and value != () and value != []


def param(
    *flags: str,
    help: str,
    default: Any = None,
    metavar: str | None = None,
    choices: tuple[str, ...] | Callable[[], tuple[str, ...]] = (),
    path: bool = False,
    required: bool = False,
    group: str | None = None,
    config: str | None = None,
    config_value: Any = None,
    clears: tuple[str, ...] = (),
    invoke: str | None = None,
    secret: bool = False,
) -> Any:
    """Declare an options field. The kind follows from the default: ``False`` a flag, ``()`` a
    repeatable option (a positional list without flags), ``None`` a value (a positional without
    flags)."""
    if default is False:
        kind: ParamKind = "flag"
    elif default == ():
        kind = "list" if flags else "positionals"
    else:
        kind = "value" if flags else "positional"
    declared = Param(
        dest="",  # the field's name, filled in by params_of
        kind=kind,
        help=help,
        flags=flags,
        default=default,
        metavar=metavar,
        choices=choices,
        path=path,
        required=required,
        group=group,
        config=config,
        config_value=config_value,
        clears=clears,
        invoke=invoke,
    )
    return field(default=default, repr=not secret, metadata={_PARAM: declared})


def flag(*flags: str, help: str, **kwargs: Any) -> Any:
    """A switch (store_true); with ``config=``, given means ``config_value`` (default true)."""
    return param(*flags, help=help, default=False, **kwargs)


def many(*flags: str, help: str, **kwargs: Any) -> Any:
    """A repeatable option, or (without flags) a positional list."""
    return param(*flags, help=help, default=(), **kwargs)


_PARAMS: dict[type[Any], tuple[Param, ...]] = {}


def params_of(options_type: type[Any]) -> tuple[Param, ...]:
    """The params of an options dataclass, in declaration order (read once per class)."""
    if options_type in _PARAMS:
        return _PARAMS[options_type]
    found = []
    for item in dataclasses.fields(options_type):
        declared = item.metadata.get(_PARAM)
        if declared is None:
            raise TypeError(f"{options_type.__name__}.{item.name} is not declared with reprotasks.step.param()")
        found.append(dataclasses.replace(declared, dest=item.name))
    _PARAMS[options_type] = tuple(found)
    return _PARAMS[options_type]


@dataclass(frozen=True)
class NoOptions:
    """The options of a step that has none."""


def make_options(options_type: type[OptionsT], values: Mapping[str, Any]) -> OptionsT:
    """Options from parsed values keyed by dest (lists become tuples, paths absolute paths)."""
    given: dict[str, Any] = {}
    for spec in params_of(options_type):
        value = values.get(spec.dest, spec.default)
        if value is None:
            value = spec.default
        if spec.kind in ("list", "positionals"):
            value = tuple(Path(item).resolve() if spec.path else item for item in value or ())
        elif spec.kind == "flag":
            value = bool(value)
        elif spec.path and value is not None:
            value = Path(value).resolve()
        given[spec.dest] = value
    return options_type(**given)


def config_overrides(options: object) -> dict[str, dict[str, Any]]:
    """The ``[tool.reprotasks]`` keys that the given options override, as a nested table."""
    table: dict[str, dict[str, Any]] = {}
    given: set[str] = set()
    cleared: list[str] = []
    for spec in params_of(type(options)):
        override = spec.config_override(getattr(options, spec.dest))
        if override is None:
            continue
        key, value = override
        section, _, name = key.rpartition(".")
        table.setdefault(section, {})[name] = value
        given.add(key)
        cleared += spec.clears
    for key in cleared:
        if key not in given:
            section, _, name = key.rpartition(".")
            table.setdefault(section, {})[name] = None
    return table


class Outcome(enum.Enum):
    OK = "ok"
    FAILED = "failed"
    SKIPPED = "skipped"
    NOT_RUN = "not run"
    PLANNED = "planned"


@dataclass(frozen=True)
class StepResult:
    """What a step returns: summary rows, the findings it reports, and anything for the adapter.

    ``output`` is the step's product on stdout (audit's report); ``report`` is printed by the
    adapter (release's table); ``error``, when set, is raised by the adapter after both are
    printed, so a failing audit still shows what it found.
    """

    table: tuple[tuple[str, str], ...] = ()
    findings: tuple[Finding, ...] = ()
    output: str = ""
    report: Any = None
    error: ReprotasksError | None = None

    def rows(self) -> list[tuple[str, str]]:
        return list(self.table)

    @classmethod
    def of(cls, result: _HasRows) -> StepResult:
        return cls(table=tuple(result.rows()))


@dataclass
class Context:
    """What every step is given. The release pipeline gives its steps its staging directory as
    ``dist``, fills ``signer_policy`` (sign) for verify-signatures, and sets
    ``trust_cache``/``identity_token``."""

    config: Config
    dist: DistDir  # where the step writes release files (release's stage inside `release`)
    runner: Runner
    log: Callable[[str], None]
    trust_cache: bool = True  # release trusts no cache unless --trust-cache
    identity_token: str | None = field(default=None, repr=False)
    signer_policy: SignConfig | None = None
    report: object = None  # what a step has to show even when interrupted (release's table)


class Skip(Exception):
    """Raised by a step's ``run`` or ``plan`` that has nothing to do here (``Skip("no images
    configured")``): the release report shows it as skipped, with the reason."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True, kw_only=True)
class CommandSpec(_Generic[OptionsT]):
    """What every front end shows of a command: its name, summary and options.

    ``writes`` says whether the options make the command write into the project (dist/, locks,
    go.mod): such runs hold the project lock exclusively. ``table`` is false for commands that
    print their own output instead of the summary table (audit, release). ``description`` is the
    longer text of ``--help`` (default: the summary).
    """

    name: str
    summary: str
    options: type[OptionsT]
    writes: Callable[[OptionsT], bool] = lambda _options: False
    table: bool = True
    description: str = ""

    @property
    def params(self) -> tuple[Param, ...]:
        return params_of(self.options)

    def make_options(self, values: Mapping[str, Any]) -> OptionsT:
        return make_options(self.options, values)

    def defaults(self) -> OptionsT:
        return make_options(self.options, {})


@dataclass(frozen=True, kw_only=True)
class StepSpec(CommandSpec[OptionsT]):
    """One step: what it does (``run``) and would do (``plan``, the lines ``release --dry-run``
    prints). Either may raise ``Skip`` when the step has nothing to do."""

    run: Callable[[Context, OptionsT], StepResult]
    plan: Callable[[Context, OptionsT], list[str]]


@dataclass(frozen=True, kw_only=True)
class PipelineSpec(CommandSpec[OptionsT]):
    """A command that runs registered steps in order (``release``): ``steps`` names them (read
    when run, so a step registered later is in). The app layer runs it (``reprotasks._pipeline``)."""

    steps: Callable[[], tuple[str, ...]]
    table: bool = False

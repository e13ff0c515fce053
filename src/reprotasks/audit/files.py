"""Per-file-type readers for the pinning audit: each yields (rule, line, col, snippet)."""

from __future__ import annotations

import ast
import fnmatch
import functools
import json
import posixpath
import re
import shlex
from collections.abc import Callable, Iterator
from typing import Any

from reprotasks.audit.shell import check_script, expand

Hit = tuple[str, int, int, str]  # rule, line (1-based), column (1-based), snippet

_SHA = re.compile(r"^[0-9a-f]{40}$")
_HEREDOC = re.compile(r"<<-?\s*(['\"]?)([A-Za-z_][A-Za-z0-9_]*)\1")
_GO_PATCH = re.compile(r"^go\s+(\d+\.\d+)(\.\d+)?\s*$")


def _script_hits(text: str, first_line: int, first_col: int, variables: dict[str, str] | None = None) -> Iterator[Hit]:
    for issue in check_script(text, variables):
        before = text[: issue.offset]
        line = first_line + before.count("\n")
        col = (issue.offset - before.rfind("\n")) if "\n" in before else first_col + issue.offset
        yield issue.rule, line, col, issue.snippet


# --- Dockerfile / Containerfile -------------------------------------------------------------


Locate = Callable[[int], tuple[int, int]]  # an offset in an instruction's arguments -> (line, col) in the file


def _locator(parts: list[tuple[int, str]], arguments_start: int) -> Locate:
    """Where a character of the joined arguments was written: ``parts`` are (line index, physical
    text) of the instruction's lines, joined with one space after stripping each."""
    segments = []  # (offset in the joined text, 1-based line, 1-based column of its first character)
    offset = 0
    for index, raw in parts:
        segments.append((offset, index + 1, len(raw) - len(raw.lstrip()) + 1))
        offset += len(raw.strip()) + 1

    def locate(at: int) -> tuple[int, int]:
        joined = arguments_start + at
        start, line, col = next(segment for segment in reversed(segments) if segment[0] <= joined)
        return line, col + joined - start

    return locate


def _shifted(locate: Locate, by: int, at: int) -> tuple[int, int]:
    return locate(by + at)


def _dockerfile_instructions(text: str) -> Iterator[tuple[int, str, str, str, Locate]]:
    """(line, INSTRUCTION, arguments, heredoc bodies, where each character of the arguments was
    written) with continuations joined, comments dropped."""
    escape = "`" if re.match(r"#\s*escape\s*=\s*`", text) else "\\"
    lines = text.splitlines()
    index = 0
    while index < len(lines):
        start = index
        raw = lines[index]
        if not raw.strip() or raw.lstrip().startswith("#"):
            index += 1
            continue
        parts = [raw]
        where = [start]
        while parts[-1].rstrip().endswith(escape) and index + 1 < len(lines):
            parts[-1] = parts[-1].rstrip()[:-1]
            index += 1
            # As Docker does: comment lines (and empty ones) inside a continuation are skipped, and
            # the instruction goes on with the next line.
            while index + 1 < len(lines) and (not lines[index].strip() or lines[index].lstrip().startswith("#")):
                index += 1
            if lines[index].lstrip().startswith("#"):
                break
            parts.append(lines[index])
            where.append(index)
        logical = " ".join(part.strip() for part in parts)
        index += 1
        bodies = []
        for match in _HEREDOC.finditer(logical):
            body = []
            while index < len(lines) and lines[index].strip() != match.group(2):
                body.append(lines[index])
                index += 1
            index += 1  # the terminator
            bodies.append("\n".join(body))
        instruction, _, rest = logical.partition(" ")
        arguments = rest.strip()
        arguments_start = len(instruction) + 1 + len(rest) - len(rest.lstrip())
        locate = _locator(list(zip(where, parts, strict=True)), arguments_start)
        yield start + 1, instruction.upper(), arguments, "\n".join(bodies), locate


def _exec_form(command: str) -> str:
    """The exec form's JSON array as the one command it runs (shell-quoted); as written if not JSON."""
    try:
        argv = json.loads(command)
    except ValueError:
        return command
    if not isinstance(argv, list) or not all(isinstance(word, str) for word in argv):
        return command
    return shlex.join(argv)


def _from_image(arguments: str, args: dict[str, str], stages: set[str]) -> str | None:
    """The image a `--from=` (COPY) or `--mount=...,from=` (RUN) names, when it is one without a digest."""
    for word in arguments.split():
        value = None
        if word.startswith("--from="):
            value = word.split("=", 1)[1]
        elif word.startswith("--mount="):
            options = dict(part.partition("=")[::2] for part in word.split("=", 1)[1].split(","))
            value = options.get("from")
        if not value:
            continue
        image = expand(value, args)
        if image.lower() in stages or image.isdigit() or "@sha256:" in image or image == "scratch":
            continue  # a stage (by name or index), or pinned
        return value
    return None


def dockerfile(text: str) -> Iterator[Hit]:
    stages: set[str] = set()
    args: dict[str, str] = {}
    for line, instruction, arguments, heredoc, locate in _dockerfile_instructions(text):
        if instruction == "ONBUILD" and arguments.split(None, 1)[0].upper() == "RUN":
            # ONBUILD RUN ...: runs in every image built FROM this one
            inner = arguments.split(None, 1)[1] if len(arguments.split(None, 1)) > 1 else ""
            skipped = len(arguments) - len(inner)
            yield from _run_hits(line, inner, heredoc, args, functools.partial(_shifted, locate, skipped))
            continue
        if instruction == "ARG":
            _remember_arg_defaults(arguments, args)
        elif instruction == "FROM":
            yield from _from_hits(line, arguments, args, stages)
        elif instruction == "ADD":
            yield from _add_hits(line, arguments)
        elif instruction in ("COPY", "RUN") and (source := _from_image(arguments, args, stages)):
            # COPY --from=image:tag / RUN --mount=...,from=image:tag pull an image as FROM does
            yield "RT-D001", line, len(instruction) + 2, source
        if instruction == "RUN":
            yield from _run_hits(line, arguments, heredoc, args, locate)


def _remember_arg_defaults(arguments: str, args: dict[str, str]) -> None:
    for word in arguments.split():
        name, _, default = word.partition("=")
        if default:
            args[name] = default.strip("\"'")


def _from_hits(line: int, arguments: str, args: dict[str, str], stages: set[str]) -> Iterator[Hit]:
    """RT-D001 for a FROM image without a digest; a named stage is remembered in ``stages``."""
    words = [word for word in arguments.split() if not word.startswith("--")]
    if not words:
        return
    image = expand(words[0], args)
    if len(words) >= 3 and words[1].lower() == "as":
        stages.add(words[2].lower())
    if image.lower() in stages or image == "scratch" or "@sha256:" in image or _names_stages(image, stages):
        return
    yield "RT-D001", line, 6, words[0]


def _names_stages(image: str, stages: set[str]) -> bool:
    """`FROM binary-$TARGETOS`: a name a build argument completes, and the stages it can name are
    earlier stages (``binary-linux``, ``binary-darwin``), not an image from a registry."""
    if "$" not in image:
        return False
    pattern = _UNRESOLVED.sub("*", image.lower())
    return pattern != "*" and any(fnmatch.fnmatchcase(stage, pattern) for stage in stages)


_UNRESOLVED = re.compile(r"\$\{[^}]*\}|\$[A-Za-z_][A-Za-z0-9_]*")


def _add_hits(line: int, arguments: str) -> Iterator[Hit]:
    words = arguments.split()
    if any(w.startswith(("http://", "https://", "git@")) for w in words) and not any(
        w.startswith("--checksum=") for w in words
    ):
        yield "RT-D002", line, 5, arguments


_RUN_FLAGS = re.compile(r"(?<!\S)--(?:mount|network|security)\S*")


def _run_hits(line: int, arguments: str, heredoc: str, args: dict[str, str], locate: Locate) -> Iterator[Hit]:
    if heredoc:
        yield from _script_hits(heredoc, line + 1, 1, args)
        return
    # RUN's own flags blanked, not removed: every offset still points where it was written.
    command = _RUN_FLAGS.sub(lambda match: " " * len(match.group(0)), arguments)
    exec_form = command.lstrip().startswith("[")
    if exec_form:  # RUN ["pip", "install", "flask"]: reported at the instruction's arguments
        command = _exec_form(command.strip())
    for issue in check_script(command, args):
        hit_line, hit_col = locate(0 if exec_form else issue.offset)
        yield issue.rule, hit_line, hit_col, issue.snippet


# --- GitHub workflows and composite actions ------------------------------------------------


def _position(node: Any, key: str) -> tuple[int, int]:
    """Where ``node[key]`` was written (every value the audit reports is a yamldoc.Scalar)."""
    value = node.get(key)
    return getattr(value, "line", 1), getattr(value, "col", 1)


def _steps(document: Any) -> Iterator[tuple[Any, dict[str, str]]]:
    """(step, the `env:` it inherits from its workflow and job) of every step and reusable-workflow call."""
    top_env = _env_of(document)
    jobs = document.get("jobs") if isinstance(document, dict) else None
    if isinstance(jobs, dict):
        for job in jobs.values():
            if isinstance(job, dict):
                job_env = {**top_env, **_env_of(job)}
                if isinstance(job.get("uses"), str):
                    yield job, job_env  # a reusable workflow call
                steps = job.get("steps")
                if isinstance(steps, list):
                    yield from ((step, job_env) for step in steps if isinstance(step, dict))
    runs = document.get("runs") if isinstance(document, dict) else None
    if isinstance(runs, dict) and isinstance(runs.get("steps"), list):
        yield from ((step, top_env) for step in runs["steps"] if isinstance(step, dict))


_EXPRESSION_ENV = re.compile(r"\$\{\{\s*env\.([A-Za-z_][A-Za-z0-9_]*)\s*\}\}")


_EXPRESSION = re.compile(r"\$\{\{.*?\}\}")


def _with_env(script: str, environment: dict[str, str]) -> str:
    """`${{ env.X }}` replaced by X's value; any other expression becomes one shell word of its own
    length, `$___` (an unknown value, as GitHub substitutes it before the shell splits words)."""
    script = _EXPRESSION_ENV.sub(lambda match: environment.get(match.group(1), match.group(0)), script)
    return _EXPRESSION.sub(lambda match: "$" + "_" * (len(match.group(0)) - 1), script)


def _env_of(node: Any) -> dict[str, str]:
    """A workflow's, job's or step's `env:` values that are plain text (no expression of their own)."""
    env = node.get("env") if isinstance(node, dict) else None
    if not isinstance(env, dict):
        return {}
    return {str(k): str(v) for k, v in env.items() if isinstance(v, (str, int, float)) and "${{" not in str(v)}


def _job_images(document: Any) -> Iterator[tuple[Any, str, str, list[str]]]:
    """(node, key, image, what it can be) of every job `container:` and `services:` image of a workflow;
    `${{ matrix.X }}` is replaced by each value the job's matrix gives X."""
    jobs = document.get("jobs") if isinstance(document, dict) else None
    for job in jobs.values() if isinstance(jobs, dict) else ():
        if not isinstance(job, dict):
            continue
        found: list[tuple[Any, str, str]] = []
        container = job.get("container")
        if isinstance(container, str):
            found.append((job, "container", container))
        elif isinstance(container, dict) and isinstance(container.get("image"), str):
            found.append((container, "image", container["image"]))
        services = job.get("services")
        for service in services.values() if isinstance(services, dict) else ():
            if isinstance(service, dict) and isinstance(service.get("image"), str):
                found.append((service, "image", service["image"]))
        for node, key, image in found:
            yield node, key, image, _matrix_expansions(image, job)


_EXPRESSION_MATRIX = re.compile(r"\$\{\{\s*matrix\.([A-Za-z_][A-Za-z0-9_-]*)\s*\}\}")


def _matrix_expansions(text: str, job: dict[str, Any]) -> list[str]:
    """``text`` with each `${{ matrix.X }}` replaced by every value X takes (a list or `include:` entries)."""
    strategy = job.get("strategy")
    matrix = strategy.get("matrix") if isinstance(strategy, dict) else None
    if not isinstance(matrix, dict) or not _EXPRESSION_MATRIX.search(text):
        return [text]
    results = [text]
    for name in dict.fromkeys(_EXPRESSION_MATRIX.findall(text)):
        given = matrix.get(name)
        values = [str(value) for value in given if isinstance(value, str)] if isinstance(given, list) else []
        include = matrix.get("include")
        for entry in include if isinstance(include, list) else []:
            if isinstance(entry, dict) and isinstance(entry.get(name), str):
                values.append(str(entry[name]))
        if not values:
            continue  # set elsewhere (fromJSON, an input): left as written, so not judged
        pattern = re.compile(r"\$\{\{\s*matrix\." + re.escape(name) + r"\s*\}\}")
        # str.replace-like: a value is text, never a regex replacement template
        results = [pattern.sub(value.replace("\\", "\\\\"), result) for result in results for value in values]
    return results


def _every_job_has_permissions(document: dict[str, Any]) -> bool:
    """Each job declares its own `permissions:`: the token is scoped without a top-level block."""
    jobs = document.get("jobs")
    return (
        isinstance(jobs, dict)
        and bool(jobs)
        and all(isinstance(job, dict) and "permissions" in job for job in jobs.values())
    )


def _only_called(document: dict[str, Any]) -> bool:
    """A reusable workflow (`on: workflow_call` only) runs with its caller's token: the caller's
    `permissions:` bound it (and GitHub lets a called workflow only keep or lower them)."""
    triggers = document.get("on")  # (yamldoc keeps keys as written: `on` is no boolean here)
    if isinstance(triggers, str):
        triggers = [triggers]
    return isinstance(triggers, (list, dict)) and list(triggers) == ["workflow_call"]


def workflow(document: Any, *, is_workflow: bool, lines: list[str]) -> Iterator[Hit]:
    if (
        is_workflow
        and isinstance(document, dict)
        and "permissions" not in document
        and not _every_job_has_permissions(document)
        and not _only_called(document)
    ):
        yield "RT-W002", 1, 1, "permissions"
    runs = document.get("runs") if not is_workflow and isinstance(document, dict) else None
    image = runs.get("image") if isinstance(runs, dict) else None
    if isinstance(image, str) and image.startswith("docker://") and "@sha256:" not in image:
        line, col = _position(runs, "image")  # a Docker action runs this image (a Dockerfile is audited as one)
        yield "RT-D001", line, col, image.removeprefix("docker://")
    for node, key, image, variants in _job_images(document):
        # A job's container and service images are pulled like FROM; an expression the matrix does
        # not give (an input, fromJSON) is resolved elsewhere, so it is not judged here.
        if any(variant and "@sha256:" not in variant and "${{" not in variant for variant in variants):
            line, col = _position(node, key)
            yield "RT-D001", line, col, image
    for step, inherited in _steps(document):
        yield from _uses_hits(step)
        yield from _run_block_hits(step, inherited, lines)


def _uses_hits(step: dict[str, Any]) -> Iterator[Hit]:
    """A step's `uses:`: an action pinned by its commit, a `docker://` image by its digest."""
    uses = step.get("uses")
    if not isinstance(uses, str):
        return
    line, col = _position(step, "uses")
    if uses.startswith("docker://"):  # an image, not an action: pinned by its digest
        if "@sha256:" not in uses:
            yield "RT-D001", line, col, uses.removeprefix("docker://")
    elif not uses.startswith(("./", "$/")):  # `./path`, `$/path`: this repository's own file, at this commit
        ref = uses.rsplit("@", 1)[1] if "@" in uses else ""
        if not _SHA.match(ref):
            yield "RT-W001", line, col, uses


def _run_block_hits(step: dict[str, Any], inherited: dict[str, str], lines: list[str]) -> Iterator[Hit]:
    """A step's `run:` script, with `${{ env.NAME }}` and `$NAME` set in the workflow's, the job's or
    the step's `env:` (a pinned version, say): the runner exports them to the step's shell."""
    run = step.get("run")
    if not isinstance(run, str):
        return
    line, col = _position(step, "run")
    env = {**inherited, **_env_of(step)}
    script = _with_env(str(run), env)
    if getattr(run, "style", None) not in ("|", ">"):
        yield from _script_hits(script, line, col, env)
        return
    first = lines[line] if line < len(lines) else ""  # the block's first content line
    indent = len(first) - len(first.lstrip(" "))
    for rule, hit_line, hit_col, snippet in _script_hits(script, line + 1, 1, env):
        yield rule, hit_line, hit_col + indent, snippet


# --- Makefiles, go.mod, nox/invoke files ----------------------------------------------------


_MAKE_ASSIGNMENT = re.compile(r"^(?:export\s+|override\s+)?([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:\?=|::?=|=)\s*(.*?)\s*$")
_MAKE_REFERENCE = re.compile(r"\$[({]([A-Za-z_][A-Za-z0-9_.-]*)[)}]")


def _make_variables(lines: list[str]) -> dict[str, str]:
    """`VERSION ?= v0.6.0`, `:=`, `=` anywhere in the file: what $(VERSION) means in recipes (make
    expands a recipe only after reading the whole file, so an assignment below it counts too)."""
    variables: dict[str, str] = {}
    for raw in lines:
        assignment = None if raw.startswith("\t") else _MAKE_ASSIGNMENT.match(raw)
        if assignment and "$" not in assignment.group(2):
            variables.setdefault(assignment.group(1), assignment.group(2))  # the first wins, as with ?=
    return variables


def makefile(text: str) -> Iterator[Hit]:
    lines = text.splitlines()
    variables = _make_variables(lines)
    macros, in_macros = _make_macros(lines)
    index = 0
    while index < len(lines):
        raw = lines[index]
        start = index
        if not raw.startswith("\t"):
            # `X := $(shell curl ... | sh)` runs when make reads the file
            for match in _MAKE_SHELL.finditer(raw):
                for rule, _line, col, snippet in _script_hits(match.group(1).replace("$$", "$"), 1, 1):
                    yield rule, start + 1, match.start(1) + col, snippet
        elif index not in in_macros:
            recipe = [raw[1:]]
            while recipe[-1].endswith("\\") and index + 1 < len(lines):
                index += 1
                recipe.append(lines[index].lstrip("\t"))
            command = "\n".join(recipe).lstrip("@-+ ")
            command = _MAKE_REFERENCE.sub(lambda m: variables.get(m.group(1), m.group(0)), command)
            call = raw.find("$(call ")  # a macro's finding points at its call
            command = _MAKE_CALL.sub(lambda m: _called(m, macros, variables), command).replace("$$", "$")
            for rule, _line, col, snippet in _script_hits(re.sub(r"\\\n", " ", command), 1, 2):
                yield rule, start + 1, call + 1 if call >= 0 else col, snippet
        index += 1


_MAKE_SHELL = re.compile(r"\$\(shell\s+([^()]*(?:\([^()]*\)[^()]*)*)\)")
_MAKE_CALL = re.compile(r"\$\(call\s+([A-Za-z_][A-Za-z0-9_.-]*)((?:,[^,()]*(?:\([^()]*\))?[^,()]*)*)\)")
_MAKE_DEFINE = re.compile(r"^define\s+([A-Za-z_][A-Za-z0-9_.-]*)\s*(?:=|:=)?\s*$")


def _make_macros(lines: list[str]) -> tuple[dict[str, str], set[int]]:
    """``define NAME`` ... ``endef`` bodies (kubebuilder's ``go-install-tool``) by name, and the
    indexes of their lines (checked where the macro is called, with its arguments)."""
    macros: dict[str, str] = {}
    inside: set[int] = set()
    name: str | None = None
    body: list[str] = []
    for index, raw in enumerate(lines):
        if name is None and (match := _MAKE_DEFINE.match(raw)):
            name, body = match.group(1), []
        elif name is not None and raw.strip() == "endef":
            macros[name] = "\n".join(body)
            name = None
        elif name is not None:
            body.append(raw.lstrip("\t"))
            inside.add(index)
    return macros, inside


def _called(match: re.Match[str], macros: dict[str, str], variables: dict[str, str]) -> str:
    """``$(call NAME,a,b,c)`` as make expands it: the macro body with $(1), $(2)... filled in."""
    body = macros.get(match.group(1))
    if body is None:
        return match.group(0)
    arguments = [argument.strip() for argument in match.group(2).split(",")[1:]]
    filled = re.sub(
        r"\$\((\d)\)", lambda m: arguments[int(m.group(1)) - 1] if int(m.group(1)) <= len(arguments) else "", body
    )
    filled = _MAKE_REFERENCE.sub(lambda m: variables.get(m.group(1), m.group(0)), filled)
    return " ".join(line.rstrip("\\").strip() for line in filled.splitlines()).lstrip("@-+ ")


def go_mod(text: str, relative: str = "go.mod") -> Iterator[Hit]:
    """Toolchain pins and `replace` targets of the go.mod at ``relative`` (project-relative)."""
    if re.search(r"^module\s+_\s*(?://.*)?$", text, re.M):
        return  # `module _`: a placeholder (bingo's), never built as a module
    has_toolchain = re.search(r"^toolchain\s+go\d", text, re.M) is not None
    for number, raw in enumerate(text.splitlines(), 1):
        line = raw.split("//", 1)[0].strip()
        match = _GO_PATCH.match(line)
        if match and not match.group(2) and not has_toolchain:
            yield "RT-G002", number, 1, line
        replaced = line.removeprefix("replace").strip() if line.startswith("replace") or "=>" in line else ""
        if "=>" in replaced:
            target = replaced.split("=>", 1)[1].strip()
            # A directory of this repository is pinned by the commit; one outside it is not.
            inside = posixpath.normpath(posixpath.join(posixpath.dirname(relative), target))
            if target.startswith("/") or (target.startswith(".") and inside.split("/")[0] == ".."):
                yield "RT-G001", number, raw.find("=>") + 4, replaced
    if not re.search(r"^go\s+\d", text, re.M):
        yield "RT-G002", 1, 1, "go directive missing"


_RUNNERS = frozenset({"run", "run_always", "run_install", "sudo", "local", "install"})


def python_tasks(text: str) -> Iterator[Hit]:
    """Commands in noxfile.py / tasks.py: session.run/install(...) and c.run("...")."""
    for node in ast.walk(ast.parse(text)):
        if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)):
            continue
        if node.func.attr not in _RUNNERS:
            continue
        strings = [arg.value for arg in node.args if isinstance(arg, ast.Constant) and isinstance(arg.value, str)]
        if len(strings) != len(node.args) or not strings:
            continue
        if node.func.attr == "install":
            script = " ".join(["pip", "install", *map(shlex.quote, strings)])
        elif len(strings) == 1:
            script = strings[0]
        else:
            script = " ".join(map(shlex.quote, strings))
        for rule, _line, _col, snippet in _script_hits(script, 1, 1):
            yield rule, node.lineno, node.col_offset + 1, snippet

"""Shell commands that fetch mutable inputs: split with ``shlex`` (quotes, comments, pipes), never regex on raw text.

The same checks serve Dockerfile ``RUN``, workflow ``run:``, shell scripts, Makefile recipes and
nox/invoke command strings.
"""

from __future__ import annotations

import functools
import re
import shlex
from collections.abc import Callable, Iterator, Mapping
from contextvars import ContextVar
from dataclasses import dataclass

_WRAPPERS = frozenset({"sudo", "env", "exec", "time", "nohup", "command", "xargs", "doas"})
_SHELLS = frozenset({"sh", "bash", "zsh", "dash", "ksh", "ash", "fish", "python", "python3", "perl", "ruby"})
_FETCHERS = frozenset({"curl", "wget"})
_COMMIT = re.compile(r"^[0-9a-f]{40}$")  # `go install pkg@<full commit>`: go.sum-checked, immutable
_EXACT_GO_VERSION = re.compile(r"^v\d+\.\d+\.\d+(?:-[0-9A-Za-z.-]+)?(?:\+incompatible)?$")
_ASSIGNMENT = re.compile(r"^([A-Za-z_][A-Za-z0-9_]*)=(.*)$")
_VARIABLE = re.compile(
    r"\$(?:\{([A-Za-z_][A-Za-z0-9_]*)(?::?[-=]([^}]*))?\}|([A-Za-z_][A-Za-z0-9_]*))"
)  # $V, ${V}, and ${V:-default} / ${V-default} / ${V:=default} (the default when V is unknown)
# Builtins that set variables: `export V=x`, `readonly V=x`, `local V=x`, `declare -r V=x`.
_DECLARERS = frozenset({"export", "readonly", "local", "declare", "typeset"})


# Set by the audit for the file being read: is this `-r FILE` a lock where every pin has --hash?
# (pip turns hash checking on by itself for such a file.)
hashed_lock: ContextVar[Callable[[str], bool]] = ContextVar("hashed_lock", default=lambda _name: False)


@dataclass(frozen=True)
class ShellIssue:
    rule: str
    offset: int  # character offset of the offending command in the text
    snippet: str  # the command, as written (what allow entries' `match` is checked against)


def words(text: str) -> list[str]:
    """Shell words and control operators of one logical line; a comment ends it."""
    return list(_words(text))


@functools.lru_cache(maxsize=4096)
def _words(text: str) -> tuple[str, ...]:
    # shlex is pure Python and most of the audit's time: a line is split once (logical_lines and
    # simple_commands both ask), and lines repeated across files are split once per process.
    lexer = shlex.shlex(text, posix=True, punctuation_chars=";&|()<>")
    lexer.whitespace_split = True
    lexer.commenters = "#"
    return tuple(lexer)


def logical_lines(text: str) -> Iterator[tuple[int, str]]:
    """(offset, text) of each command line: backslash continuations and multi-line quotes joined."""
    lines = text.split("\n")
    offset = 0
    index = 0
    while index < len(lines):
        start = offset
        parts = [lines[index]]
        offset += len(lines[index]) + 1
        index += 1
        while index < len(lines):
            joined = "\n".join(parts)
            if joined.endswith("\\"):
                parts[-1] = parts[-1][:-1]
            elif not joined.rstrip().endswith(("|", "&")) and not any(quote in joined for quote in "'\""):
                break  # no operator at its end and no quote left open: the command ends here
            else:
                try:
                    tokens = words(joined)
                    if not tokens or tokens[-1] not in ("|", "|&", "&&", "||"):
                        break  # (a line ending in a pipe or && goes on on the next one)
                except ValueError:  # an open quote: the command goes on
                    pass
            parts.append(lines[index])
            offset += len(lines[index]) + 1
            index += 1
        yield start, "\n".join(parts)


def simple_commands(line: str) -> list[list[list[str]]]:
    """Pipelines (lists of simple commands' argv) of one logical line; unparseable text gives none."""
    try:
        tokens = words(line)
    except ValueError:  # unbalanced quotes to the end: not a command we can read
        return []
    pipelines: list[list[list[str]]] = []
    pipeline: list[list[str]] = []
    command: list[str] = []
    redirected = False
    for token in tokens:
        if redirected:  # `> FILE`, `2> /dev/null`, `< in`: the file is no word of the command
            redirected = False
            if not set(token) <= set(";&|()<>"):
                continue
        if token not in ("<(", ">(") and set(token) <= set("<>&") and ("<" in token or ">" in token):
            redirected = True
            if command and command[-1].isdigit():
                command.pop()  # the descriptor of `2>`
            continue
        if set(token) <= set(";&|()<>"):
            if command:
                pipeline.append(command)
                command = []
            if token not in ("|", "|&") and "<" not in token and ">" not in token:
                if pipeline:
                    pipelines.append(pipeline)
                pipeline = []
            continue
        command.append(token)
    if command:
        pipeline.append(command)
    if pipeline:
        pipelines.append(pipeline)
    return pipelines


def _strip(argv: list[str]) -> list[str]:
    """Drop leading variable assignments and wrappers (sudo, env, ...) and their options."""
    index = 0
    while index < len(argv):
        word = argv[index]
        if (
            _ASSIGNMENT.match(word)
            or word in _WRAPPERS
            or (index > 0 and word.startswith("-") and argv[0] in _WRAPPERS)
        ):
            index += 1
            continue
        break
    return argv[index:]


def expand(word: str, variables: Mapping[str, str]) -> str:
    """``word`` with each variable the script set replaced by its value (``${V:-x}``: x when V is
    unknown); an unknown one is left as written."""

    def value(match: re.Match[str]) -> str:
        name = match.group(1) or match.group(3)
        if name in variables:
            return variables[name]
        return match.group(2) if match.group(2) is not None else match.group(0)

    return _VARIABLE.sub(value, word)


def _assignments(argv: list[str], known: Mapping[str, str]) -> dict[str, str] | None:
    """The variables a command sets (``V=x``, ``export V=x``, ``readonly``/``local``/``declare``,
    ``: "${V:=x}"``), values expanded with what is known; None when it is another command."""
    if len(argv) == 1 and (assignment := _ASSIGNMENT.match(argv[0])):
        return {assignment.group(1): expand(assignment.group(2), known)}
    if argv and argv[0] in _DECLARERS:
        found = {}
        for word in argv[1:]:
            if assignment := _ASSIGNMENT.match(word):
                found[assignment.group(1)] = expand(assignment.group(2), known)
        return found
    if argv and argv[0] == ":":
        return {
            match.group(1): match.group(2)
            for word in argv[1:]
            for match in re.finditer(r"\$\{([A-Za-z_][A-Za-z0-9_]*):?=([^}]*)\}", word)
            if match.group(1) not in known
        }
    return None


def check_script(text: str, variables: Mapping[str, str] | None = None) -> Iterator[ShellIssue]:
    """Every install of a mutable input in ``text``; ``variables`` resolves ``$NAME`` (e.g. ARG defaults)."""
    known = dict(variables or {})
    downloads: dict[str, bool] = {}  # file fetched earlier in this script -> its checksum was checked
    built: set[str] = set()  # images `docker build -t NAME` made earlier in this script
    for start, line in logical_lines(text):
        yield from _check_line(line, start, text, known, downloads, built)


def _check_line(
    line: str, start: int, text: str, known: dict[str, str], downloads: dict[str, bool], built: set[str]
) -> Iterator[ShellIssue]:
    substituted = _PROCESS_SUBSTITUTION.search(line) or _EVAL_DOWNLOAD.search(line)
    if substituted:  # bash <(curl ...), eval "$(curl ...)": the download runs as code, no pipe needed
        yield ShellIssue("RT-S003", start + substituted.start(1), substituted.group(0).strip())
    for pipeline in simple_commands(line):
        commands = [_strip(argv) for argv in pipeline]
        for position, argv in enumerate(commands):
            # V=x, export V=x, V="${V:-x}", : "${V:=x}": remember it (scripts pin versions in variables).
            assigned = _assignments(pipeline[position], known)
            if assigned is not None:
                known.update(assigned)
                continue
            if not argv:
                continue
            rule = _command_rule(argv, commands[position + 1 :], known, downloads)
            if rule is not None:
                yield ShellIssue(rule, start + _offset(line, argv[0]), _snippet(argv))
            elif image := _unpinned_container_image(argv, built):
                yield ShellIssue("RT-D001", start + _offset(line, argv[0]), image)  # the image, as FROM's


def _snippet(argv: list[str]) -> str:
    """The command as a finding shows it; the split stops at a command substitution, `$(...)`."""
    shown = " ".join(argv)
    return shown + "(...)" if shown.endswith("$") else shown


def _command_rule(
    argv: list[str], later_commands: list[list[str]], known: dict[str, str], downloads: dict[str, bool]
) -> str | None:
    """The rule one simple command breaks, given the commands it pipes into and the downloads before it."""
    rule = _check_command(argv, known)
    if rule is None and (
        _pipes_download_into_shell(argv, later_commands) or _pipes_download_into_bin(argv, later_commands)
    ):
        rule = "RT-S003"
    if rule is None and _shell_runs_inline_download(argv):
        rule = "RT-S003"
    if rule is None:
        rule = _download_then_run(argv, downloads)
    return rule


_CONTAINER_TOOLS = frozenset({"docker", "podman", "nerdctl"})
# Options of `docker run`/`create`/`pull` that take a value (the value is no image).
_CONTAINER_VALUED = frozenset(
    {"-e", "--env", "--env-file", "-v", "--volume", "-p", "--publish", "-w", "--workdir", "-u", "--user",
     "--name", "--network", "--net", "--entrypoint", "--platform", "--mount", "-l", "--label", "--label-file",
     "-h", "--hostname", "--add-host", "--cpus", "-m", "--memory", "--shm-size", "--ulimit", "--cap-add",
     "--cap-drop", "--device", "--dns", "--gpus", "--log-driver", "--log-opt", "--pull", "--restart", "--runtime",
     "--security-opt", "--stop-signal", "--tmpfs", "--volumes-from", "--cidfile", "--ipc", "--pid", "--userns",
     "--uts", "--group-add", "--health-cmd", "--cgroupns", "--expose", "--link", "--storage-opt", "--sysctl",
     "--isolation", "-a", "--attach"}
)  # fmt: skip


def _unpinned_container_image(argv: list[str], built: set[str]) -> str | None:
    """`docker run|create|pull IMAGE:TAG` (podman, nerdctl): an image by tag is whatever the tag
    points to today (RT-D001, as FROM). Images this script built (`docker build -t NAME`) and bare
    names without a tag or registry (likely built elsewhere in the project) are not judged."""
    name = _program_name(argv[0])
    if name not in _CONTAINER_TOOLS or len(argv) < 2:
        return None
    verb, args = argv[1], argv[2:]
    if verb in ("build", "buildx"):
        built.update(_built_tags(args))
        return None
    if verb == "container" and args[:1] and args[0] in ("run", "create"):
        verb, args = args[0], args[1:]
    if verb not in ("run", "create", "pull"):
        return None
    image = next(_operands_skipping(args, _CONTAINER_VALUED), None)
    if image is None or "@sha256:" in image or "$" in image or image.startswith("{"):
        return None
    repository = image.rsplit(":", 1)[0] if ":" in image.rsplit("/", 1)[-1] else image
    if repository in built or (":" not in image.rsplit("/", 1)[-1] and "/" not in image):
        return None
    return image


def _built_tags(args: list[str]) -> set[str]:
    """The repositories `docker build -t NAME:TAG` (or --tag) names."""
    tags = [args[i + 1] for i, word in enumerate(args[:-1]) if word in ("-t", "--tag")]
    tags += [word.split("=", 1)[1] for word in args if word.startswith("--tag=")]
    return {tag.split(":", 1)[0] for tag in tags}


def _operands_skipping(args: list[str], valued: frozenset[str]) -> Iterator[str]:
    skip = False
    for word in args:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in valued
        else:
            yield word


def _pipes_download_into_shell(argv: list[str], later_commands: list[list[str]]) -> bool:
    """`curl URL | sh`: a fetcher whose output a later shell of the pipeline runs."""
    return argv[0] in _FETCHERS and any(
        later and later[0] in _SHELLS and _runs_stdin(later) for later in later_commands
    )


def _pipes_download_into_bin(argv: list[str], later_commands: list[list[str]]) -> bool:
    """`curl URL | tar -xz -C /usr/local/bin`: unverified programs unpacked where PATH finds them."""
    if argv[0] not in _FETCHERS:
        return False
    for later in later_commands:
        if later and later[0] == "tar":
            words = later[1:]
            for index, word in enumerate(words):
                target = words[index + 1] if word in ("-C", "--directory") and index + 1 < len(words) else None
                target = word.removeprefix("--directory=") if word.startswith("--directory=") else target
                if target is not None and (target.rstrip("/") + "/").startswith(_BIN_DIRS):
                    return True
    return False


def _shell_runs_inline_download(argv: list[str]) -> bool:
    """`sh -c "$(curl URL)"`: a shell whose program text fetches."""
    return argv[0] in _SHELLS and any(fetcher in word for word in argv[1:] for fetcher in ("curl ", "wget "))


_EVAL_DOWNLOAD = re.compile(r"(?:^|[;&|(]\s*|\s)(eval\s+[\"']?(?:\$\(|`)\s*(?:curl|wget)\b[^)`]*[)`])")
_PROCESS_SUBSTITUTION = re.compile(
    r"(?:^|[;&|(]\s*|\s)((?:sudo\s+)?(?:sh|bash|zsh|dash|ksh|source|\.)\s+(?:-\S+\s+)*<\(\s*(?:curl|wget)\b[^)]*\))"
)
_CHECKERS = frozenset(
    {"sha256sum", "sha512sum", "shasum", "sha1sum", "gpg", "gpgv", "cosign", "minisign", "slsa-verifier"}
)
_BIN_DIRS = ("/usr/local/bin/", "/usr/bin/", "/bin/", "~/.local/bin/", "$HOME/.local/bin/", "$HOME/bin/")


def _download_then_run(argv: list[str], downloads: dict[str, bool]) -> str | None:
    """Download to a file, then run it (`curl -o x.sh URL && sh x.sh`, `wget -O f URL; ./f`) without a
    checksum check of that file in between: RT-S003, as a pipe into a shell would be."""
    name = argv[0]
    if name in _FETCHERS:
        _note_download(argv, downloads)
        return None
    if name in ("mv", "cp", "install") and len(operands := [w for w in argv[1:] if not w.startswith("-")]) >= 2:
        _follow_move(operands, downloads)
        return None
    if name in _CHECKERS:
        _note_checksum_check(argv, downloads)
        return None
    ran = _program_run(argv, downloads)
    if ran is None:
        return None
    unchecked = (target for target, verified in downloads.items() if not verified)
    return "RT-S003" if any(ran.removeprefix("./") == target.removeprefix("./") for target in unchecked) else None


def _note_download(argv: list[str], downloads: dict[str, bool]) -> None:
    target = _download_target(argv)
    if target and target != "/dev/null":
        downloads[target] = False


def _follow_move(operands: list[str], downloads: dict[str, bool]) -> None:
    """`mv cross /usr/local/bin/` then `cross build`: the download runs under its new name."""
    destination = operands[-1]
    for source in operands[:-1]:
        if source in downloads:
            moved = f"{destination.rstrip('/')}/{_base(source)}" if destination.endswith("/") else destination
            downloads[moved] = downloads[source]


def _note_checksum_check(argv: list[str], downloads: dict[str, bool]) -> None:
    checked = [target for target in downloads if any(target in word or _base(target) in word for word in argv)]
    if any(word in ("-c", "--check", "--verify", "verify-blob") for word in argv[1:]) and not checked:
        checked = list(downloads)  # `sha256sum -c SUMS` checks what SUMS lists
    for target in checked:
        downloads[target] = True


def _program_run(argv: list[str], downloads: dict[str, bool]) -> str | None:
    """The file this command runs: a shell's script, a path, or a download installed into a bin directory."""
    name = argv[0]
    if name in _SHELLS:
        return next((word for word in argv[1:] if not word.startswith("-")), None)
    if "/" in name or name.startswith("$"):
        return name
    installed = [target for target in downloads if target.startswith(_BIN_DIRS) and _base(target) == name]
    return installed[0] if installed else None


def _base(path: str) -> str:
    return path.rstrip("/").rsplit("/", 1)[-1]


def _download_target(argv: list[str]) -> str | None:
    """The file curl or wget writes (None: stdout, or it cannot be told)."""
    named, target = _output_option(argv[0], argv[1:])
    return target if named else _remote_name(argv)


def _output_option(fetcher: str, args: list[str]) -> tuple[bool, str | None]:
    """(True, the file or None for stdout) when an option names the output; (False, None) when none does."""
    for index, word in enumerate(args):
        # `-o FILE`, or a cluster of short options ending in it (`curl -fsSLo FILE`, `wget -qO FILE`)
        if fetcher == "curl" and (word == "--output" or re.fullmatch(r"-[a-zA-Z]*o", word)) and index + 1 < len(args):
            return True, args[index + 1]
        if fetcher == "wget" and (word == "--output-document" or re.fullmatch(r"-[a-zA-Z]*O", word)):
            return True, None if index + 1 >= len(args) or args[index + 1] == "-" else args[index + 1]
        if fetcher == "wget" and word.startswith("--output-document="):
            return True, word.split("=", 1)[1] or None
    return False, None


def _remote_name(argv: list[str]) -> str | None:
    """The file named after the URL (wget's default, curl's -O), if a URL is given."""
    args = argv[1:]
    urls = [word for word in args if "://" in word]
    remote_name = argv[0] == "wget" or any(
        word in ("-O", "--remote-name") or re.fullmatch(r"-[a-zA-Z]*O", word) for word in args
    )
    if remote_name and urls:
        base = _base(urls[0].split("?", 1)[0])
        return base or None
    return None


def _runs_stdin(argv: list[str]) -> bool:
    """Does this shell or interpreter run the program it reads on stdin? Not with an inline program
    (`sh -c`, `perl -pe`, `python -c`, `python -m`) or a script file: what is piped in is then data."""
    name = argv[0]
    for arg in argv[1:]:
        if arg in ("-", "-s", "--"):
            return True
        if not arg.startswith("-") or arg.startswith("--"):
            return arg.startswith("--")  # a script file or program text: stdin is its input
        flags = arg[1:]
        if "c" in flags or (name in ("perl", "ruby") and ("e" in flags or "E" in flags)):
            return False
        if name.startswith("python") and "m" in flags:
            return False
    return True


def _offset(text: str, word: str) -> int:
    found = re.search(rf"(?<![\w/.-]){re.escape(word)}(?![\w-])", text)
    return found.start() if found else 0


def _program_name(word: str) -> str:
    """`/usr/bin/pip` -> pip; Windows spellings too: `.\\uv.exe` (which a POSIX split reads as
    `.uv.exe`), `C:/tools/uv.exe` -> uv."""
    name = re.split(r"[\\/]", word)[-1].removesuffix(".exe")
    return name[1:] if name.startswith(".") and word.startswith(".") and "/" not in word else name


# uv's global options that take a value (`uv --directory DIR pip install ...`).
_UV_VALUED = frozenset(
    {"--directory", "--project", "--config-file", "--cache-dir", "--color", "--python-preference", "--python"}
)


def _uv_pip_args(args: list[str]) -> list[str] | None:
    """What follows `pip` in `uv [global options] pip ...`; None for another uv command."""
    index = 0
    while index < len(args) and args[index].startswith("-"):
        index += 2 if args[index] in _UV_VALUED else 1
    return args[index + 1 :] if args[index : index + 1] == ["pip"] else None


def _check_command(argv: list[str], variables: Mapping[str, str]) -> str | None:
    argv = [expand(word, variables) for word in argv]  # a version set earlier in the script is a pin
    name = _program_name(argv[0])
    if name in ("pip", "pip3") or re.fullmatch(r"pip3\.\d+", name):
        return _check_pip(argv[1:])
    if re.fullmatch(r"python(3(\.\d+)?)?", name) and argv[1:3] == ["-m", "pip"]:
        return _check_pip(argv[3:])
    if name == "uv" and (pip := _uv_pip_args(argv[1:])) is not None:
        return _check_pip(pip)
    if name == "go" and len(argv) > 1 and argv[1] in ("install", "run", "get"):
        return _check_go(argv[1], argv[2:], variables)
    return _check_other_installers(name, argv[1:])


def _check_apt(args: list[str]) -> str | None:
    if "install" in args and not any(word == "--snapshot" or word.startswith(("--snapshot=", "-S")) for word in args):
        packages = [word for word in args[args.index("install") + 1 :] if not word.startswith("-")]
        if any("=" not in package for package in packages):
            return "RT-S004"
    return None


_EXACT_NPM = re.compile(r"^(@[^/@]+/)?[^@/]+@v?\d+\.\d+\.\d+(?:[-+][0-9A-Za-z.-]+)?$")
_RPM_VERSIONED = re.compile(r"-\d")


def _operands(args: list[str], after: str, with_values: frozenset[str] = frozenset()) -> list[str]:
    """The non-option words after the subcommand ``after`` (options in ``with_values`` take one)."""
    if after not in args:
        return []
    words, skip = [], False
    for word in args[args.index(after) + 1 :]:
        if skip:
            skip = False
        elif word.startswith("-"):
            skip = word in with_values
        else:
            words.append(word)
    return words


def _check_other_installers(name: str, args: list[str]) -> str | None:
    """apk, dnf/yum/microdnf, zypper (RT-S005, a warning as for apt); npm, npx, yarn, pnpm, gem, cargo,
    pipx, uv tool, conda/mamba tools (RT-S006)."""
    checker = _OTHER_INSTALLERS.get(name)
    return checker(args) if checker is not None else None


def _check_apk(args: list[str]) -> str | None:
    if "add" in args:
        packages = _operands(args, "add", frozenset({"-X", "--repository", "-t", "--virtual", "--root", "-p"}))
        packages = [package for package in packages if not package.endswith(".apk") and "/" not in package]
        if any("=" not in package and "~" not in package for package in packages):  # (a local .apk file is no pin)
            return "RT-S005"
    return None


def _check_rpm(args: list[str]) -> str | None:
    if "install" in args:
        operands = _operands(args, "install")
        if any(_is_url(word) for word in operands):
            return "RT-S007"
        packages = [word for word in operands if not word.endswith(".rpm")]
        if any(not _RPM_VERSIONED.search(package) for package in packages):
            return "RT-S005"
    return None


def _is_url(word: str) -> bool:
    return word.startswith(("http://", "https://", "ftp://"))


def _check_rpm_command(args: list[str]) -> str | None:
    """`rpm -i URL` / `rpm -U URL`: rpm downloads and installs it, unchecked."""
    installs = any(word.startswith("-") and not word.startswith("--") and ("i" in word or "U" in word) for word in args)
    installs |= any(word in ("--install", "--upgrade") for word in args)
    return "RT-S007" if installs and any(_is_url(word) for word in args) else None


def _check_npm(args: list[str]) -> str | None:
    """`npm install pkg` (global or into the project) without `pkg@1.2.3`; a bare `npm install`
    or `npm ci` installs the project's package-lock and is not flagged."""
    if args[:1] in (["install"], ["i"], ["add"]):
        packages = _operands(args, args[0], frozenset({"--prefix", "--registry", "-w", "--workspace"}))
        if any(not _EXACT_NPM.match(package) and not package.startswith((".", "/", "file:")) for package in packages):
            return "RT-S006"
    return None


def _check_npx(args: list[str]) -> str | None:
    if any(word in ("-y", "--yes") for word in args):
        # Only with --yes: a plain `npx eslint` runs the project's own, package-lock-pinned copy.
        first = next((word for word in args if not word.startswith("-")), None)
        if first is not None and not first.startswith((".", "/")) and not _EXACT_NPM.match(first):
            return "RT-S006"
    return None


_EXACT_GEM = re.compile(r"^[^:\s]+:\d+(?:\.\d+)+$")  # `gem install name:1.2.3` (gem's own form)


def _check_gem(args: list[str]) -> str | None:
    versioned = any(word in ("-v", "--version") or word.startswith("--version=") for word in args)
    gems = _operands(args, "install", frozenset({"-v", "--version", "-i", "--install-dir", "--source", "-s"}))
    if args[:1] == ["install"] and not versioned and not (gems and all(_EXACT_GEM.match(gem) for gem in gems)):
        return "RT-S006"
    return None


def _check_cargo(args: list[str]) -> str | None:
    if args[:1] == ["install"]:
        crates = _operands(args, "install", frozenset({"--version", "--git", "--branch", "--tag", "--rev", "--root"}))
        pinned = "--version" in args or any(word.startswith("--version=") for word in args)
        if "--git" in args or any(word.startswith("--git=") for word in args):
            return None if "--rev" in args or any(word.startswith("--rev=") for word in args) else "RT-S006"
        if "--path" not in args and not pinned and any("@" not in crate for crate in crates):
            return "RT-S006"
    if args[:1] == ["binstall"]:  # cargo binstall pkg@1.2.3 (or --version)
        crates = _operands(args, "binstall", frozenset({"--version", "--root", "--install-path", "--targets"}))
        pinned = "--version" in args or any(word.startswith("--version=") for word in args)
        if not pinned and any("@" not in crate for crate in crates):
            return "RT-S006"
    return None


_EXACT_PYTHON_PIN = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*(?:\[[^\]]*\])?===?\d[^,;<>!~*]*$")


def _check_python_tool(args: list[str], verb: str) -> str | None:
    """`pipx install pkg`, `uv tool install pkg` without `pkg==1.2.3`."""
    if args[:1] != [verb]:
        return None
    valued = frozenset({"--python", "--index-url", "--pip-args", "--suffix", "--with", "-w", "--from", "--index"})
    tools = [word for word in _operands(args, verb, valued) if not _is_local(word)]
    return "RT-S006" if any(not _EXACT_PYTHON_PIN.match(tool) for tool in tools) else None


def _check_uv(args: list[str]) -> str | None:
    return _check_python_tool(args[1:], "install") if args[:1] == ["tool"] else None


def _check_zypper(args: list[str]) -> str | None:
    verb = next((word for word in args if not word.startswith("-")), None)
    if verb in ("install", "in"):
        packages = [word for word in _operands(args, verb) if not word.endswith(".rpm")]
        if any("=" not in package and not _RPM_VERSIONED.search(package) for package in packages):
            return "RT-S005"
    return None


def _check_conda(args: list[str]) -> str | None:
    """conda / mamba / micromamba install: each package `name=1.2.3` or `name==1.2.3`."""
    if args[:1] == ["install"]:
        valued = frozenset({"-c", "--channel", "-n", "--name", "-p", "--prefix", "--file", "-f"})
        packages = _operands(args, "install", valued)
        if any(not re.search(r"==?\d", package) for package in packages):
            return "RT-S006"
    return None


def _check_yarn(args: list[str]) -> str | None:
    if args[:2] == ["global", "add"] and any(not _EXACT_NPM.match(package) for package in _operands(args, "add")):
        return "RT-S006"
    return None


def _check_pnpm(args: list[str]) -> str | None:
    global_add = args[:1] in (["add"], ["install"], ["i"]) and ("-g" in args or "--global" in args)
    if global_add and any(not _EXACT_NPM.match(package) for package in _operands(args, args[0])):
        return "RT-S006"
    return None


_OTHER_INSTALLERS: dict[str, Callable[[list[str]], str | None]] = {
    "apk": _check_apk,
    "dnf": _check_rpm,
    "yum": _check_rpm,
    "microdnf": _check_rpm,
    "npm": _check_npm,
    "npx": _check_npx,
    "gem": _check_gem,
    "cargo": _check_cargo,
    "pipx": lambda args: _check_python_tool(args, "install"),
    "uv": _check_uv,
    "zypper": _check_zypper,
    "conda": _check_conda,
    "mamba": _check_conda,
    "micromamba": _check_conda,
    "yarn": _check_yarn,
    "pnpm": _check_pnpm,
    "rpm": _check_rpm_command,
    "apt-get": _check_apt,
    "apt": _check_apt,
}


# pip / uv pip install options that take a value (the value is no package to install).
_PIP_VALUED = frozenset(
    {
        "-r", "--requirement", "-c", "--constraint", "-e", "--editable", "-f", "--find-links", "-i", "--index-url",
        "--extra-index-url", "-t", "--target", "--prefix", "--root", "-p", "--python", "--platform",
        "--python-version", "--implementation", "--abi", "--src", "--upgrade-strategy", "--progress-bar",
        "--cache-dir", "--log", "--trusted-host", "--proxy", "--timeout", "--retries", "--index-strategy",
        "--keyring-provider", "--config-settings", "-C", "--only-binary", "--no-binary", "--python-platform",
        "--exclude-newer", "--resolution", "--prerelease", "--link-mode", "--reinstall-package", "--index",
        "--default-index", "--overrides", "--build-constraints", "-b", "--group", "--extra",
    }
)  # fmt: skip


def _is_local(word: str) -> bool:
    """A path or an archive file, not a requirement (`name`, `name==1.0`, `name @ https://...`)."""
    if "://" in word:
        return word.startswith("file://")
    return word.startswith((".", "/", "~")) or "/" in word or word.endswith((".whl", ".tar.gz", ".zip"))


def _check_pip(args: list[str]) -> str | None:
    if not args or args[0] != "install":
        return None
    options = args[1:]
    if "--require-hashes" in options or "--no-index" in options:
        return None  # hashed, or nothing from an index (local --find-links directories only)
    values: dict[str, list[str]] = {}
    targets: list[str] = []
    index = 0
    while index < len(options):
        word = options[index]
        if word in _PIP_VALUED and index + 1 < len(options):
            key = {"--requirement": "-r", "--editable": "-e"}.get(word, word)
            values.setdefault(key, []).append(options[index + 1])
            index += 2
            continue
        if not word.startswith("-"):
            targets.append(word)
        index += 1
    requirement_files = values.get("-r", [])
    editable = values.get("-e", [])
    if requirement_files and not targets and all(hashed_lock.get()(name) for name in requirement_files):
        return None
    # Local paths only (`.`, `-e .`, `dist/pkg.tar.gz`, a built wheel) with --no-deps fetch nothing unpinned
    # (with uv's --offline nothing is fetched at all).
    if (
        "--no-deps" in options
        and not requirement_files
        and (targets or editable)
        and all(_is_local(word) for word in targets + editable)
    ):
        return None
    return "RT-S001"


def _check_go(verb: str, args: list[str], variables: Mapping[str, str]) -> str | None:
    packages = [word for word in args if not word.startswith("-")]
    if verb == "run":
        packages = packages[:1]
    for package in packages:
        if package.startswith((".", "/")) or "@" not in package:
            # Without @version, `go install`/`go run` build the version the current module's go.mod
            # requires (go.sum checks it; outside a module they refuse to run). `go get` moves
            # go.mod to whatever is latest.
            remote = not package.startswith((".", "/")) and "." in package.split("/")[0]
            if verb == "get" and remote and not package.endswith(".go"):
                return "RT-S002"
            continue
        version = expand(package.rsplit("@", 1)[1], variables)
        if not (_EXACT_GO_VERSION.match(version) or _COMMIT.match(version)):
            return "RT-S002"
    return None

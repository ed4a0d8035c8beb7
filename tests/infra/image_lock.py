"""What container/Dockerfile would install, read from its text and the lock files it copies.

``image_pins`` follows every ``pip install`` of every RUN step: ``-r <file>`` (mapped back through
the COPY steps to the repository's file, ``-r`` includes followed), explicit ``name==version``
arguments, bare names (unpinned) and ``$(grep -E '^name==' <file>)`` (the pin of ``name`` read from
a copied lock). ``lock_problems`` compares that with the dev lock and the running environment.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

# The packages whose versions must be the same in the image and in the tests (issue 19).
WATCHED = ("torch", "numpy", "av", "onnxruntime", "opencv-python-headless")
# Distributions that also provide the cv2 module: the image must install none of them.
OTHER_CV2 = ("opencv-python", "opencv-contrib-python", "opencv-contrib-python-headless")

_PIN = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?==([^\s;#]+)$")
_NAME = re.compile(r"^([A-Za-z0-9][A-Za-z0-9._-]*)(?:\[[^\]]*\])?$")
_GREP_PIN = re.compile(r"""^\$\(grep -E '\^([A-Za-z0-9._-]+)==' (\S+)\)$""")
_OPTIONS_WITH_VALUE = {"--index-url", "-i", "--extra-index-url", "-c", "--constraint", "-f"}

ReadFile = Callable[[str], str]  # repository-relative path -> text


def canonical(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def lock_pins(path: str, read: ReadFile) -> dict[str, str]:
    """``name==version`` lines of a requirements file (repository-relative), ``-r`` followed.

    A package pinned twice to different versions is an error, not a silent override.
    """
    pins: dict[str, str] = {}
    folder = path.rsplit("/", 1)[0] if "/" in path else ""
    for raw in read(path).splitlines():
        line = raw.split(" #", 1)[0].strip()
        if not line or line.startswith("#"):
            continue
        parts = line.split()
        if parts[0] in ("-r", "--requirement"):
            included = f"{folder}/{parts[1]}" if folder else parts[1]
            found = lock_pins(included, read)
        else:
            match = _PIN.match(line)
            if not match:
                continue
            found = {canonical(match.group(1)): match.group(2)}
        for name, version in found.items():
            if pins.get(name, version) != version:
                raise ValueError(f"{path}: {name} is pinned to {pins[name]} and {version}")
            pins[name] = version
    return pins


@dataclass
class ImageInstalls:
    pins: dict[str, set[str]] = field(default_factory=dict)
    unpinned: set[str] = field(default_factory=set)

    def add(self, name: str, version: str) -> None:
        self.pins.setdefault(canonical(name), set()).add(version)


def instructions(dockerfile: str) -> list[tuple[str, str]]:
    """(KEYWORD, arguments) per instruction, continuation lines joined, comments dropped."""
    lines = [line for line in dockerfile.splitlines() if not line.lstrip().startswith("#")]
    joined = re.sub(r"\\\n", " ", "\n".join(lines))
    found = []
    for line in joined.splitlines():
        if line.strip():
            keyword, _, rest = line.strip().partition(" ")
            found.append((keyword.upper(), rest.strip()))
    return found


def copied_files(dockerfile: str) -> dict[str, str]:
    """Image path -> repository path, for COPY steps from the build context."""
    copies: dict[str, str] = {}
    for keyword, rest in instructions(dockerfile):
        if keyword != "COPY":
            continue
        args = [a for a in shlex.split(rest) if not a.startswith("--")]
        if any(a.startswith("--from") for a in shlex.split(rest)):
            continue
        *sources, destination = args
        for source in sources:
            if destination.endswith("/"):
                copies[destination + source.rsplit("/", 1)[-1]] = source
            else:
                copies[destination] = source
    return copies


def image_pins(dockerfile: str, read: ReadFile) -> ImageInstalls:
    copies = copied_files(dockerfile)

    def repository_path(image_path: str) -> str:
        if image_path not in copies:
            raise ValueError(f"the Dockerfile installs {image_path}, which no COPY step provides")
        return copies[image_path]

    installs = ImageInstalls()
    for keyword, rest in instructions(dockerfile):
        if keyword != "RUN":
            continue
        for command in re.split(r";;|;|&&|\|\||\n", rest):
            tokens = shlex.split(command)
            if "pip" not in tokens or "install" not in tokens:
                continue
            args = tokens[tokens.index("install") + 1 :]
            index = 0
            while index < len(args):
                arg = args[index]
                index += 1
                if arg in ("-r", "--requirement"):
                    path = repository_path(args[index])
                    index += 1
                    for name, version in lock_pins(path, read).items():
                        installs.add(name, version)
                elif arg in _OPTIONS_WITH_VALUE:
                    index += 1
                elif arg.startswith("-"):
                    continue
                elif grep := _GREP_PIN.match(arg):
                    name = canonical(grep.group(1))
                    pins = lock_pins(repository_path(grep.group(2)), read)
                    if name not in pins:
                        raise ValueError(f"{grep.group(2)} pins no {name}")
                    installs.add(name, pins[name])
                elif pin := _PIN.match(arg):
                    installs.add(pin.group(1), pin.group(2))
                elif bare := _NAME.match(arg):
                    installs.unpinned.add(canonical(bare.group(1)))
                else:
                    raise ValueError(f"cannot tell what `pip install ... {arg}` installs")
    return installs


def lock_problems(
    dockerfile: str,
    read: ReadFile,
    dev_lock: str,
    environment: Mapping[str, str],
) -> list[str]:
    """Why the image would run other versions of the WATCHED packages than the tests do.

    ``dev_lock`` is the tests' lock (repository-relative); ``environment`` maps canonical names
    to the versions installed where the tests run (a local label such as ``+cpu`` is ignored).
    """
    installs = image_pins(dockerfile, read)
    tests = lock_pins(dev_lock, read)
    problems = []
    for name in WATCHED:
        image = installs.pins.get(name, set())
        locked = tests.get(name)
        running = environment.get(name, "").split("+", 1)[0] or None
        if name in installs.unpinned:
            problems.append(f"{name}: the image installs it unpinned")
        if len(image) != 1:
            problems.append(f"{name}: the image installs {sorted(image) or 'no version'}")
        elif image != {locked}:
            problems.append(f"{name}: the image installs {image.pop()}, the tests' lock {locked}")
        if running != locked:
            problems.append(f"{name}: the tests run {running}, their lock says {locked}")
    for other in OTHER_CV2:
        if other in installs.pins or other in installs.unpinned:
            problems.append(f"{other}: a second cv2 provider beside opencv-python-headless")
    return problems

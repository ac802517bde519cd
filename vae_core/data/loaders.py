"""Load many images at once: uploads (:func:`load_files`), zip archives (:func:`load_zip`), folders (:func:`load_path`).

Each file is decoded by :func:`vae_core.data.decode.decode_image`; this module adds what
only matters for collections: archive-wide limits (member count, total size,
compression ratio, bytes actually read), the memory budget of the whole upload and the
session (:class:`~vae_core.data.budget.PixelBudget`, checked from each image's header),
unsafe and clutter paths, and class labels from folder names or file names without their
index (:func:`_labels_for`). One bad file never costs the good ones: it lands in
``LoadReport.rejected`` with a reason.

Zips are read in memory; nothing is extracted to disk. Only the standard library,
numpy and Pillow are used (no torch, no streamlit).
"""

from __future__ import annotations

import io
import os
import re
import zipfile
from collections.abc import Iterable
from pathlib import Path, PurePosixPath

from vae_core.config import DEFAULT_LIMITS, LOCAL_LIMITS, ImageLimits
from vae_core.data.budget import PixelBudget
from vae_core.data.decode import decode_image
from vae_core.data.images import (
    LABEL_FROM_NAME,
    ImageRejected,
    LoadReport,
    Rejection,
    format_bytes,
    label_and_rule,
    label_from_name,
)

# Extensions treated as images inside zips and folders (anything else is reported).
IMAGE_EXTENSIONS = frozenset(
    [
        ".png",
        ".jpg",
        ".jpeg",
        ".jpe",
        ".jfif",
        ".bmp",
        ".dib",
        ".gif",
        ".tif",
        ".tiff",
        ".webp",
    ]
)
_ZIP_MAGIC = (b"PK\x03\x04", b"PK\x05\x06")  # normal archive, empty archive
# Members smaller than this are exempt from the compression-ratio check: a flat
# test image compresses >100x yet cannot hurt anyone, and the total-bytes cap
# (enforced while reading) still bounds the sum of many small members.
_RATIO_EXEMPT_BYTES = 1 << 20
# Files that operating systems drop into folders and archives on their own.
_SYSTEM_FILES = frozenset({"thumbs.db", "desktop.ini"})


def _is_hidden(path: str) -> bool:
    """True for macOS/Windows clutter: ``__MACOSX/``, dot-files, Thumbs.db, desktop.ini."""
    parts = path.replace("\\", "/").split("/")
    return (
        any(p == "__MACOSX" or (p.startswith(".") and p not in (".", "..")) for p in parts)
        or parts[-1].lower() in _SYSTEM_FILES
    )


def _is_unsafe(path: str) -> bool:
    """True for paths that would escape an extraction folder: absolute, drive letter, ``..``."""
    norm = path.replace("\\", "/")
    return norm.startswith("/") or re.match(r"^[A-Za-z]:", norm) is not None or ".." in norm.split("/")


def _labels_for(paths: list[str]) -> dict[str, tuple[str, str]]:
    """Label every relative path, ignoring a single folder that wraps everything: path -> (label, rule).

    The rule is ``LABEL_FROM_FOLDER`` or ``LABEL_FROM_NAME`` (see ``images.label_and_rule``).

    ``textures/brick/a.png`` -> ``brick`` (immediate parent). When every file
    sits in one top-level folder *and* that folder has subfolders, it is just a
    wrapper (what "Compress folder" makes), so its direct files use the
    file-name label. When every file sits directly in one folder with no
    subfolders, the folder is the label (``brick/a.png`` -> ``brick``) unless
    the file-name labels clearly name classes (at least two distinct
    labels, one of them shared by two or more files, e.g.
    ``textures/brick_01.png, textures/brick_02.png, textures/grass_01.png``).
    """
    split = {p: [s for s in p.replace("\\", "/").split("/") if s not in ("", ".")] for p in paths}
    tops = {parts[0] for parts in split.values() if len(parts) > 1}
    all_wrapped = bool(paths) and len(tops) == 1 and all(len(s) > 1 for s in split.values())
    strip_top = False
    if all_wrapped:
        if any(len(s) > 2 for s in split.values()):
            strip_top = True
        else:
            names = [label_from_name(s[-1]) for s in split.values()]
            counts = {label: names.count(label) for label in set(names)}
            strip_top = len(counts) >= 2 and max(counts.values()) >= 2
    labels = {}
    for path, parts in split.items():
        rel = parts[1:] if strip_top else parts
        labels[path] = label_and_rule("/".join(rel))
    return labels


def load_zip(
    data: bytes,
    name: str = "archive.zip",
    *,
    channels: int | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
    held_bytes: int = 0,
) -> LoadReport:
    """Load every image inside a zip archive, in memory (nothing is extracted to disk).

    Labels come from :func:`_labels_for` (parent folder, else the file name without its index).
    Directories and OS clutter (``__MACOSX/``, dot-files, Thumbs.db) are
    skipped silently; unsafe paths, non-image members, password-protected,
    over-compressed and damaged members are skipped and reported one by one,
    so one bad member never costs the good ones. Members beyond the memory budget
    (``limits``' pixel budgets; ``held_bytes``: what the session already holds) are skipped
    by name and ``LoadReport.note`` sums up what was kept.

    Raises:
        ImageRejected: when the *archive as a whole* cannot be trusted or read:
            not a zip, damaged directory, more than ``limits.max_zip_members``
            files, or more than ``limits.max_zip_total_bytes`` uncompressed.
            Refusing outright (rather than loading a prefix) keeps the result
            predictable; :func:`load_files` turns it into a rejection.
    """
    budget = PixelBudget(limits, held=held_bytes)
    report = _load_zip(data, name, channels, limits, budget)
    report.note = budget.summary()
    return report


def _load_zip(data: bytes, name: str, channels: int | None, limits: ImageLimits, budget: PixelBudget) -> LoadReport:
    """:func:`load_zip` charging ``budget``, which may be shared with the other files of one upload."""
    if len(data) > limits.max_zip_total_bytes:
        raise ImageRejected(
            name,
            f"'{name}' is {format_bytes(len(data))}; the limit is "
            f"{format_bytes(limits.max_zip_total_bytes)}. Split it into smaller archives.",
        )
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = archive.infolist()
    except Exception as exc:  # BadZipFile, OSError, struct errors, ...
        raise ImageRejected(name, f"'{name}' is not a zip archive this app can read, or it is damaged.") from exc

    report = LoadReport()
    with archive:
        files = [i for i in infos if not i.is_dir()]
        if len(files) > limits.max_zip_members:
            raise ImageRejected(
                name,
                f"'{name}' holds {len(files):,} files; the limit is {limits.max_zip_members:,}. "
                "Split it into smaller archives.",
            )
        declared = sum(i.file_size for i in files)
        if declared > limits.max_zip_total_bytes:
            raise ImageRejected(
                name,
                f"'{name}' unpacks to {format_bytes(declared)}; the limit is "
                f"{format_bytes(limits.max_zip_total_bytes)}. Split it into smaller archives.",
            )

        wanted: list[zipfile.ZipInfo] = []
        for info in files:
            member = info.filename
            suffix = PurePosixPath(member.replace("\\", "/")).suffix.lower()
            if _is_unsafe(member):
                report.rejected.append(
                    Rejection(
                        member,
                        f"'{member}' was skipped: unsafe path (it points outside the archive).",
                    )
                )
            elif _is_hidden(member):
                continue  # OS clutter: users never put it there on purpose
            elif suffix not in IMAGE_EXTENSIONS:
                ext = suffix or "no extension"
                report.rejected.append(Rejection(member, f"'{member}' was skipped: not an image file ({ext})."))
            else:
                wanted.append(info)

        labels = _labels_for([i.filename for i in wanted])
        budget_left = limits.max_zip_total_bytes  # enforced on bytes actually read
        for info in wanted:
            member = info.filename
            reason = _member_problem(info, member, limits)
            if reason is None and budget_left <= 0:
                reason = (
                    f"'{member}' was skipped: '{name}' unpacks to more than "
                    f"{format_bytes(limits.max_zip_total_bytes)} in total."
                )
            if reason is None and budget.is_full(limits.min_side**2):  # not even read: no image can fit
                reason = str(budget.refuse_unread(member))
            if reason is None:
                cap = min(limits.max_file_bytes, budget_left)
                try:
                    # Never trust the header: read at most cap+1 bytes, so an
                    # understated size cannot make us inflate more than the cap.
                    with archive.open(info) as fh:
                        payload = fh.read(cap + 1)
                except Exception:
                    reason = f"'{member}' is damaged inside the archive and was skipped."
                else:
                    budget_left -= len(payload)
                    if len(payload) > cap:
                        reason = (
                            f"'{member}' unpacks to more than {format_bytes(cap)} "
                            "(per-file or whole-archive limit) and was skipped."
                        )
            if reason is not None:
                report.rejected.append(Rejection(member, reason))
                continue
            try:
                report.images.append(
                    decode_image(
                        payload,
                        member,
                        label=labels[info.filename][0],
                        label_from=labels[info.filename][1],
                        channels=channels,
                        limits=limits,
                        budget=budget,
                    )
                )
            except ImageRejected as exc:
                report.rejected.append(Rejection(member, str(exc)))
    return report


def _member_problem(info: zipfile.ZipInfo, member: str, limits: ImageLimits) -> str | None:
    """Reason to skip a zip member before reading it, or ``None`` when it looks fine."""
    if info.flag_bits & 0x1:
        return f"'{member}' is password-protected and was skipped; zip it again without a password."
    if info.file_size > limits.max_file_bytes:
        size, cap = format_bytes(info.file_size), format_bytes(limits.max_file_bytes)
        return f"'{member}' is {size}; the limit is {cap} per file."
    if info.file_size > _RATIO_EXEMPT_BYTES:
        ratio = info.file_size / max(info.compress_size, 1)
        if ratio > limits.max_zip_ratio:
            return (
                f"'{member}' was skipped: it is compressed {ratio:,.0f} to 1, above the "
                f"{limits.max_zip_ratio:g} to 1 safety limit for zip archives (possible zip bomb)."
            )
    return None


def load_files(
    files: Iterable[tuple[str, bytes]],
    *,
    channels: int | None = None,
    limits: ImageLimits = DEFAULT_LIMITS,
    held_bytes: int = 0,
) -> LoadReport:
    """Load uploads given as ``(file name, bytes)`` pairs: plain images or zip archives.

    Zips are recognised by their magic bytes (``PK\\x03\\x04``), not by the
    extension, so a renamed archive still works. A plain file's label comes
    from its name without the index (``brick_01.png`` -> ``brick``). Never raises for a
    bad file: it lands in ``rejected`` with a reason.

    Memory: all the files together are one upload, held to ``limits.max_upload_pixel_bytes``
    of decoded pixels, and to ``limits.max_session_pixel_bytes`` counting ``held_bytes`` (the
    decoded pixels the session already holds). Each image is checked from its header before
    it is decoded; one that does not fit is rejected by name, later smaller ones may still
    fit, and ``LoadReport.note`` sums up what was kept and skipped.
    """
    budget = PixelBudget(limits, held=held_bytes)
    report = _load_files(files, channels, limits, budget)
    report.note = budget.summary()
    return report


def _load_files(
    files: Iterable[tuple[str, bytes]], channels: int | None, limits: ImageLimits, budget: PixelBudget
) -> LoadReport:
    report = LoadReport()
    for name, data in files:
        try:
            if data[:4] in _ZIP_MAGIC:
                report.extend(_load_zip(data, name, channels, limits, budget))
            else:
                base = PurePosixPath(name.replace("\\", "/")).name
                report.images.append(
                    decode_image(
                        data,
                        name,
                        label=label_from_name(base),
                        label_from=LABEL_FROM_NAME,
                        channels=channels,
                        limits=limits,
                        budget=budget,
                    )
                )
        except ImageRejected as exc:
            report.rejected.append(Rejection(name, str(exc)))
    return report


def load_path(
    path: str | Path,
    *,
    channels: int | None = None,
    limits: ImageLimits = LOCAL_LIMITS,
) -> LoadReport:
    """Load a folder (recursively), a zip file or a single image file from disk.

    In a folder, labels follow the zip rules relative to the folder: the
    immediate parent folder, else the file-name label. Zip files inside the
    folder are loaded too. Files are visited in sorted order so results are
    reproducible. The default ``limits`` (``LOCAL_LIMITS``) check every file but set no
    memory budget: the disk and the machine belong to whoever runs this.

    Raises:
        FileNotFoundError: when ``path`` does not exist.
    """
    root = Path(path)
    if not root.exists():
        raise FileNotFoundError(f"path={str(path)!r} does not exist; give an image, a zip file or a folder")
    report = LoadReport()
    if root.is_file():
        cap = max(limits.max_file_bytes, limits.max_zip_total_bytes)
        if _too_big(root, root.name, cap, report):
            return report
        return load_files([(root.name, root.read_bytes())], channels=channels, limits=limits)

    budget = PixelBudget(limits)  # one budget for the whole folder (none with LOCAL_LIMITS)

    candidates: list[str] = []
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames.sort()  # os.walk honours in-place edits: deterministic order
        for fname in sorted(filenames):
            rel = Path(dirpath, fname).relative_to(root).as_posix()
            suffix = PurePosixPath(fname).suffix.lower()
            if _is_hidden(rel):
                continue
            if suffix == ".zip":
                if not _too_big(root / rel, rel, limits.max_zip_total_bytes, report):
                    data = (root / rel).read_bytes()
                    report.extend(_load_files([(rel, data)], channels, limits, budget))
            elif suffix in IMAGE_EXTENSIONS:
                candidates.append(rel)
            else:
                kind = suffix or "no extension"
                reason = f"'{rel}' was skipped: not an image file ({kind})."
                report.rejected.append(Rejection(rel, reason))

    labels = _labels_for(candidates)
    for rel in candidates:
        if _too_big(root / rel, rel, limits.max_file_bytes, report):
            continue
        data = (root / rel).read_bytes()
        try:
            label, label_from = labels[rel]
            image = decode_image(
                data, rel, label=label, label_from=label_from, channels=channels, limits=limits, budget=budget
            )
        except ImageRejected as exc:
            report.rejected.append(Rejection(rel, str(exc)))
        else:
            report.images.append(image)
    report.note = budget.summary()
    return report


def _too_big(file: Path, name: str, cap: int, report: LoadReport) -> bool:
    """Record a rejection and return True when ``file`` on disk exceeds ``cap`` bytes.

    Checked with ``stat`` so an oversized file is never read into memory.
    """
    size = file.stat().st_size
    if size <= cap:
        return False
    reason = f"'{name}' is {format_bytes(size)}; the limit is {format_bytes(cap)}. Downscale or split it."
    report.rejected.append(Rejection(name, reason))
    return True

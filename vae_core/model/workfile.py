"""A person's work in one file: the model (with what it needs to resume), the labels, the settings, and the images.

A browser reload starts a new Streamlit session: the images, labels, patches and model of
the old one are gone. ``save_work`` packs them into one zip a person downloads with one click,
and ``open_work`` restores it, validated like any upload:

```
my_texture_vae_work.zip
  work.json           format, version, patch settings, every image's name and label, where the model came from
  model.safetensors   the checkpoint (vae_core.model.checkpoint), with its optimiser state: Resume works
  images/0001.png ... the images as lossless PNG, when they fit in ``MAX_IMAGE_BYTES``
```

Opening never half-applies anything: it returns a complete ``Work`` or raises
``WorkFileError`` with plain words, and the caller then replaces the session's state in one
step. The images go through the same loader as any uploaded zip (``data.loaders.load_zip``:
its member, size, ratio and pixel limits); the checkpoint through ``checkpoint.from_bytes``
(nothing unpickled, every tensor checked); ``work.json`` is size-capped and every field
type-checked. An image that cannot be read is reported by name and the rest are kept.
"""

from __future__ import annotations

import io
import json
import zipfile
from dataclasses import asdict, dataclass, field, fields
from typing import Any

from vae_core.config import DEFAULT_LIMITS, PATCH_SIZES, ImageLimits, PatchConfig
from vae_core.data.images import ImageRejected, Rejection, TextureImage, format_bytes

FORMAT_NAME = "texture-vae-work"
FORMAT_VERSION = 1
WORK_JSON, MODEL_FILE, IMAGE_DIR = "work.json", "model.safetensors", "images/"
MAX_IMAGE_BYTES = 100 * 1024 * 1024  # PNGs in one work file; above it the images are left out (said so)
MAX_JSON_BYTES = 4 * 1024 * 1024
MAX_LABEL_CHARS = 200


class WorkFileError(ValueError):
    """A file that cannot be opened as saved work; the message says why in plain words."""


@dataclass
class SavedWork:
    """What ``save_work`` made: the zip's bytes, and whether the images are inside."""

    data: bytes
    images_included: bool
    note: str  # plain words for the person, e.g. why the images were left out


@dataclass
class Work:
    """What ``open_work`` read: everything needed to restore a session, already validated."""

    checkpoint: Any  # vae_core.model.checkpoint.Checkpoint, or None when no model was saved
    images: list[TextureImage] | None  # None when the file holds no images (labels then apply by name)
    labels: dict[str, str]  # image name -> label
    patch_config: PatchConfig
    model_source: str
    rejected: list[Rejection] = field(default_factory=list)  # images that could not be read


def save_work(
    *,
    images: list[TextureImage],
    patch_config: PatchConfig,
    model: Any = None,
    train_config: Any = None,
    state: Any = None,
    dataset: dict | None = None,
    model_source: str = "",
    max_image_bytes: int = MAX_IMAGE_BYTES,
) -> SavedWork:
    """Pack the work into a zip (module docstring). The images are left out when their PNGs pass ``max_image_bytes``."""
    from vae_core.imaging import to_png
    from vae_core.model.checkpoint import to_bytes

    pngs: list[bytes] | None = []
    total = 0
    for image in images:
        png = to_png(image.pixels)
        total += len(png)
        if total > max_image_bytes:
            pngs = None
            break
        pngs.append(png)
    entries = [
        {"name": im.name, "label": im.label, "file": f"{IMAGE_DIR}{i + 1:04d}.png" if pngs is not None else None}
        for i, im in enumerate(images)
    ]
    meta = {
        "format": FORMAT_NAME,
        "version": FORMAT_VERSION,
        "model_source": model_source,
        "has_model": model is not None,
        "patch_config": asdict(patch_config),
        "images": entries,
    }
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_DEFLATED) as zf:
        zf.writestr(WORK_JSON, json.dumps(meta, indent=1))
        if model is not None:
            ckpt = to_bytes(model, train_config=train_config, state=state, dataset=dataset)
            zf.writestr(zipfile.ZipInfo(MODEL_FILE), ckpt, compress_type=zipfile.ZIP_STORED)
        for entry, png in zip(entries, pngs or [], strict=False):
            zf.writestr(zipfile.ZipInfo(entry["file"]), png, compress_type=zipfile.ZIP_STORED)
    if pngs is None:
        note = (
            f"Your {len(images)} images were left out: as PNG they pass the {format_bytes(max_image_bytes)} limit "
            "of a work file. Their names and labels are saved; after opening, upload the images again."
        )
    else:
        note = f"Saved {'the model, ' if model is not None else ''}{len(images)} images, their labels and settings."
    return SavedWork(data=buf.getvalue(), images_included=pngs is not None, note=note)


def open_work(data: bytes, name: str = "work.zip", limits: ImageLimits = DEFAULT_LIMITS) -> Work:
    """Read a file made by ``save_work``; raises ``WorkFileError`` (plain words) if it cannot be used at all."""
    try:
        archive = zipfile.ZipFile(io.BytesIO(data))
        infos = {i.filename: i for i in archive.infolist()}
    except Exception as exc:
        raise WorkFileError(f"'{name}' is not a work file saved by this app (it is not a zip archive).") from exc
    with archive:
        meta = _read_meta(archive, infos, name)
        checkpoint = _read_model(archive, infos, name) if meta["has_model"] else None
    images, rejected = _read_images(data, name, meta, limits)
    return Work(
        checkpoint=checkpoint,
        images=images,
        labels={e["name"]: e["label"] for e in meta["images"]},
        patch_config=meta["patch_config"],
        model_source=meta["model_source"],
        rejected=rejected,
    )


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, cap: int, name: str) -> bytes:
    if info.file_size > cap:
        raise WorkFileError(f"'{name}' is damaged or not from this app: '{info.filename}' is too large.")
    with archive.open(info) as fh:
        payload = fh.read(cap + 1)  # never trust the header's size
    if len(payload) > cap:
        raise WorkFileError(f"'{name}' is damaged or not from this app: '{info.filename}' is too large.")
    return payload


def _read_meta(archive: zipfile.ZipFile, infos: dict, name: str) -> dict[str, Any]:
    bad = f"'{name}' is not a work file saved by this app, or it is damaged"
    if WORK_JSON not in infos:
        raise WorkFileError(f"{bad} (it has no {WORK_JSON}). To open a model alone, use the Model page.")
    try:
        meta = json.loads(_read_member(archive, infos[WORK_JSON], MAX_JSON_BYTES, name))
    except WorkFileError:
        raise
    except (ValueError, zipfile.BadZipFile, OSError) as exc:
        raise WorkFileError(f"{bad} ({WORK_JSON} cannot be read).") from exc
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise WorkFileError(f"{bad}.")
    if meta.get("version") != FORMAT_VERSION:
        raise WorkFileError(f"'{name}' was saved by another version of this app (format {meta.get('version')!r}).")
    entries = meta.get("images")
    ok = isinstance(entries, list) and all(
        isinstance(e, dict)
        and isinstance(e.get("name"), str)
        and isinstance(e.get("label"), str)
        and 0 < len(e["name"]) <= 1000
        and len(e["label"]) <= MAX_LABEL_CHARS
        and (e.get("file") is None or (isinstance(e["file"], str) and e["file"].startswith(IMAGE_DIR)))
        for e in entries
    )
    if not ok or not isinstance(meta.get("has_model"), bool) or not isinstance(meta.get("model_source", ""), str):
        raise WorkFileError(f"{bad} (its list of images or model is malformed).")
    meta["patch_config"] = _patch_config(meta.get("patch_config"), name)
    meta["model_source"] = str(meta.get("model_source", ""))[:200]
    return meta


def _patch_config(raw: Any, name: str) -> PatchConfig:
    known = {f.name: f for f in fields(PatchConfig)}
    if not isinstance(raw, dict) or set(raw) - set(known):
        raise WorkFileError(f"'{name}' has patch settings this app does not know.")
    default = PatchConfig()
    values = {}
    for key, value in raw.items():
        want = type(getattr(default, key))
        if key == "stride" and value is None:
            values[key] = None
        elif want is float and isinstance(value, (int, float)) and not isinstance(value, bool):
            values[key] = float(value)
        elif type(value) is want or (key == "stride" and type(value) is int):
            values[key] = value
        else:
            raise WorkFileError(f"'{name}' has a patch setting of the wrong kind: {key}={value!r}.")
    config = PatchConfig(**values)
    if (
        config.patch_size not in PATCH_SIZES
        or config.channels not in (1, 3)
        or config.mode not in ("random", "strided")
    ):
        raise WorkFileError(f"'{name}' has patch settings out of range ({config}).")
    if not (1 <= config.patches_per_image <= 4096 and 0.0 <= config.val_fraction < 1.0 and 0 <= config.seed < 2**32):
        raise WorkFileError(f"'{name}' has patch settings out of range ({config}).")
    return config


def _read_model(archive: zipfile.ZipFile, infos: dict, name: str) -> Any:
    from vae_core.model.checkpoint import MAX_CHECKPOINT_BYTES, CheckpointError, from_bytes

    if MODEL_FILE not in infos:
        raise WorkFileError(f"'{name}' is damaged: it says it holds a model, but {MODEL_FILE} is missing.")
    payload = _read_member(archive, infos[MODEL_FILE], MAX_CHECKPOINT_BYTES, name)
    try:
        return from_bytes(payload, f"{name}/{MODEL_FILE}")
    except CheckpointError as exc:
        raise WorkFileError(str(exc)) from exc
    except Exception as exc:  # a file crafted to get past the checks must still not crash the page
        raise WorkFileError(f"'{name}': the model inside could not be read.") from exc


def _read_images(data: bytes, name: str, meta: dict, limits: ImageLimits) -> tuple[list | None, list[Rejection]]:
    from vae_core.data.loaders import load_zip

    by_file = {e["file"]: e for e in meta["images"] if e.get("file")}
    if not by_file:
        return None, []
    try:
        report = load_zip(data, name, limits=limits)
    except ImageRejected as exc:
        raise WorkFileError(str(exc)) from exc
    images, rejected, seen = [], [], set()
    for image in report.images:
        entry = by_file.get(image.name)
        if entry is not None:  # anything else in the zip is ignored
            images.append(TextureImage(name=entry["name"], label=entry["label"], pixels=image.pixels))
            seen.add(image.name)
    for r in report.rejected:
        if r.name in by_file:  # said with the image's own name, not its place in the zip
            rejected.append(Rejection(by_file[r.name]["name"], r.reason.replace(r.name, by_file[r.name]["name"])))
            seen.add(r.name)
    for file, entry in by_file.items():
        if file not in seen:
            rejected.append(Rejection(entry["name"], f"'{entry['name']}' is missing from the work file."))
    order = {e["name"]: i for i, e in enumerate(meta["images"])}
    images.sort(key=lambda im: order[im.name])
    return images, rejected

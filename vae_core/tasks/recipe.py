"""Texture recipes: a small JSON file that reopens exactly one view of Latent sliders or Generate, to the pixel.

A recipe holds the model's fingerprint (:func:`vae_core.model.fingerprint.model_fingerprint`),
the latent codes, and the settings of the view that made the picture::

    {"format": "texture-vae-recipe", "version": 1,
     "model": {"fingerprint": "sha256:...", "name": "Starter model (bundled)"},
     "view": "interpolation",
     "codes": {"ends": [[0.12, -1.3, ...], [...]]},
     "settings": {"steps": 8, "method": "slerp"}}

Codes are written as the exact decimal of each float32, so reading one back gives the same
bits and :func:`render_recipe` the same pixels (on the same kind of machine: another CPU's
arithmetic may differ in the last bit of a float and so, rarely, by one level in a pixel).

Recipes are uploaded by strangers, so :func:`read_recipe` trusts nothing: the size is
checked before parsing, NaN/Infinity are refused, deep nesting stops the parser, and every
field is checked for type, length and range; any failure is a :class:`RecipeError` whose
message says what is wrong in plain words. A recipe made with another model is refused
naming both models, since the same codes would draw something else.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field, fields
from typing import Any

import numpy as np

from vae_core.model.fingerprint import short_fingerprint

FORMAT = "texture-vae-recipe"
VERSION = 1
MAX_RECIPE_BYTES = 1_000_000  # refused before parsing
MAX_NUMBERS = 100_000  # latent numbers in one recipe
MAX_ABS = 1e4  # no sensible code has a coordinate this large
MAX_LABEL = 200  # characters

# The code arrays each view needs, with their allowed numbers of rows.
VIEWS: dict[str, dict[str, tuple[int, int]]] = {
    "sliders": {"z": (1, 1)},
    "samples": {"z": (1, 64)},
    "interpolation": {"ends": (2, 2)},
    "mix": {"a": (1, 1), "b": (1, 1)},
    "arithmetic": {"a": (1, 1), "b": (1, 1), "c": (1, 1)},
    "large": {},  # members0..3 (1-256 rows) and spread0..3 (1-256 rows): see _check_large
}
VIEW_NAMES = {
    "sliders": "a Latent sliders texture",
    "samples": "samples from the prior",
    "interpolation": "an interpolation",
    "mix": "a style mix",
    "arithmetic": "latent arithmetic",
    "large": "a large texture",
}
# Settings each view reads: name -> type, and (lo, hi) for numbers or the allowed strings.
SETTINGS: dict[str, dict[str, tuple[type, Any]]] = {
    "sliders": {},
    "samples": {"temperature": (float, (0.3, 1.5)), "seed": (int, (0, 2**32 - 1))},
    "interpolation": {"steps": (int, (2, 32)), "method": (str, ("slerp", "lerp"))},
    "mix": {"dims": (list, (0, 255))},
    "arithmetic": {"strength": (float, (-3.0, 3.0))},
    "large": {},  # CanvasSettings' fields: see _check_large
}


class RecipeError(ValueError):
    """A recipe that cannot be opened; the message says why in plain words."""


@dataclass
class Recipe:
    """One view's codes and settings, and the model they belong to."""

    view: str  # one of VIEWS
    codes: dict[str, np.ndarray]  # name -> (rows, D) float32
    settings: dict[str, Any]  # the view's settings (see SETTINGS), plus an optional "label"
    fingerprint: str  # the model's fingerprint
    model_name: str  # the model's name as people saw it ("Starter model (bundled)", a file name)
    extra: dict[str, Any] = field(default_factory=dict)  # not saved: e.g. the rendered result


def to_json(recipe: Recipe) -> bytes:
    """The recipe as UTF-8 JSON bytes (float32 codes written exactly)."""
    codes = recipe.codes.items()
    doc = {
        "format": FORMAT,
        "version": VERSION,
        "model": {"fingerprint": recipe.fingerprint, "name": recipe.model_name},
        "view": recipe.view,
        "codes": {k: np.asarray(v, np.float32).reshape(len(v), -1).astype(float).tolist() for k, v in codes},
        "settings": recipe.settings,
    }
    return json.dumps(doc, separators=(",", ":")).encode()


def _refuse_constant(name: str) -> Any:
    raise RecipeError(f"the recipe contains {name}, which is not a number; only finite numbers are allowed")


def _parse(data: bytes) -> dict[str, Any]:
    if len(data) > MAX_RECIPE_BYTES:
        raise RecipeError(f"this file is {len(data) / 1e6:.1f} MB; a recipe is at most {MAX_RECIPE_BYTES / 1e6:.0f} MB")
    try:
        doc = json.loads(data.decode("utf-8"), parse_constant=_refuse_constant)
    except RecipeError:
        raise
    except RecursionError:
        raise RecipeError("this file nests lists or objects far too deeply to be a recipe") from None
    except (UnicodeDecodeError, ValueError) as exc:
        raise RecipeError(f"this file is not a recipe: it is not valid JSON ({str(exc)[:120]})") from None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        raise RecipeError('this file is JSON but not a texture recipe (no "format": "texture-vae-recipe")')
    if doc.get("version") != VERSION:
        raise RecipeError(f"this recipe has version {doc.get('version')!r}; this app opens version {VERSION}")
    unknown = sorted(set(doc) - {"format", "version", "model", "view", "codes", "settings"})
    if unknown:
        raise RecipeError(f"this recipe has unknown fields {unknown[:5]}; it was made by another program")
    return doc


def _number(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecipeError(f"{where} must be a number, not {type(value).__name__}")
    if not np.isfinite(value) or abs(value) > MAX_ABS:
        raise RecipeError(f"{where} = {value!r} is not a usable code value (finite, at most {MAX_ABS:g} in size)")
    return float(value)


def _array(raw: Any, name: str, dim: int, rows: tuple[int, int], budget: list[int]) -> np.ndarray:
    lo, hi = rows
    if not isinstance(raw, list) or not lo <= len(raw) <= hi:
        what = f"a list of {lo}" + (f" to {hi}" if hi != lo else "") + " codes"
        raise RecipeError(f"codes.{name} must be {what}")
    budget[0] += len(raw) * dim
    if budget[0] > MAX_NUMBERS:
        raise RecipeError(f"the recipe holds more than {MAX_NUMBERS:,} numbers; it is not a recipe of this app")
    out = np.empty((len(raw), dim), np.float32)
    for i, row in enumerate(raw):
        if not isinstance(row, list) or len(row) != dim:
            got = f"{len(row)} numbers" if isinstance(row, list) else type(row).__name__
            raise RecipeError(f"codes.{name}[{i}] must be a list of {dim} numbers (the model's code length), not {got}")
        out[i] = [_number(v, f"codes.{name}[{i}][{j}]") for j, v in enumerate(row)]
    return out


def _setting(value: Any, name: str, kind: type, allowed: Any) -> Any:
    where = f"settings.{name}"
    if kind is bool:
        if not isinstance(value, bool):
            raise RecipeError(f"{where} must be true or false")
        return value
    if kind is str:
        if not isinstance(value, str) or value not in allowed:
            raise RecipeError(f"{where} must be one of {list(allowed)}")
        return value
    if kind is list:
        if not isinstance(value, list) or len(value) > allowed[1] + 1:
            raise RecipeError(f"{where} must be a list of at most {allowed[1] + 1} whole numbers")
        return [int(_setting(v, f"{name}[{i}]", int, allowed)) for i, v in enumerate(value)]
    if kind is int and (isinstance(value, bool) or not isinstance(value, int)):
        raise RecipeError(f"{where} must be a whole number")
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise RecipeError(f"{where} must be a number, not {type(value).__name__}")
    number = float(value)
    if not allowed[0] <= number <= allowed[1]:  # NaN fails this too
        raise RecipeError(f"{where} = {value!r} is out of range; it must be between {allowed[0]} and {allowed[1]}")
    return int(number) if kind is int else number


def _settings(raw: Any, spec: dict[str, tuple[type, Any]]) -> dict[str, Any]:
    if not isinstance(raw, dict):
        raise RecipeError("settings must be a JSON object")
    unknown = sorted(set(raw) - set(spec) - {"label"})
    missing = sorted(set(spec) - set(raw))
    if unknown:
        raise RecipeError(f"settings has entries this view does not know: {unknown[:5]}")
    if missing:
        raise RecipeError(f"settings is missing {missing[:5]}")
    out = {name: _setting(raw[name], name, *spec[name]) for name in spec}
    if "label" in raw:
        if not isinstance(raw["label"], str) or len(raw["label"]) > MAX_LABEL:
            raise RecipeError(f"settings.label must be text of at most {MAX_LABEL} characters")
        out["label"] = raw["label"]
    return out


def _large_spec() -> dict[str, tuple[type, Any]]:
    from vae_core.tasks.synthesis import FIELDS, MAX_CANVAS, METHODS, CanvasSettings

    ranges = {"size": (16, MAX_CANVAS), "variation": (0.0, 3.0), "temperature": (0.1, 2.0), "walk_scale": (0.05, 1.0)}
    ranges |= {"locality": (0.0, 100.0), "seed": (0, 2**32 - 1), "field": FIELDS, "method": METHODS}
    return {f.name: (type(getattr(CanvasSettings(), f.name)), ranges.get(f.name)) for f in fields(CanvasSettings)}


def _check_model(model: Any, fingerprint: str, model_name: str) -> None:
    if not isinstance(model, dict) or not isinstance(model.get("fingerprint"), str):
        raise RecipeError("this recipe does not say which model it was made with (model.fingerprint is missing)")
    name = model.get("name") if isinstance(model.get("name"), str) else "an unnamed model"
    if model["fingerprint"] != fingerprint:
        raise RecipeError(
            f"This recipe was made with the model “{name[:MAX_LABEL]}” (fingerprint "
            f"{short_fingerprint(model['fingerprint'])[:12]}), but the model loaded now is “{model_name}” "
            f"(fingerprint {short_fingerprint(fingerprint)}). The same codes would draw something else with another "
            "model: load the model it was made with (Model page), then open the recipe again."
        )


def _large_arrays(settings: dict[str, Any]) -> dict[str, tuple[int, int]]:
    count = {"walk": 0, "one": 1}.get(settings["field"])
    if count is None:
        return {}  # checked against the codes given, below
    return {f"{k}{i}": (1, 256) for i in range(count) for k in ("members", "spread")}


def read_recipe(data: bytes, *, fingerprint: str, model_name: str, latent_dim: int, patch_size: int) -> Recipe:
    """Parse and check an uploaded recipe for the loaded model. Raises :class:`RecipeError` saying why not."""
    doc = _parse(data)
    _check_model(doc.get("model"), fingerprint, model_name)
    view = doc.get("view")
    if view not in VIEWS:
        raise RecipeError(f"view {str(view)[:40]!r} is not one this app knows; expected one of {list(VIEWS)}")
    raw_codes = doc.get("codes")
    if not isinstance(raw_codes, dict):
        raise RecipeError("codes must be a JSON object of named lists of codes")
    if view == "large":
        settings = _settings(doc.get("settings"), _large_spec())
        arrays = _large_arrays(settings)
        if not arrays:  # a blend: 2-4 styles, as many as the recipe gives
            n = len(raw_codes) // 2
            if not 2 <= n <= 4:
                raise RecipeError("a blended large texture needs the codes of 2 to 4 textures")
            arrays = {f"{k}{i}": (1, 256) for i in range(n) for k in ("members", "spread")}
    else:
        settings = _settings(doc.get("settings"), SETTINGS[view])
        arrays = VIEWS[view]
    if set(raw_codes) != set(arrays):
        raise RecipeError(f"codes must hold exactly {sorted(arrays)}, this one holds {sorted(raw_codes)[:8]}")
    budget = [0]
    codes = {name: _array(raw_codes[name], name, latent_dim, rows, budget) for name, rows in arrays.items()}
    if view == "mix" and any(d >= latent_dim for d in settings["dims"]):
        raise RecipeError(f"settings.dims names a dimension beyond this model's {latent_dim}")
    if view == "large":
        try:
            _canvas_settings(settings).validate(patch_size)
        except ValueError as exc:
            raise RecipeError(f"the large texture's settings do not fit this model: {exc}") from None
    return Recipe(view, codes, settings, doc["model"]["fingerprint"], str(doc["model"].get("name", "")))


def _canvas_settings(settings: dict[str, Any]) -> Any:
    from vae_core.tasks.synthesis import CanvasSettings

    return CanvasSettings(**{k: v for k, v in settings.items() if k != "label"})


def large_recipe(styles: list[Any], settings: Any, fingerprint: str, model_name: str, label: str = "") -> Recipe:
    """A recipe of a large texture: its styles (``synthesis.Style``) and ``CanvasSettings``."""
    codes = {}
    for i, s in enumerate(styles):
        codes[f"members{i}"] = s.members
        codes[f"spread{i}"] = s.spread.T  # rows of code length, like every other array
    return Recipe("large", codes, asdict(settings) | ({"label": label} if label else {}), fingerprint, model_name)


@dataclass
class Rendered:
    """What a recipe draws: the view's picture, the code to open in the sliders, and the view's own result."""

    image: np.ndarray  # (H, W, C) uint8: the picture the view showed
    code: np.ndarray | None  # (D,) its main code (the first one), for the Latent sliders; None for a prior walk
    detail: Any  # generate.Decoded, generate.Interpolation or synthesis.Canvas


def render_recipe(model: Any, recipe: Recipe, on_progress: Any = None) -> Rendered:
    """Draw a recipe's picture again with ``model`` (the one it was checked against): same inputs, same pixels."""
    from vae_core.tasks import generate as g

    c, s = recipe.codes, recipe.settings
    if recipe.view in ("sliders", "samples"):
        d = g.decode_codes(model, c["z"])
        image = d.images[0] if recipe.view == "sliders" else g.grid_image(d.images)
        return Rendered(image, c["z"][0], d)
    if recipe.view == "interpolation":
        interp = g.interpolate_ends(model, c["ends"][0], c["ends"][1], s["steps"], s["method"])
        return Rendered(g.interpolation_strip(interp), c["ends"][0], interp)
    if recipe.view in ("mix", "arithmetic"):
        if recipe.view == "mix":
            z = g.mix_dimensions(c["a"][0], c["b"][0], s["dims"])
        else:
            z = g.latent_arithmetic(c["a"][0], c["b"][0], c["c"][0], s["strength"])
        d = g.decode_codes(model, z)
        return Rendered(d.images[0], z, d)
    from vae_core.tasks.synthesis import Style, synthesize

    styles = [Style(c[f"members{i}"], c[f"spread{i}"].T.copy()) for i in range(len(c) // 2)]
    canvas = synthesize(model, styles, _canvas_settings(s), on_progress)
    return Rendered(canvas.pixels, styles[0].members[0] if styles else None, canvas)

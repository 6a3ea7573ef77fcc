"""On-the-fly LQ synthesis for training: ReCoFuse's single and combined degradations (R1-R6).

VIS gets low light, haze, noise; IR gets low contrast, stripes, noise (shared/reference/
degradations.md). Each degradation is applied through its registered benchbed plugin when one
exists, so training and test use the same code; parameters are drawn uniformly between the
plugin's mildest and most severe declared levels. A degradation with no plugin falls back to a
small internal implementation of the same formula over the ranges inferred from the shipped
ReCoFuse test pairs.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

import numpy as np

Image = np.ndarray
Fallback = Callable[[Image, np.random.Generator], Image]

# (names applied in order, probability). Singles and the combinations seen in the test pairs.
VIS_RECIPES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("low_light",), 0.25),
    (("haze",), 0.20),
    (("gaussian_noise",), 0.15),
    (("low_light", "gaussian_noise"), 0.125),
    (("haze", "gaussian_noise"), 0.125),
    # Clean inputs too: benchbed suites degrade one modality at a time, so the other arrives clean.
    ((), 0.15),
)
IR_RECIPES: tuple[tuple[tuple[str, ...], float], ...] = (
    (("low_contrast",), 0.30),
    (("ir_stripes",), 0.20),
    (("gaussian_noise",), 0.10),
    (("ir_stripes", "gaussian_noise"), 0.10),
    (("low_contrast", "gaussian_noise"), 0.15),
    ((), 0.15),
)
# "v2" (issue 19, gate 2b): R3's "noise + mild contrast change" case (LQ ~ 0.70 HQ + 14/255,
# measured 0.68 HQ + 0.11 on the FMB pairs) on its own and with noise, and more clean inputs. v1
# had none of it, and its VIS branch, trained on mostly-night scenes, darkened bright daytime
# LQ as if it were haze.
VIS_RECIPES_V2: tuple[tuple[tuple[str, ...], float], ...] = (
    (("low_light",), 0.18),
    (("haze",), 0.14),
    (("gaussian_noise",), 0.12),
    (("low_light", "gaussian_noise"), 0.09),
    (("haze", "gaussian_noise"), 0.09),
    (("vis_fade",), 0.08),
    (("vis_fade", "gaussian_noise"), 0.10),
    ((), 0.20),
)
RECIPE_SETS: dict[str, tuple[tuple[tuple[tuple[str, ...], float], ...], ...]] = {
    "v1": (VIS_RECIPES, IR_RECIPES),
    "v2": (VIS_RECIPES_V2, IR_RECIPES),
}
# Plugin levels to draw between, where a plugin's range is wider than ReCoFuse's (R3/R6: 5-15/255).
LEVEL_SUBSETS: dict[str, tuple[str, ...]] = {"gaussian_noise": ("1", "2", "3")}


def _u(rng: np.random.Generator, lo: float, hi: float) -> float:
    return float(rng.uniform(lo, hi))


def _low_light(x: Image, rng: np.random.Generator) -> Image:
    # R1: y = s x^g, g in 1.2-1.9, s in 0.37-1.0 (fits of the shipped pairs).
    return _u(rng, 0.37, 1.0) * np.power(x, _u(rng, 1.2, 1.9))


def _haze(x: Image, rng: np.random.Generator) -> Image:
    # R2: y = t x + A (1 - t), t in 0.35-0.45, A in 0.76-0.87.
    t = _u(rng, 0.35, 0.45)
    return t * x + _u(rng, 0.76, 0.87) * (1 - t)


def _vis_fade(x: Image, rng: np.random.Generator) -> Image:
    # R3's mild contrast change: y = a x + b, a in 0.55-0.85, b in 10-50 /255 (around 0.70, 14/255).
    return _u(rng, 0.55, 0.85) * x + _u(rng, 10.0, 50.0) / 255


def _noise_vis(x: Image, rng: np.random.Generator) -> Image:
    # R3: sigma 10.5-15 /255 per pixel and channel.
    return x + _u(rng, 10.5, 15.0) / 255 * rng.standard_normal(x.shape)


def _noise_ir(x: Image, rng: np.random.Generator) -> Image:
    # R6: sigma 5-12.6 /255.
    return x + _u(rng, 5.0, 12.6) / 255 * rng.standard_normal(x.shape)


def _low_contrast(x: Image, rng: np.random.Generator) -> Image:
    # R4: y = a x + b, a in 0.29-0.71, b in 57-126 /255.
    return _u(rng, 0.29, 0.71) * x + _u(rng, 57, 126) / 255


def _stripes(x: Image, rng: np.random.Generator) -> Image:
    # R5: one N(0, sigma_s^2) offset per column, sigma_s in 1.7-3.4 /255.
    cols = _u(rng, 1.7, 3.4) / 255 * rng.standard_normal(x.shape[1])
    return x + (cols[None, :, None] if x.ndim == 3 else cols[None, :])


FALLBACKS: dict[tuple[str, str], Fallback] = {
    ("low_light", "vi"): _low_light,
    ("haze", "vi"): _haze,
    ("vis_fade", "vi"): _vis_fade,
    ("gaussian_noise", "vi"): _noise_vis,
    ("gaussian_noise", "ir"): _noise_ir,
    ("low_contrast", "ir"): _low_contrast,
    ("ir_stripes", "ir"): _stripes,
}


def sample_severity(levels: Mapping[str, Mapping[str, Any]], rng: np.random.Generator) -> dict[str, Any]:
    """Numeric parameters uniform between their min and max over ``levels``; others from one level."""
    chosen = dict(levels[str(rng.choice(sorted(levels)))]) if levels else {}
    for key, value in chosen.items():
        vals = [lv[key] for lv in levels.values() if key in lv]
        if all(isinstance(v, int | float) and not isinstance(v, bool) for v in vals):
            lo, hi = float(min(vals)), float(max(vals))
            chosen[key] = type(value)(rng.uniform(lo, hi)) if isinstance(value, float) else value
    return chosen


class DegradationSampler:
    """Draws a recipe per modality and applies it; ``backends`` says plugin or fallback per name."""

    def __init__(self, use_plugins: bool = True, registry: Any = None, recipes: str = "v1") -> None:
        if recipes not in RECIPE_SETS:
            raise ValueError(f"recipes must be one of {sorted(RECIPE_SETS)}, not {recipes!r}")
        self.vis_recipes, self.ir_recipes = RECIPE_SETS[recipes]
        self.plugins: dict[str, tuple[Any, Mapping[str, Mapping[str, Any]]]] = {}
        names = sorted({n for table in (self.vis_recipes, self.ir_recipes) for r, _ in table for n in r})
        if use_plugins:
            if registry is None:
                from benchbed.registry import Registry

                registry = Registry()
            have = set(registry.names("degradation"))
            for name in (n for n in names if n in have):
                spec = registry.get("degradation", name)
                keep = LEVEL_SUBSETS.get(name)
                levels = {k: v for k, v in spec.severities.items() if keep is None or k in keep}
                self.plugins[name] = (spec.build(), levels or spec.severities)
        self.backends = {name: ("plugin" if name in self.plugins else "internal") for name in names}

    def _apply_one(self, name: str, x: Image, modality: str, rng: np.random.Generator) -> Image:
        if name in self.plugins:
            deg, levels = self.plugins[name]
            obs = deg.apply(x.astype(np.float32), modality, sample_severity(levels, rng), rng)
            return np.asarray(obs.y, np.float32)
        return FALLBACKS[(name, modality)](x.astype(np.float64), rng)

    def degrade(self, x: Image, modality: str, rng: np.random.Generator) -> tuple[Image, tuple[str, ...]]:
        """One LQ version of clean ``x`` (quantised to 8 bits like the core's observations)."""
        recipes = self.vis_recipes if modality == "vi" else self.ir_recipes
        probs = np.array([p for _, p in recipes])
        names = recipes[int(rng.choice(len(recipes), p=probs / probs.sum()))][0]
        y = x.astype(np.float64)
        for name in names:
            y = np.clip(self._apply_one(name, y, modality, rng), 0.0, 1.0)
        return (np.round(y * 255.0) / 255.0).astype(np.float32), names

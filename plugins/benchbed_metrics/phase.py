"""Zhao's phase-congruency fusion metric Q_P, on Liu's revision of Kovesi's phase congruency."""

from __future__ import annotations

import hashlib
import threading
from collections import OrderedDict
from functools import lru_cache

import numpy as np
from scipy import fft, ndimage

from ._common import (
    WORKERS,
    as_gray,
    check_same_shape,
    correlate_rows_valid,
    gaussian_taps,
    median,
    parallel_iter,
    row_chunks,
    scratch,
)

# myphasecong3.m defaults.
_NSCALE, _NORIENT, _MIN_WAVE, _MULT, _SIGMA_ONF = 4, 6, 3.0, 2.1, 0.55
_D_THETA_ON_SIGMA, _K, _CUTOFF, _G, _EPS = 1.2, 2.0, 0.5, 10.0, 0.0001
_FEATURE_THRESHOLD = 0.1  # metricZhao.m: pixels with PC above this count as features
_C = 0.0001  # metricZhao.m's correlation constants C1 = C2 = C3


def _axis_range(n: int) -> np.ndarray:
    """Normalised frequency axis of myphasecong3.m (odd sizes are scaled by n - 1, as there)."""
    if n % 2:
        return np.arange(-(n - 1) / 2, (n - 1) / 2 + 1) / (n - 1)
    return np.arange(-n / 2, n / 2) / n


@lru_cache(maxsize=2)
def _filter_bank(shape: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Log-Gabor x angular filters (orient, scale, H, W) and the per-orientation noise sums.

    Returns the filters, EM_n (sum of the squared finest-scale filter, per orientation) and the
    noise-energy factor 2 sum_s sum_x f_s^2 + 4 sum_{s<t} sum_x f_s f_t (per orientation) of
    the spatial filters f_s = real(ifft2(filter)) sqrt(MN). Those sums come from Parseval in
    the frequency domain: real(ifft2(H)) is the ifft2 of H's even part (H(k) + H(-k)) / 2, so
    sum_x f_s f_t = sum_k even_s(k) even_t(k); no image-size inverse transforms needed.
    """
    rows, cols = shape
    x, y = np.meshgrid(_axis_range(cols), _axis_range(rows))
    radius = np.sqrt(x * x + y * y)
    radius[rows // 2, cols // 2] = 1.0  # avoid log(0); the DC filter value is zeroed below
    theta = np.fft.ifftshift(np.arctan2(-y, x))
    radius = np.fft.ifftshift(radius)
    sin_t, cos_t = np.sin(theta), np.cos(theta)
    # Kovesi's low-pass (cut-off 0.45, order 15), built on its own grid and fftshift-ed as there.
    lx = (np.arange(1, cols + 1) - (cols // 2 + 1)) / cols
    ly = (np.arange(1, rows + 1) - (rows // 2 + 1)) / rows
    lp = np.fft.fftshift(1.0 / (1.0 + (np.hypot(ly[:, None], lx[None, :]) / 0.45) ** 30))
    log_gabor = np.empty((_NSCALE, rows, cols))
    for s in range(_NSCALE):
        fo = 1.0 / (_MIN_WAVE * _MULT**s)
        log_gabor[s] = np.exp(-(np.log(radius / fo) ** 2) / (2 * np.log(_SIGMA_ONF) ** 2)) * lp
        log_gabor[s, 0, 0] = 0.0
    theta_sigma = np.pi / _NORIENT / _D_THETA_ON_SIGMA
    bank = np.empty((_NORIENT, _NSCALE, rows, cols))
    em_n = np.empty(_NORIENT)
    noise = np.empty(_NORIENT)
    neg = (-np.arange(rows)) % rows, (-np.arange(cols)) % cols
    for o in range(_NORIENT):
        angl = o * np.pi / _NORIENT
        ds = sin_t * np.cos(angl) - cos_t * np.sin(angl)
        dc = cos_t * np.cos(angl) + sin_t * np.sin(angl)
        spread = np.exp(-(np.arctan2(ds, dc) ** 2) / (2 * theta_sigma**2))
        bank[o] = log_gabor * spread
        em_n[o] = float((bank[o, 0] ** 2).sum())
        even = (bank[o] + bank[o][:, neg[0]][:, :, neg[1]]) / 2.0
        gram = np.einsum("sij,tij->st", even, even)
        noise[o] = 2 * np.trace(gram) + 4 * np.triu(gram, 1).sum()
    for arr in (bank, em_n, noise):
        arr.setflags(write=False)
    return bank, em_n, noise


@lru_cache(maxsize=2)
def _single_bank(shape: tuple[int, int]) -> np.ndarray:
    """The filter bank in float32, for the single-precision path."""
    out = _filter_bank(shape)[0].astype(np.float32)
    out.setflags(write=False)
    return out


_ROWS = 32  # rows per cache-sized work item (a few hundred KB of each intermediate)


def _spectra(images: np.ndarray, ctype: type) -> np.ndarray:
    """fft2 of real images (n, H, W) as ``ctype``: a real-input transform in double precision,
    the other half of the spectrum from its conjugate symmetry X(-k) = conj(X(k))."""
    n, rows, cols = images.shape
    half = fft.rfft2(images, axes=(-2, -1), workers=WORKERS)
    out = scratch("phase_spectra", (n, rows, cols), ctype)
    width = half.shape[-1]
    out[..., :width] = half
    flip = (-np.arange(rows)) % rows  # row index of -k
    np.conjugate(half[:, flip, 1 : cols - width + 1][..., ::-1], out=out[..., width:])
    return out


def phase_congruency(
    images: np.ndarray, single: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(PC, M, m) of a stack of images (n, H, W): Liu's ``myphasecong3.m``, vectorised.

    PC = sum_o W_o max(E_o - T_o, 0) / (sum_o sum_s A_so + eps) (Kovesi's PC_2 with noise
    compensation and frequency-spread weighting), M and m the maximum and minimum moments of
    the PC covariance over orientations. A per-orientation PC of 0/0 (no response at all,
    e.g. a constant image: NaN in the reference) is taken as 0.

    Two parallel passes: one job per (image, orientation) runs the 4 inverse transforms,
    takes the noise threshold from the finest scale, and reduces the scales row block by row
    block (while they sit in cache) to the weighted energy and the summed amplitude; then one
    job per row block sums the orientations, in a fixed order. PC is returned in double
    precision, M and m in the working precision (float32 when ``single``). The spectra and
    the per-orientation sums live in per-thread work arrays (``scratch``) reused by the next
    call.
    """
    n, rows, cols = images.shape
    bank, em_n, noise = _filter_bank((rows, cols))
    ctype, rtype = (np.complex64, np.float32) if single else (np.complex128, np.float64)
    bank = _single_bank((rows, cols)) if single else bank
    spectra = _spectra(images, ctype)
    eps = rtype(_EPS)
    # Per (image, orientation): W_o max(E_o - T_o, 0) and sum_s A_so.
    store = scratch("phase_congruency", (n, _NORIENT, 2, rows, cols), rtype)

    def orientation(job: tuple[int, int]) -> None:
        """Scale sums of image i at orientation o (4 transforms), into store[i, o]."""
        i, o = job
        eo = np.multiply(spectra[i], bank[o], out=scratch("phase_eo", (_NSCALE, rows, cols), ctype))
        eo = fft.ifft2(eo, axes=(-2, -1), workers=1, overwrite_x=True)  # in place: E + iO
        # Noise threshold from the median squared finest-scale response (Rayleigh model).
        amp0 = np.abs(eo[0])
        mid = median(amp0.ravel()).astype(np.float64)
        noise_power = (-(mid * mid).mean() / np.log(0.5)) / em_n[o]
        tau = np.sqrt(noise_power * noise[o] / 2.0)
        thresh = rtype((tau * np.sqrt(np.pi / 2.0) + _K * np.sqrt((2.0 - np.pi / 2.0) * tau * tau)) / 1.7)
        weighted, sum_an = store[i, o]
        for lo, hi in row_chunks(rows, _ROWS):
            e = eo[:, lo:hi]
            amp = np.abs(e[1:])
            s_an = np.add(amp0[lo:hi], amp[0], out=sum_an[lo:hi])  # scales in order, as a sum
            s_an += amp[1]
            s_an += amp[2]
            big = np.maximum(amp0[lo:hi], amp[0])
            np.maximum(big, amp[1], out=big)
            np.maximum(big, amp[2], out=big)
            total = e.sum(axis=0)
            norm = np.abs(total)
            # sum_s E_s MeanE + O_s MeanO = |sum EO|^2 / XEnergy, and E_s MeanO - O_s MeanE is
            # -Im(EO_s conj(sum EO)) / XEnergy: one complex product instead of four real ones.
            e *= np.conj(total)
            en = np.multiply(norm, norm, out=weighted[lo:hi])
            odd = np.abs(e[0].imag)
            for s in range(1, _NSCALE):
                odd += np.abs(e[s].imag, out=amp[0])
            en -= odd
            norm += eps
            en /= norm
            en -= thresh
            np.maximum(en, 0.0, out=en)
            # Frequency-spread weight 1 / (1 + exp((cut-off - width) g)).
            big += eps
            width = np.divide(s_an, big, out=big)
            width /= _NSCALE
            sp = np.subtract(_CUTOFF, width, out=width)
            sp *= _G
            np.exp(sp, out=sp)
            sp += 1.0
            en /= sp

    # Orientation-major: consecutive jobs share one orientation's filters.
    list(parallel_iter(orientation, [(i, o) for o in range(_NORIENT) for i in range(n)]))

    pc_all = np.empty((n, rows, cols))  # double precision always: it decides the feature masks
    big_m = np.empty((n, rows, cols), dtype=rtype)
    small_m = np.empty((n, rows, cols), dtype=rtype)
    # covx2 = sum_o pc2 cos^2, covy2 = sum_o pc2 sin^2, covxy = sum_o pc2 cos sin, from the sums
    # of pc2, pc2 cos(2 angle) and pc2 sin(2 angle) (cos^2 = (1 + cos 2a) / 2, sin^2 likewise).
    double = [(np.cos(2 * o * np.pi / _NORIENT), np.sin(2 * o * np.pi / _NORIENT)) for o in range(_NORIENT)]
    tiny = np.finfo(rtype).tiny

    def combine(block: tuple[int, int]) -> None:
        """Sum the orientations (in order) over one row block of every image."""
        lo, hi = block
        shape = (hi - lo, cols)
        for i in range(n):
            total_energy, total_sum_an = np.zeros(shape), np.zeros(shape)
            # The moments only weight the features (no threshold): working precision is enough.
            s0, sc, ss = np.zeros(shape, rtype), np.zeros(shape, rtype), np.zeros(shape, rtype)
            for o, (cos2, sin2) in enumerate(double):
                weighted, sum_an = store[i, o, :, lo:hi]
                # weighted is 0 wherever sum_an is (no response at all: energy 0, threshold >= 0),
                # so dividing by max(sum_an, tiny) gives the reference's PC with 0/0 taken as 0.
                pc2 = np.divide(weighted, np.maximum(sum_an, tiny))
                pc2 *= pc2
                total_sum_an += sum_an
                total_energy += weighted
                s0 += pc2
                if cos2 != 1.0:
                    sc += pc2 * rtype(cos2)
                    pc2 *= rtype(sin2)
                    ss += pc2
                else:
                    sc += pc2
            total_sum_an += _EPS
            np.divide(total_energy, total_sum_an, out=pc_all[i, lo:hi])
            # covx2, covy2 over norient / 2 and covxy over norient, as the reference (its comment
            # says 2 covxy / (norient / 2)): sum = covx2 + covy2, diff = covx2 - covy2.
            total = s0 / (_NORIENT / 2)
            diff = sc / (_NORIENT / 2)
            ss /= 2 * _NORIENT
            denom = np.sqrt(ss * ss + diff * diff) + _EPS
            np.add(total, denom, out=big_m[i, lo:hi])
            big_m[i, lo:hi] /= 2.0
            np.subtract(total, denom, out=small_m[i, lo:hi])
            small_m[i, lo:hi] /= 2.0

    list(parallel_iter(combine, row_chunks(rows, _ROWS)))
    return pc_all, big_m, small_m


def _feature_similarity(
    feats: tuple[np.ndarray, ...], use_a: np.ndarray, masks: np.ndarray, dtype: type = np.float64,
) -> list[float]:
    """metricZhao.m ``correlation_coeffcient`` of each feature map stack (A, B, F): max of
    three masked local correlations (A, B and the max-PC source against F), summed over
    pixels and divided by the number of feature pixels of the max-PC map.

    Each (feature, row block) is one job: the 11 windowed maps of the block and its 5-row halo
    are built, filtered and reduced while in cache. Filtering is direct (not FFT): its
    round-off is local, and the masked maps are mostly exact 0.
    """
    rows, cols = masks.shape[1:]
    taps = gaussian_taps(11, 1.5).astype(dtype)
    r = len(taps) // 2
    c = dtype(_C)

    def block(job: tuple[int, int, int]) -> float:
        k, lo, hi = job
        feat = feats[k]
        top, bottom = max(0, lo - r), min(rows, hi + r)
        stack = scratch("phase_features", (11, hi - lo + 2 * r, cols), dtype)
        stack[:, : top - (lo - r)] = 0.0  # rows past the image
        stack[:, bottom - (lo - r) :] = 0.0
        v = stack[:, top - (lo - r) : bottom - (lo - r)]
        # Sources masked to their feature pixels, F, their squares and products with F. The
        # max-PC source is A's or B's masked map pixel by pixel (its mask is theirs there).
        # Masks and the selection act as exact 0/1 factors: branch-free, unlike where=.
        sel = use_a[top:bottom]
        np.multiply(feat[0:2, top:bottom], masks[0:2, top:bottom], out=v[0:2])
        v[3] = feat[2, top:bottom]
        np.multiply(v[0], sel, out=v[2])
        v[2] += v[1] * ~sel
        np.multiply(v[0:3], v[0:3], out=v[4:7])
        np.multiply(v[3], v[3], out=v[7])
        np.multiply(v[0:3], v[3], out=v[8:11])
        down = correlate_rows_valid(stack, taps, out=scratch("phase_down", (11, hi - lo, cols), dtype))
        filt = ndimage.correlate1d(
            down, taps, axis=-1, mode="constant", output=scratch("phase_across", down.shape, dtype)
        )
        mu, muf = filt[0:3], filt[3]
        var = filt[4:7] - mu * mu
        var_f = filt[7] - muf * muf
        cov = filt[8:11] - mu * muf
        cov += c
        den = np.sqrt(np.abs(var * var_f))
        den += c
        corr = np.divide(cov, den, out=cov)
        corr *= masks[:, lo:hi]  # 0 off each source's feature pixels (corr is finite)
        return float(corr.max(axis=0).sum(dtype=np.float64))

    jobs = [(k, lo, hi) for k in range(len(feats)) for lo, hi in row_chunks(rows, _ROWS)]
    sums = np.zeros(len(feats))
    for (k, _, _), part in zip(jobs, parallel_iter(block, jobs)):
        sums[k] += part
    count = float(masks[2].sum())
    return [float(x / count) for x in sums]


Features = tuple[np.ndarray, np.ndarray, np.ndarray]
"""(PC, M, m) of a stack of images, as :func:`phase_congruency` returns them."""


class SourceCache:
    """The sources' phase-congruency features of the last ``maxsize`` pairs (LRU), keyed by the
    sources' bytes: every item of a pair scores a different F against the same A and B, so
    their features are computed once per pair, not once per item.

    Features are computed per image (the stacked transforms and the per-image, per-orientation
    jobs never mix images), so features kept from one call are bit-identical to computing them
    again. ``maxsize`` 0 turns the cache off; ``hits`` and ``misses`` count lookups.
    """

    def __init__(self, maxsize: int = 4) -> None:
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0
        self._items: OrderedDict[tuple[object, ...], Features] = OrderedDict()
        self._lock = threading.Lock()

    @staticmethod
    def key(a: np.ndarray, b: np.ndarray, single: bool) -> tuple[object, ...]:
        """What the features depend on: the precision and both sources' shape, type and bytes."""
        digests = [hashlib.blake2b(np.ascontiguousarray(x).data, digest_size=16).digest()
                   for x in (a, b)]
        return (single, a.shape, b.shape, a.dtype.str, b.dtype.str, *digests)

    def get(self, key: tuple[object, ...]) -> Features | None:
        """The cached features of a pair (None, counted as a miss, when not cached)."""
        with self._lock:
            found = self._items.get(key)
            if found is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return found

    def put(self, key: tuple[object, ...], features: Features) -> None:
        """Keep read-only copies of ``features``, dropping the least recently used pair."""
        if self.maxsize <= 0:
            return
        kept = tuple(np.array(x) for x in features)
        for x in kept:
            x.setflags(write=False)
        with self._lock:
            self._items[key] = kept  # type: ignore[assignment]
            self._items.move_to_end(key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)

    def resize(self, maxsize: int) -> None:
        """Keep at most ``maxsize`` pairs from now on (0: none)."""
        with self._lock:
            self.maxsize = maxsize
            while len(self._items) > max(0, maxsize):
                self._items.popitem(last=False)

    def clear(self) -> None:
        """Forget every pair and reset the counters."""
        with self._lock:
            self._items.clear()
            self.hits = self.misses = 0


SOURCE_CACHE = SourceCache(4)
"""The process's cache of source features (per process: pool workers each keep their own)."""


class ZhaoQP:
    """Q_P = (P_p)(P_M)(P_m) (Zhao, Laganiere & Liu, Performance assessment of combinative
    pixel-level image fusion based on an absolute feature measurement, Int. J. Innov. Comput.
    Inf. Control 3(6A):1433-1447, 2007, Eqs. 9-12).

    As Liu et al. 2012 toolbox ``metricZhao.m`` with ``myphasecong3.m`` (4 scales, 6
    orientations, min wavelength 3, mult 2.1, sigmaOnf 0.55, k = 2, cut-off 0.5, g = 10):
    for each feature map (phase congruency PC, maximum moment M, minimum moment m) the
    maximum over {A, B, max-PC source} of the masked local correlation with F (11x11 Gaussian
    sigma 1.5 'same' windows, C = 1e-4), summed and divided by the count of pixels where the
    max-PC source exceeds 0.1. Range [-1, 1] (each factor is a mean of correlation-like
    ratios). The reference masks the sources' feature maps but not F's, so even F == A == B
    scores below 1 (0.9576 for the v04 source of the calibration triples, as Octave gives).

    Degenerate inputs (NaN in the reference): if neither source has a feature pixel the value
    is 0; a constant F (no phase structure at all) scores 0.

    ``precision="single"`` runs the 72 filter transforms, the orientation moments and the
    feature windows in single precision (about twice as fast; within 5e-7 of the
    double-precision reference on the calibration triples; PC itself, which decides the
    feature masks, is summed in double precision); ``"double"`` keeps everything in double
    precision.

    The sources' features are kept for the last few pairs (:data:`SOURCE_CACHE`), so the
    further items of a pair compute only F's: the same values, a third of the transforms.
    """

    def __init__(self, precision: str = "single") -> None:
        if precision not in ("single", "double"):
            raise ValueError(f"precision must be 'single' or 'double', got {precision!r}")
        self.single = precision == "single"

    def compute(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> float:
        """Phase-congruency feature preservation of F."""
        check_same_shape(a, b, f)
        a, b, f = as_gray(a, b, f)
        if np.ptp(f) == 0:
            return 0.0  # with the C terms a featureless F would otherwise correlate "perfectly"
        pc, big_m, small_m = self._features(a, b, f)
        use_a = pc[0] > pc[1]
        masks = np.stack([pc[0] > _FEATURE_THRESHOLD, pc[1] > _FEATURE_THRESHOLD, np.zeros_like(use_a)])
        masks[2] = np.where(use_a, masks[0], masks[1])  # where(use_a, pc A, pc B) > threshold
        if not masks[2].any():
            return 0.0
        value = 1.0
        for part in _feature_similarity(
            (pc, big_m, small_m), use_a, masks, np.float32 if self.single else np.float64
        ):
            value *= part
        return value

    def _features(self, a: np.ndarray, b: np.ndarray, f: np.ndarray) -> Features:
        """(PC, M, m) of (A, B, F) stacked; A's and B's from :data:`SOURCE_CACHE` when this
        pair was seen before (then only F's are computed)."""
        if SOURCE_CACHE.maxsize <= 0:
            return phase_congruency(np.stack([a, b, f]), single=self.single)
        key = SOURCE_CACHE.key(a, b, self.single)
        sources = SOURCE_CACHE.get(key)
        if sources is None:
            features = phase_congruency(np.stack([a, b, f]), single=self.single)
            SOURCE_CACHE.put(key, tuple(x[:2] for x in features))  # type: ignore[arg-type]
            return features
        fused = phase_congruency(f[None], single=self.single)
        return tuple(np.concatenate([s, x]) for s, x in zip(sources, fused))  # type: ignore[return-value]

"""Zhao's phase-congruency fusion metric Q_P, on Liu's revision of Kovesi's phase congruency."""

from __future__ import annotations

from functools import lru_cache

import numpy as np
from scipy import fft

from ._common import WORKERS, as_gray, check_same_shape, filter_same, gaussian_taps, parallel_iter

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


def phase_congruency(
    images: np.ndarray, single: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(PC, M, m) of a stack of images (n, H, W): Liu's ``myphasecong3.m``, vectorised.

    PC = sum_o W_o max(E_o - T_o, 0) / (sum_o sum_s A_so + eps) (Kovesi's PC_2 with noise
    compensation and frequency-spread weighting), M and m the maximum and minimum moments of
    the PC covariance over orientations. A per-orientation PC of 0/0 (no response at all,
    e.g. a constant image: NaN in the reference) is taken as 0.
    """
    n, rows, cols = images.shape
    bank, em_n, noise = _filter_bank((rows, cols))
    ctype, rtype = (np.complex64, np.float32) if single else (np.complex128, np.float64)
    bank = _single_bank((rows, cols)) if single else bank
    spectra = fft.fft2(images, axes=(-2, -1), workers=WORKERS).astype(ctype)
    half = rows * cols // 2  # median of an even count: mean of the two middle values
    kth = [half - 1, half] if (rows * cols) % 2 == 0 else [half]

    def one(job: tuple[int, int]) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Weighted energy, summed amplitude and PC^2 of image i at orientation o (4 scales)."""
        i, o = job
        eo = fft.ifft2(spectra[i] * bank[o], axes=(-2, -1), workers=1, overwrite_x=True)  # E + iO
        amp = np.abs(eo)
        sum_an = amp.sum(axis=0)
        total = eo.sum(axis=0)
        norm = np.abs(total)
        # sum_s E_s MeanE + O_s MeanO = |sum EO|^2 / XEnergy, and E_s MeanO - O_s MeanE is
        # -Im(EO_s conj(sum EO)) / XEnergy: one complex product instead of four real ones.
        eo *= np.conj(total)
        energy = (norm * norm - np.abs(eo.imag).sum(axis=0)) / (norm + _EPS)
        # Noise threshold from the median squared finest-scale response (Rayleigh model).
        mid = np.partition(amp[0].ravel(), kth)[kth].astype(np.float64)
        noise_power = (-(mid * mid).mean() / np.log(0.5)) / em_n[o]
        tau = np.sqrt(noise_power * noise[o] / 2.0)
        thresh = (tau * np.sqrt(np.pi / 2.0) + _K * np.sqrt((2.0 - np.pi / 2.0) * tau * tau)) / 1.7
        energy -= rtype(thresh)
        np.maximum(energy, 0.0, out=energy)
        width = sum_an / (amp.max(axis=0) + _EPS) / _NSCALE
        weighted = energy / (1.0 + np.exp((_CUTOFF - width) * _G))
        pc = np.divide(weighted, sum_an, out=np.zeros_like(weighted), where=sum_an > 0)
        pc2 = pc.astype(np.float64)
        pc2 *= pc2
        return weighted, sum_an, pc2

    # One (image, orientation) per job: 4 transforms and their arithmetic, run on the threads.
    jobs = [(i, o) for i in range(n) for o in range(_NORIENT)]
    total_energy = np.zeros((n, rows, cols))
    total_sum_an = np.zeros((n, rows, cols))
    covx2 = np.zeros((n, rows, cols))
    covy2 = np.zeros((n, rows, cols))
    covxy = np.zeros((n, rows, cols))
    for (i, o), (weighted, sum_an, pc2) in zip(jobs, parallel_iter(one, jobs)):
        cos_a, sin_a = np.cos(o * np.pi / _NORIENT), np.sin(o * np.pi / _NORIENT)
        total_sum_an[i] += sum_an
        total_energy[i] += weighted
        covx2[i] += pc2 * (cos_a * cos_a)
        covy2[i] += pc2 * (sin_a * sin_a)
        covxy[i] += pc2 * (cos_a * sin_a)
    pc_all = total_energy / (total_sum_an + _EPS)
    covx2 /= _NORIENT / 2
    covy2 /= _NORIENT / 2
    covxy /= _NORIENT  # as the reference (its comment says 2 covxy / (norient / 2))
    denom = np.sqrt(covxy * covxy + (covx2 - covy2) ** 2) + _EPS
    return pc_all, (covy2 + covx2 + denom) / 2.0, (covy2 + covx2 - denom) / 2.0


def _feature_similarity(
    x1: np.ndarray, x2: np.ndarray, xmax: np.ndarray, xf: np.ndarray, masks: np.ndarray,
    dtype: type = np.float64,
) -> float:
    """metricZhao.m ``correlation_coeffcient``: max of three masked local correlations, summed
    over pixels and divided by the number of feature pixels of the max-PC map."""
    srcs = np.stack([x1, x2, xmax]) * masks  # features outside each mask are zeroed
    stack = np.concatenate([srcs, xf[None], srcs * srcs, (xf * xf)[None], srcs * xf])
    # Direct (not FFT) filtering: its round-off is local, and the masked maps are mostly exact 0.
    filt = filter_same(stack.astype(dtype), gaussian_taps(11, 1.5).astype(dtype)).astype(np.float64)
    mu, muf = filt[0:3], filt[3]
    var = filt[4:7] - mu * mu
    var_f = filt[7] - muf * muf
    cov = filt[8:11] - mu * muf
    corr = (cov + _C) / (np.sqrt(np.abs(var * var_f)) + _C)
    result = np.where(masks, corr, 0.0).max(axis=0)
    return float(result.sum() / masks[2].sum())


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

    ``precision="single"`` runs the 72 filter transforms and the feature windows in single
    precision (about twice as fast; within 3e-7 of the double-precision reference on the
    calibration triples); ``"double"`` keeps everything in double precision.
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
        pc, big_m, small_m = phase_congruency(np.stack([a, b, f]), single=self.single)
        use_a = pc[0] > pc[1]
        masks = np.stack([pc[0] > _FEATURE_THRESHOLD, pc[1] > _FEATURE_THRESHOLD, np.zeros_like(use_a)])
        masks[2] = np.where(use_a, pc[0], pc[1]) > _FEATURE_THRESHOLD
        if not masks[2].any():
            return 0.0
        value = 1.0
        for feat in (pc, big_m, small_m):
            value *= _feature_similarity(
                feat[0], feat[1], np.where(use_a, feat[0], feat[1]), feat[2], masks,
                np.float32 if self.single else np.float64,
            )
        return value

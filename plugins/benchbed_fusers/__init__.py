"""Built-in classical fusers (no weights): average, maxabs, laplacian, wavelet, gff.

All use the `y-cbcr` colour policy: they fuse two HxW float images in [0, 1] (the Y channel
of a colour source) and the core restores colour. Factories import their module on first use
so that listing plugins stays fast.
"""

from __future__ import annotations

from benchbed import FuserSpec, hookimpl, lazy


@hookimpl
def benchbed_register_fusers() -> list[FuserSpec]:
    """The classical baseline fusers."""
    return [
        FuserSpec(
            name="average",
            version="1",
            summary="Pixel-wise average (A + B) / 2",
            factory=lazy("benchbed_fusers.simple:AverageFuser"),
            colour="y-cbcr",
            citation="Baseline: arithmetic mean of the sources",
        ),
        FuserSpec(
            name="maxabs",
            version="1",
            summary="Pixel-wise max-absolute selection (= max rule for intensities)",
            factory=lazy("benchbed_fusers.simple:MaxAbsFuser"),
            colour="y-cbcr",
            citation="Baseline: choose-max selection rule, e.g. Burt & Kolczynski, ICCV 1993",
        ),
        FuserSpec(
            name="laplacian",
            version="1",
            summary="Laplacian pyramid: base averaged, detail bands by max-absolute",
            factory=lazy("benchbed_fusers.pyramid:LaplacianPyramidFuser"),
            params={"levels": 4},
            colour="y-cbcr",
            citation=(
                "P. J. Burt, E. H. Adelson, The Laplacian pyramid as a compact image code, "
                "IEEE Trans. Commun. 31(4):532-540, 1983; rule simplified from P. J. Burt, "
                "R. J. Kolczynski, Enhanced image capture through fusion, ICCV 1993"
            ),
        ),
        FuserSpec(
            name="wavelet",
            version="1",
            summary="DWT (PyWavelets): approximation averaged, details by max-absolute",
            factory=lazy("benchbed_fusers.wavelet:WaveletFuser"),
            params={"wavelet": "db2", "levels": 3},
            colour="y-cbcr",
            citation=(
                "H. Li, B. S. Manjunath, S. K. Mitra, Multisensor image fusion using the "
                "wavelet transform, Graphical Models and Image Processing 57(3):235-245, 1995"
            ),
        ),
        FuserSpec(
            name="gff",
            version="1",
            summary="Guided filtering fusion: two-scale, guided-filter-refined saliency weights",
            factory=lazy("benchbed_fusers.gff:GuidedFilteringFuser"),
            params={"r1": 45, "eps1": 0.3, "r2": 7, "eps2": 1e-6},
            colour="y-cbcr",
            citation=(
                "S. Li, X. Kang, J. Hu, Image fusion with guided filtering, IEEE Trans. Image "
                "Process. 22(7):2864-2875, 2013; guided filter: K. He, J. Sun, X. Tang, ECCV 2010"
            ),
        ),
    ]

"""Pretrained restorers and fusers ("zoo"): published weights in rebuilt PyTorch architectures.

Weights are read from BENCHBED_WEIGHTS and sha256-verified (see ``_refs``); nothing is
downloaded. Factories import torch and the network modules on first use, so listing plugins
stays fast. Every factory takes ``device`` (the runner passes --device through it).
"""

from __future__ import annotations

from typing import Any

from benchbed import FuserSpec, RestorerSpec, hookimpl, lazy

from . import _refs

DNCNN_CITE = (
    "K. Zhang, W. Zuo, Y. Chen, D. Meng, L. Zhang, 'Beyond a Gaussian Denoiser: Residual "
    "Learning of Deep CNN for Image Denoising', IEEE TIP 26(7):3142-3155, 2017; weights "
    "cszn/DnCNN"
)
FFDNET_CITE = (
    "K. Zhang, W. Zuo, L. Zhang, 'FFDNet: Toward a Fast and Flexible Solution for CNN-Based "
    "Image Denoising', IEEE TIP 27(9):4608-4622, 2018; weights cszn/FFDNet (MatConvNet)"
)
VDSR_CITE = (
    "J. Kim, J. K. Lee, K. M. Lee, 'Accurate Image Super-Resolution Using Very Deep "
    "Convolutional Networks', CVPR 2016; weights twtygqyy/pytorch-vdsr (MIT)"
)
PNP_CITE = (
    "PnP-HQS: K. Zhang, W. Zuo, S. Gu, L. Zhang, 'Learning Deep CNN Denoiser Prior for Image "
    "Restoration', CVPR 2017; schedule (lambda 0.23, sigma 49/255 -> noise level) from K. Zhang "
    "et al., 'Plug-and-Play Image Restoration with Deep Denoiser Prior', IEEE TPAMI 44(10), 2022"
)
IFCNN_CITE = (
    "Y. Zhang, Y. Liu, P. Sun, H. Yan, X. Zhao, L. Zhang, 'IFCNN: A general image fusion "
    "framework based on convolutional neural network', Information Fusion 54:99-118, 2020; "
    "weights uzeful/IFCNN"
)
DENSEFUSE_CITE = (
    "H. Li, X.-J. Wu, 'DenseFuse: A Fusion Approach to Infrared and Visible Images', IEEE TIP "
    "28(5):2614-2623, 2019; weights hli1221/densefuse-pytorch (gray model)"
)
DIDFUSE_CITE = (
    "Z. Zhao, S. Xu, C. Zhang, J. Liu, J. Zhang, P. Li, 'DIDFuse: Deep Image Decomposition for "
    "Infrared and Visible Image Fusion', IJCAI 2020, 970-976; weights Zhaozixiang1228/IVIF-DIDFuse"
)
U2FUSION_CITE = (
    "H. Xu, J. Ma, J. Jiang, X. Guo, H. Ling, 'U2Fusion: A Unified Unsupervised Image Fusion "
    "Network', IEEE TPAMI 44(1):502-518, 2022; weights hanna-xu/U2Fusion (TF1 checkpoint)"
)


@hookimpl
def benchbed_register_restorers() -> list[RestorerSpec]:
    """DnCNN-S/-B, FFDNet, VDSR, PnP deblurring and the learned cascade."""
    common: dict[str, Any] = {"version": "1"}
    # FFDNet and DnCNN-B ship as MatConvNet (HDF5) files: reading them needs h5py
    matconvnet = {"h5py": "pip install 'benchbed[zoo]'"}
    return [
        RestorerSpec(
            name="dncnn", factory=lazy("benchbed_zoo.dncnn:DnCNNRestorer", "s25"), params={"device": "cpu"},
            summary="DnCNN-S, gray Gaussian denoiser trained at sigma 25 (RGB: per channel); "
                    "Set12 sigma 25: 30.48 dB",
            handles=("gaussian_noise", "composite"), weights=(_refs.DNCNN_S25,),
            citation=DNCNN_CITE, **common),
        RestorerSpec(
            name="dncnn_blind", factory=lazy("benchbed_zoo.dncnn:DnCNNRestorer", "blind"),
            params={"device": "cpu"},
            summary="DnCNN-B, blind gray Gaussian denoiser (sigma 0-55; RGB: per channel); "
                    "Set12 sigma 25: 30.38 dB",
            handles=("gaussian_noise", "composite"), weights=(_refs.DNCNN_BLIND,),
            citation=DNCNN_CITE, requires=matconvnet, **common),
        RestorerSpec(
            name="ffdnet", factory=lazy("benchbed_zoo.ffdnet:FFDNetRestorer"),
            params={"sigma": None, "device": "cpu"},
            summary="FFDNet gray with a noise-level map at the observation's sigma (``sigma`` "
                    "overrides; RGB: per channel); Set12 sigma 25: 30.45 dB",
            handles=("gaussian_noise", "composite"), weights=(_refs.FFDNET_GRAY,),
            citation=FFDNET_CITE, requires=matconvnet, **common),
        RestorerSpec(
            name="vdsr", factory=lazy("benchbed_zoo.vdsr:VDSRRestorer"), params={"device": "cpu"},
            summary="VDSR super-resolution by the observation's pooling factor: bicubic-upsampled "
                    "Y refined by the net, CbCr bicubic; identity when not pooled",
            handles=("lowres", "composite"), weights=(_refs.VDSR,),
            citation=VDSR_CITE, **common),
        RestorerSpec(
            name="wiener_dncnn", factory=lazy("benchbed_zoo.pnp:WienerDenoiser"),
            params={"denoiser": "ffdnet", "iters": 8, "lam": 0.23, "pool_var": 1.0 / 6.0,
                    "sr_noise": 4.0 / 255.0, "device": "cpu"},
            summary="Plug-and-play deblurring: HQS alternating a Wiener data step with the "
                    "observation's blur and a learned denoiser (FFDNet, or DnCNN-B)",
            handles=("gaussian_blur", "composite"),
            weights=(_refs.FFDNET_GRAY, _refs.DNCNN_BLIND), citation=PNP_CITE,
            requires=matconvnet, **common),
        RestorerSpec(
            name="zoo_auto", factory=lazy("benchbed_zoo.auto:ZooAuto"),
            params={"denoiser": "ffdnet", "residual": 0.5, "iters": 8, "lam": 0.23,
                    "pool_var": 0.0, "sr_noise": 4.0 / 255.0, "device": "cpu"},
            summary="Learned cascade for any linear degradation: FFDNet denoising -> VDSR "
                    "super-resolution -> PnP-HQS deblurring (the order of `auto`)",
            handles=("*",), weights=(_refs.FFDNET_GRAY, _refs.DNCNN_BLIND, _refs.VDSR),
            citation=f"restore-then-fuse protocol of DRFusion's competitors; {FFDNET_CITE}; "
                     f"{VDSR_CITE}; {PNP_CITE}", requires=matconvnet, **common),
    ]


@hookimpl
def benchbed_register_fusers() -> list[FuserSpec]:
    """IFCNN (MAX, MEAN, SUM), DenseFuse, DIDFuse and U2Fusion with their published weights."""
    common: dict[str, Any] = {"version": "1", "colour": "y-cbcr"}
    ifcnn = [
        FuserSpec(
            name=f"ifcnn_{rule}", factory=lazy("benchbed_zoo.ifcnn:IFCNNFuser", rule),
            params={"device": "cpu"},
            summary=f"IFCNN-{rule.upper()}: CNN features of both sources fused by element-wise "
                    f"{rule}, then reconstructed",
            weights=(_refs.IFCNN[rule],), citation=IFCNN_CITE, **common)
        for rule in ("max", "mean", "sum")
    ]
    return [
        *ifcnn,
        FuserSpec(
            name="densefuse", factory=lazy("benchbed_zoo.densefuse:DenseFuseFuser"),
            params={"strategy": "l1_norm", "device": "cpu"},
            summary="DenseFuse autoencoder (gray); encodings fused by l1_norm weighting, "
                    "addition (mean, as the PyTorch port) or sum (paper's addition)",
            weights=(_refs.DENSEFUSE_GRAY,), citation=DENSEFUSE_CITE, **common),
        FuserSpec(
            name="didfuse", factory=lazy("benchbed_zoo.didfuse:DIDFuseFuser"),
            params={"mode": "sum", "device": "cpu"},
            summary="DIDFuse: base/detail encodings (and skip features) of both sources combined "
                    "by sum (released default), average or l1_norm, then decoded",
            weights=(_refs.DIDFUSE_ENCODER, _refs.DIDFUSE_DECODER), citation=DIDFUSE_CITE,
            **common),
        FuserSpec(
            name="u2fusion", factory=lazy("benchbed_zoo.u2fusion:U2FusionFuser"), params={"device": "cpu"},
            summary="U2Fusion generator (DenseNet), weights read from the TF1 checkpoint",
            weights=(_refs.U2FUSION_INDEX, _refs.U2FUSION_DATA), citation=U2FUSION_CITE,
            **common),
    ]

"""Weights files of the zoo (relative to BENCHBED_WEIGHTS) with their published sha256.

Kept free of heavy imports: the hook module reads these to fill the specs' ``weights``.
"""

from __future__ import annotations

from benchbed import WeightsRef

DNCNN_S25 = WeightsRef(
    "restoration/dncnn/dncnn_sigma25.pth",
    "1cbd0af9c6f83b2f2a8254fb21ad0c09e4771e042805544d7e886f71eb4a8b8c",
)
DNCNN_BLIND = WeightsRef(
    "restoration/dncnn/DnCNN-B_GD_Gray_Blind.mat",
    "37f76da0b71dd2b2789ce91848fe2f184ab486203c9af9ac1b98199b60ea02b0",
)
FFDNET_GRAY = WeightsRef(
    "restoration/ffdnet/FFDNet_gray.mat",
    "14c231e87a444a9bd85b0b5e174e73b4f6ac50bf4050e75a0d3f4d69f77a2093",
)
VDSR = WeightsRef(
    "restoration/vdsr/vdsr_model_epoch_50.pth",
    "eab4d79ae5a6e5acef4c55e46015aed225ade207679bcb6695b07af8fb18e876",
)
IFCNN = {
    "max": WeightsRef(
        "fusion/ifcnn/IFCNN-MAX.pth",
        "6022b44c88a2f0367ba9b08fcdf0d663745d9a966fca0ee1f41867797b6ff53f",
    ),
    "mean": WeightsRef(
        "fusion/ifcnn/IFCNN-MEAN.pth",
        "fd2ee9361f1d428fc9749e28e8a2c5c5ef6ce6528ab6f5ad8ef5def42e7ffa4b",
    ),
    "sum": WeightsRef(
        "fusion/ifcnn/IFCNN-SUM.pth",
        "a8c1d293f1bf16a93e6244a4bf8f7a7bd300dc10555c8597ad7ef3320b0410cb",
    ),
}
DENSEFUSE_GRAY = WeightsRef(
    "fusion/densefuse/densefuse_gray.model",
    "b34cf3650f04161b31ac2467decfeedf7eba39165b7618f846e0f298ecd2ac65",
)
DIDFUSE_ENCODER = WeightsRef(
    "fusion/didfuse/Encoder_weight_IJCAI.pkl",
    "4d84a4e64e58469d3d4591f83c6683ead3e422498519db99bb617cb29d268471",
)
DIDFUSE_DECODER = WeightsRef(
    "fusion/didfuse/Decoder_weight_IJCAI.pkl",
    "c6974e2a7c66ab579a77bacb086023237a229e769d459783bad8ff43e52e9986",
)
U2FUSION_INDEX = WeightsRef(
    "fusion/u2fusion/model.ckpt.index",
    "15b7d283a1de8f616cc42978346bd24d47a9c380d624370368b956beb593014e",
)
U2FUSION_DATA = WeightsRef(
    "fusion/u2fusion/model.ckpt.data-00000-of-00001",
    "e50cada8d4ec92f2577ad5db5d212fba521dffb35d04e00a20364b43512c64c8",
)

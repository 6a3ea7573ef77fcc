"""Built-in fusion metrics: the calibrated panel (EN, SD, SF, AG, MI, CC, SCD, VIF, SSIM, PSNR,
QABF, QMI, QNCIE, QP, QCB, QW, QY) with convention profiles; see ``specs.py``.

Inputs follow the metric contract: gray float64 arrays on 0..255 holding 8-bit values
(the core quantises and takes BT.601 luma). Factories import their module on first use.
"""

from __future__ import annotations

from benchbed import MetricSpec, hookimpl


@hookimpl
def benchbed_register_metrics() -> list[MetricSpec]:
    """Every metric of the panel."""
    from .specs import metric_specs

    return metric_specs()

"""The example fuser passes benchbed's conformance kit, using only the public ``benchbed.testing``.

Run from this folder (installed, or with ``PYTHONPATH=.``)::

    python -m pytest tests
"""

from __future__ import annotations

import pytest
from benchbed_example_fuser import benchbed_register_fusers

from benchbed.testing import check_fuser, skip_reason


@pytest.mark.parametrize("spec", benchbed_register_fusers(), ids=lambda spec: spec.name)
def test_conformance(spec) -> None:  # type: ignore[no-untyped-def]
    reason = skip_reason(spec)
    if reason:
        pytest.skip(reason)
    check_fuser(spec)


@pytest.mark.parametrize("params", [{"window": 3}, {"window": 15, "power": 1.0}])
def test_conformance_with_other_params(params: dict) -> None:
    (spec,) = benchbed_register_fusers()
    check_fuser(spec, params=params, size=(24, 36))

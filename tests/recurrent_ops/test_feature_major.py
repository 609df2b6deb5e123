"""The layout conversions of feature_major.py against NumPy's own transposes."""
import numpy as np
import pytest

from rnnkit.ops.recurrent import feature_major as fm


@pytest.mark.parametrize("src_dtype, dst_dtype", [("float32", "float32"), ("float64", "float32"),
                                                  ("float64", "float64"), ("float16", "float32")])
@pytest.mark.parametrize("shape", [(1, 1, 1), (3, 5, 17), (33, 2, 130), (5, 3, 128)])  # NumPy; tiled, remainders
def test_swap_outer_matches_numpy(src_dtype, dst_dtype, shape):
    src = np.random.default_rng(0).standard_normal(shape).astype(src_dtype)
    dst = np.empty(shape[::-1], dst_dtype)
    fm.swap_outer(src, dst)
    np.testing.assert_array_equal(dst, src.transpose(2, 1, 0).astype(dst_dtype))


def test_swap_outer_reads_strided_views_and_writes_into_views():
    src = np.random.default_rng(1).standard_normal((6, 7, 260))[:, ::-1, 1::2]  # reversed time, every other one
    xh = np.zeros((132, 9, 6))
    fm.swap_outer(src, xh[:130, 1:8])
    np.testing.assert_array_equal(xh[:130, 1:8], src.transpose(2, 1, 0))
    assert not xh[130:].any() and not xh[:, 0].any() and not xh[:, 8].any()  # nothing written outside the view

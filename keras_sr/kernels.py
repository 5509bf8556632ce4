"""Fixed edge filters of the Edge-oriented Convolution Block, as data.

Each is applied as cross-correlation (like ``conv2d`` in TF and PyTorch), per channel, after a
1x1 convolution; the ECBSR reference code uses exactly these masks (rows top to bottom).
"""

import numpy as np

SOBEL_X = np.array([[1, 0, -1], [2, 0, -2], [1, 0, -1]], dtype=np.float32)
SOBEL_Y = np.array([[1, 2, 1], [0, 0, 0], [-1, -2, -1]], dtype=np.float32)
LAPLACIAN = np.array([[0, 1, 0], [1, -4, 1], [0, 1, 0]], dtype=np.float32)

EDGE_FILTERS: dict[str, np.ndarray] = {
    "sobel_x": SOBEL_X,
    "sobel_y": SOBEL_Y,
    "laplacian": LAPLACIAN,
}

package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

/**
 * Expected values computed with numpy from the formulas in the task (MATLAB rgb2ycbcr, BT.601
 * studio swing): {@code off + M @ rgb / 255} and {@code np.linalg.inv(M / 255) @ (ycc - off)},
 * M = [[65.481, 128.553, 24.966], [-37.797, -74.203, 112.0], [112.0, -93.786, -18.214]],
 * off = [16, 128, 128] (the same as keras_sr.metrics.rgb2ycbcr / ycbcr2rgb).
 */
public class YCbCrTest {
    private static final double EPS = 1e-9;

    /** {r, g, b, Y, Cb, Cr} from numpy. */
    private static final double[][] FORWARD_CASES = {
        {0, 0, 0, 16.0, 128.0, 128.0},
        {255, 255, 255, 235.0, 128.0, 128.0},
        {255, 0, 0, 81.481, 90.203, 240.0},
        {0, 255, 0, 144.553, 53.797, 34.214},
        {0, 0, 255, 40.966, 240.0, 109.786},
        {12, 200, 77, 127.44609411764706, 101.84249411764705, 54.21302745098039},
        {128, 128, 128, 125.92941176470588, 128.0, 128.0},
        {250, 5, 133, 95.73918823529411, 147.90484313725491, 226.4651294117647},
    };

    /** {Y, Cb, Cr, R, G, B} with R, G, B = np.clip(np.round(inverse), 0, 255). */
    private static final double[][] INVERSE_CASES = {
        {16.0, 128.0, 128.0, 0, 0, 0},
        {235.0, 128.0, 128.0, 255, 255, 255},
        {100.4, 90.25, 170.6, 166, 78, 22},      // unrounded 166.2647, 78.4306, 22.1236
        {200.0, 60.0, 200.0, 255, 182, 77},      // unrounded 329.1605, 182.3527, 77.0750
        {50.0, 240.0, 16.0, 0, 87, 255},         // unrounded -139.1659, 86.7641, 265.5188
    };

    /** np.linalg.inv(M / 255), row-major. */
    private static final double[][] NUMPY_INVERSE = {
        {1.1643835616438356, 3.0112439732941328e-07, 1.5960268873357042},
        {1.1643835616438356, -3.9176253994145011e-01, -8.1296829216220534e-01},
        {1.1643835616438358, 2.0172326395564593, 3.0542617453132012e-06},
    };

    @Test
    public void forwardMatchesNumpy() {
        for (double[] c : FORWARD_CASES) {
            int r = (int) c[0], g = (int) c[1], b = (int) c[2];
            assertEquals(c[3], YCbCr.luma(r, g, b), EPS);
            assertEquals(c[4], YCbCr.C_OFFSET + YCbCr.cbOffset(r, g, b), EPS);
            assertEquals(c[5], YCbCr.C_OFFSET + YCbCr.crOffset(r, g, b), EPS);
        }
    }

    @Test
    public void inverseMatrixMatchesNumpy() {
        for (int i = 0; i < 3; i++) {
            for (int j = 0; j < 3; j++) {
                assertEquals(NUMPY_INVERSE[i][j], YCbCr.INVERSE[i][j], 1e-12);
            }
        }
    }

    @Test
    public void inverseMatchesNumpyRoundedAndClipped() {
        for (double[] c : INVERSE_CASES) {
            int p = YCbCr.toArgb(c[0], c[1] - YCbCr.C_OFFSET, c[2] - YCbCr.C_OFFSET);
            assertEquals((int) c[3], Uint8.red(p));
            assertEquals((int) c[4], Uint8.green(p));
            assertEquals((int) c[5], Uint8.blue(p));
        }
    }

    @Test
    public void roundTripOfEveryGrayIsExact() {
        for (int v = 0; v <= 255; v++) {
            assertEquals(0.0, YCbCr.cbOffset(v, v, v), 0.0);
            assertEquals(0.0, YCbCr.crOffset(v, v, v), 0.0);
            int p = YCbCr.toArgb(YCbCr.luma(v, v, v), 0.0, 0.0);
            assertEquals(Uint8.argb(v, v, v), p);
        }
    }

    @Test
    public void roundTripOfColoursWithinHalfALevel() {
        for (int r = 0; r < 256; r += 15) {
            for (int g = 0; g < 256; g += 17) {
                for (int b = 0; b < 256; b += 51) {
                    int p = YCbCr.toArgb(YCbCr.luma(r, g, b), YCbCr.cbOffset(r, g, b), YCbCr.crOffset(r, g, b));
                    assertEquals(Uint8.argb(r, g, b), p);
                }
            }
        }
    }
}

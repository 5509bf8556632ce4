package org.keras_sr.demo.core;

/**
 * MATLAB's {@code rgb2ycbcr} (BT.601 studio swing) and its exact inverse, R, G, B in 0..255.
 *
 * <pre>
 * Y  =  16 + ( 65.481 R + 128.553 G +  24.966 B) / 255
 * Cb = 128 + (-37.797 R -  74.203 G + 112.000 B) / 255
 * Cr = 128 + (112.000 R -  93.786 G -  18.214 B) / 255
 * </pre>
 *
 * The chroma rows sum to zero, so they are evaluated as differences (112 = 37.797 + 74.203 =
 * 93.786 + 18.214): a gray pixel then has chroma offsets of exactly 0, and a grayscale image stays
 * exactly grayscale through the round trip. Chroma is handled as offsets from 128.
 */
public final class YCbCr {
    public static final double Y_OFFSET = 16.0;
    public static final double C_OFFSET = 128.0;
    private static final double RANGE = 255.0;

    /** Forward matrix (rows Y, Cb, Cr; columns R, G, B), before the division by 255. */
    static final double[][] FORWARD = {
        {65.481, 128.553, 24.966},
        {-37.797, -74.203, 112.0},
        {112.0, -93.786, -18.214},
    };

    /** Inverse of {@code FORWARD / 255}: maps (Y - 16, Cb - 128, Cr - 128) back to R, G, B. */
    static final double[][] INVERSE = scaled(invert(FORWARD), RANGE);

    private YCbCr() {
    }

    /** Luma Y in 16..235 (unrounded). */
    public static double luma(int r, int g, int b) {
        return Y_OFFSET + (FORWARD[0][0] * r + FORWARD[0][1] * g + FORWARD[0][2] * b) / RANGE;
    }

    /** Cb - 128 (unrounded); exactly 0 when r == g == b. */
    public static double cbOffset(int r, int g, int b) {
        return (-FORWARD[1][0] * (b - r) - FORWARD[1][1] * (b - g)) / RANGE;
    }

    /** Cr - 128 (unrounded); exactly 0 when r == g == b. */
    public static double crOffset(int r, int g, int b) {
        return (-FORWARD[2][1] * (r - g) - FORWARD[2][2] * (r - b)) / RANGE;
    }

    /**
     * Converts back to an opaque ARGB pixel, rounded and clipped to 0..255.
     *
     * <p>The luma column of the inverse is the same (255/219) in all three rows, so it is applied
     * once; a pixel with zero chroma offsets comes out exactly gray.
     */
    public static int toArgb(double y, double cbOffset, double crOffset) {
        double luma = INVERSE[0][0] * (y - Y_OFFSET);
        double r = luma + INVERSE[0][1] * cbOffset + INVERSE[0][2] * crOffset;
        double g = luma + INVERSE[1][1] * cbOffset + INVERSE[1][2] * crOffset;
        double b = luma + INVERSE[2][1] * cbOffset + INVERSE[2][2] * crOffset;
        return Uint8.argb(Uint8.roundClip(r), Uint8.roundClip(g), Uint8.roundClip(b));
    }

    static double[][] invert(double[][] m) {
        double a = m[0][0], b = m[0][1], c = m[0][2];
        double d = m[1][0], e = m[1][1], f = m[1][2];
        double g = m[2][0], h = m[2][1], i = m[2][2];
        double det = a * (e * i - f * h) - b * (d * i - f * g) + c * (d * h - e * g);
        return new double[][] {
            {(e * i - f * h) / det, (c * h - b * i) / det, (b * f - c * e) / det},
            {(f * g - d * i) / det, (a * i - c * g) / det, (c * d - a * f) / det},
            {(d * h - e * g) / det, (b * g - a * h) / det, (a * e - b * d) / det},
        };
    }

    private static double[][] scaled(double[][] m, double k) {
        double[][] out = new double[m.length][];
        for (int r = 0; r < m.length; r++) {
            out[r] = new double[m[r].length];
            for (int c = 0; c < m[r].length; c++) {
                out[r][c] = m[r][c] * k;
            }
        }
        return out;
    }
}

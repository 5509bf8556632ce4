package org.keras_sr.demo.core;

/**
 * MATLAB's {@code imresize(img, scale, 'bicubic')} for integer upscaling, following the Python
 * tool's {@code keras_sr.imresize} operation for operation: Keys' cubic with a = -0.5, output
 * pixel {@code o} (0-based) centred on LR position {@code (o + 0.5) / scale - 0.5}, weights
 * normalised to sum to one, out-of-range taps clamped to the border pixel, rows (height) first,
 * then columns. uint8 images are rounded (half away from zero) and clipped after each pass, like
 * MATLAB; float planes (the chroma of Y-channel models) are not.
 *
 * <p>Any output region can be computed from the LR region {@link #sourceStart}..{@link #sourceEnd},
 * so tiles and strips agree bit for bit with a whole-image pass.
 */
public final class Bicubic {
    /** Keys' free parameter (MATLAB's 'bicubic'). */
    public static final double A = -0.5;
    /** Support of the cubic kernel, in input pixels. */
    private static final double SUPPORT = 4.0;
    /** Taps with a non-zero weight when upscaling. */
    private static final int TAPS = 4;
    /** Output rows per strip in {@link #upscaleArgb}; bounds the temporary memory. */
    private static final int STRIP_ROWS = 64;

    private Bicubic() {
    }

    /** Keys' cubic, written as {@code keras_sr.imresize.cubic} so the doubles come out the same. */
    static double cubic(double x) {
        double ax = Math.abs(x);
        double ax2 = ax * ax;
        double ax3 = ax2 * ax;
        if (ax <= 1.0) {
            return (A + 2.0) * ax3 - (A + 3.0) * ax2 + 1.0;
        }
        if (ax <= 2.0) {
            return A * ax3 - 5.0 * A * ax2 + 8.0 * A * ax - 4.0 * A;
        }
        return 0.0;
    }

    /** 1-based input coordinate of 0-based output pixel {@code out} (MATLAB's contributions). */
    private static double center(int out, int scale) {
        double x = out + 1;
        return x / scale + 0.5 * (1.0 - 1.0 / scale);
    }

    /** 0-based index of the first tap with a possibly non-zero weight. */
    private static int firstTap(double center) {
        return (int) Math.floor(center - SUPPORT / 2.0);
    }

    /** First LR index needed for outputs starting at {@code outStart}, clamped to the image. */
    public static int sourceStart(int outStart, int scale) {
        return Math.max(0, firstTap(center(outStart, scale)));
    }

    /** One past the last LR index needed for outputs ending at {@code outEnd} (exclusive). */
    public static int sourceEnd(int outEnd, int scale, int length) {
        return Math.min(length, firstTap(center(outEnd - 1, scale)) + TAPS);
    }

    /** Clamped absolute tap indices and normalised weights for {@code count} outputs. */
    private static void contributions(int outStart, int count, int scale, int length, int[] index,
            double[] weight) {
        for (int o = 0; o < count; o++) {
            double u = center(outStart + o, scale);
            // MATLAB's taps run from floor(u - 2) (1-based); the first has weight 0 when
            // upscaling, as does the one after the four below, so only these four are summed.
            double left = Math.floor(u - SUPPORT / 2.0);
            double sum = 0.0;
            for (int k = 0; k < TAPS; k++) {
                double tap = left + 1 + k;
                double w = cubic(u - tap);
                weight[o * TAPS + k] = w;
                sum += w;
                index[o * TAPS + k] = Math.min(length - 1, Math.max(0, (int) tap - 1));
            }
            for (int k = 0; k < TAPS; k++) {
                weight[o * TAPS + k] /= sum;
            }
        }
    }

    private static double roundUint8(double v) {
        double clipped = v < 0.0 ? 0.0 : (v > Uint8.MAX ? Uint8.MAX : v);
        return Math.floor(clipped + 0.5);
    }

    /**
     * Upsamples part of a plane.
     *
     * @param plane LR values of the window {@code [px, px+pw) x [py, py+ph)} of a
     *     {@code fullW x fullH} image, row-major; the window must contain the taps of the requested
     *     outputs ({@link #sourceStart}/{@link #sourceEnd}).
     * @param uint8 round and clip after each pass (uint8 images) or not (float planes)
     * @param out receives the {@code outW x outH} outputs at ({@code outX}, {@code outY}), in
     *     output (HR) coordinates, row-major.
     */
    public static void upsample(double[] plane, int px, int py, int pw, int ph, int fullW, int fullH,
            int scale, int outX, int outY, int outW, int outH, boolean uint8, double[] out) {
        int[] rowIndex = new int[outH * TAPS];
        double[] rowWeight = new double[outH * TAPS];
        contributions(outY, outH, scale, fullH, rowIndex, rowWeight);
        int[] colIndex = new int[outW * TAPS];
        double[] colWeight = new double[outW * TAPS];
        contributions(outX, outW, scale, fullW, colIndex, colWeight);
        // Rows first (MATLAB's order for equal scales), over all LR columns of the window.
        double[] vertical = new double[outH * pw];
        for (int o = 0; o < outH; o++) {
            for (int c = 0; c < pw; c++) {
                double acc = 0.0;
                for (int k = 0; k < TAPS; k++) {
                    acc += rowWeight[o * TAPS + k] * plane[(rowIndex[o * TAPS + k] - py) * pw + c];
                }
                vertical[o * pw + c] = uint8 ? roundUint8(acc) : acc;
            }
        }
        for (int o = 0; o < outH; o++) {
            int rowBase = o * pw - px;
            for (int c = 0; c < outW; c++) {
                double acc = 0.0;
                for (int k = 0; k < TAPS; k++) {
                    acc += colWeight[c * TAPS + k] * vertical[rowBase + colIndex[c * TAPS + k]];
                }
                out[o * outW + c] = uint8 ? roundUint8(acc) : acc;
            }
        }
    }

    /**
     * Bicubic RGB upscale (uint8, as MATLAB) of the output region
     * {@code [outX, outX+outW) x [outY, outY+outH)} of {@code src} (HR coordinates), written to
     * {@code dst} with that region's top-left corner at (0, 0); processed in strips of rows.
     */
    public static void upscaleArgb(PixelSource src, int scale, int outX, int outY, int outW, int outH,
            PixelSink dst) {
        int fullW = src.width();
        int fullH = src.height();
        int x0 = sourceStart(outX, scale);
        int x1 = sourceEnd(outX + outW, scale, fullW);
        int pw = x1 - x0;
        for (int stripY = 0; stripY < outH; stripY += STRIP_ROWS) {
            int rows = Math.min(STRIP_ROWS, outH - stripY);
            int y0 = sourceStart(outY + stripY, scale);
            int y1 = sourceEnd(outY + stripY + rows, scale, fullH);
            int ph = y1 - y0;
            int[] lr = new int[pw * ph];
            src.read(x0, y0, pw, ph, lr);
            double[][] planes = new double[3][pw * ph];
            for (int i = 0; i < lr.length; i++) {
                planes[0][i] = Uint8.red(lr[i]);
                planes[1][i] = Uint8.green(lr[i]);
                planes[2][i] = Uint8.blue(lr[i]);
            }
            double[][] up = new double[3][outW * rows];
            for (int c = 0; c < 3; c++) {
                upsample(planes[c], x0, y0, pw, ph, fullW, fullH, scale, outX, outY + stripY, outW, rows,
                        true, up[c]);
            }
            int[] argb = new int[outW * rows];
            for (int i = 0; i < argb.length; i++) {
                argb[i] = Uint8.argb((int) up[0][i], (int) up[1][i], (int) up[2][i]);
            }
            dst.write(0, stripY, outW, rows, argb);
        }
    }
}

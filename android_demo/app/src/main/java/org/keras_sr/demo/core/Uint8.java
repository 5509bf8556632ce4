package org.keras_sr.demo.core;

/**
 * Packing between ARGB ints and the model's uint8 NHWC bytes.
 *
 * <p>Rounding is half away from zero after clipping, like MATLAB's uint8 cast and the Python
 * tool ({@code floor(clip(x, 0, 255) + 0.5)}).
 */
public final class Uint8 {
    public static final int MAX = 255;
    private static final int OPAQUE = 0xFF000000;
    private static final int RED_SHIFT = 16;
    private static final int GREEN_SHIFT = 8;
    private static final int BYTE_MASK = 0xFF;

    private Uint8() {
    }

    /** Clips to 0..255 and rounds half away from zero. */
    public static int roundClip(double v) {
        if (!(v > 0)) {
            return 0;
        }
        return v >= MAX ? MAX : (int) Math.floor(v + 0.5);
    }

    /** The unsigned value of a byte, 0..255. */
    public static int value(byte b) {
        return b & BYTE_MASK;
    }

    public static int red(int argb) {
        return (argb >> RED_SHIFT) & BYTE_MASK;
    }

    public static int green(int argb) {
        return (argb >> GREEN_SHIFT) & BYTE_MASK;
    }

    public static int blue(int argb) {
        return argb & BYTE_MASK;
    }

    /** An opaque ARGB pixel from 0..255 channels. */
    public static int argb(int r, int g, int b) {
        return OPAQUE | (r << RED_SHIFT) | (g << GREEN_SHIFT) | b;
    }

    /** ARGB pixels to interleaved RGB bytes (HWC, 3 bytes per pixel); alpha is dropped. */
    public static void argbToRgb(int[] argb, int count, byte[] rgb) {
        for (int i = 0, j = 0; i < count; i++, j += 3) {
            int p = argb[i];
            rgb[j] = (byte) red(p);
            rgb[j + 1] = (byte) green(p);
            rgb[j + 2] = (byte) blue(p);
        }
    }

    /** Interleaved RGB bytes to opaque ARGB pixels. */
    public static void rgbToArgb(byte[] rgb, int count, int[] argb) {
        for (int i = 0, j = 0; i < count; i++, j += 3) {
            argb[i] = argb(value(rgb[j]), value(rgb[j + 1]), value(rgb[j + 2]));
        }
    }

    /** ARGB pixels to the BT.601 luma plane the Y-channel models take, rounded and clipped. */
    public static void argbToY(int[] argb, int count, byte[] y) {
        for (int i = 0; i < count; i++) {
            int p = argb[i];
            y[i] = (byte) roundClip(YCbCr.luma(red(p), green(p), blue(p)));
        }
    }
}

package org.keras_sr.demo.core;

import java.util.Locale;

/**
 * Whether an accelerator's output for a probe window can be trusted, judged against the CPU's.
 *
 * <p>int8 kernels on different hardware may round an intermediate value the other way, which
 * moves an output pixel by a level, rarely two; a wrong driver moves many pixels by much more.
 * So the accelerator passes when no pixel differs by more than {@link #MAX_ABS_DIFF} levels and
 * the mean absolute difference is at most {@link #MAX_MEAN_ABS_DIFF}.
 */
public final class ProbeComparison {
    public static final int MAX_ABS_DIFF = 2;
    public static final double MAX_MEAN_ABS_DIFF = 0.5;

    public final int maxAbsDiff;
    public final double meanAbsDiff;
    public final boolean passed;

    private ProbeComparison(int maxAbsDiff, double meanAbsDiff) {
        this.maxAbsDiff = maxAbsDiff;
        this.meanAbsDiff = meanAbsDiff;
        this.passed = maxAbsDiff <= MAX_ABS_DIFF && meanAbsDiff <= MAX_MEAN_ABS_DIFF;
    }

    /** Compares two uint8 outputs of the same length. */
    public static ProbeComparison compare(byte[] reference, byte[] candidate) {
        if (reference.length != candidate.length || reference.length == 0) {
            throw new IllegalArgumentException("outputs of " + reference.length + " and " + candidate.length
                    + " bytes cannot be compared");
        }
        int max = 0;
        long sum = 0;
        for (int i = 0; i < reference.length; i++) {
            int d = Math.abs(Uint8.value(reference[i]) - Uint8.value(candidate[i]));
            sum += d;
            max = Math.max(max, d);
        }
        return new ProbeComparison(max, sum / (double) reference.length);
    }

    /**
     * A deterministic probe input of {@code height x width x colors} bytes: gradients, edges and
     * noise over the full 0..255 range, so a kernel that saturates, swaps channels or rounds
     * wrongly shows up.
     */
    public static byte[] probeInput(int height, int width, int colors) {
        byte[] input = new byte[height * width * colors];
        long state = 0x9E3779B97F4A7C15L;
        for (int y = 0; y < height; y++) {
            for (int x = 0; x < width; x++) {
                for (int c = 0; c < colors; c++) {
                    state = state * 6364136223846793005L + 1442695040888963407L;
                    int noise = (int) (state >>> 59);             // 0..31
                    int base = ((x * 255) / Math.max(1, width - 1) + c * 85) & 0xFF;
                    if (((x / 8) + (y / 8)) % 2 == 0) {           // checkerboard edges
                        base = 255 - ((y * 255) / Math.max(1, height - 1));
                    }
                    input[(y * width + x) * colors + c] = (byte) Math.min(255, base + noise);
                }
            }
        }
        return input;
    }

    @Override
    public String toString() {
        return String.format(Locale.US, "max diff %d, mean diff %.3f levels (allowed %d, %.1f)", maxAbsDiff,
                meanAbsDiff, MAX_ABS_DIFF, MAX_MEAN_ABS_DIFF);
    }
}

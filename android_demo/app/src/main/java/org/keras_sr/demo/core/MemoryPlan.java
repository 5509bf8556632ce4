package org.keras_sr.demo.core;

import java.util.Locale;

/**
 * What a job needs in memory, decided before anything large is allocated, so an image that
 * cannot fit is refused with a message instead of crashing with OutOfMemoryError halfway.
 *
 * <p>The streaming path holds: one full-width band of the source ({@link BandCache}) plus the
 * same again while a region is decoded and re-oriented, one band of output rows
 * ({@link SrPipeline#runBands}), the PNG encoder's rows, and the two full-resolution crops the
 * screen compares. None of it grows with the image height; all of it grows with its width.
 */
public final class MemoryPlan {
    private static final int BYTES_PER_PIXEL = 4;
    private static final long MB = 1L << 20;
    /** Temporary arrays per window (packing, model output, bicubic planes as doubles). */
    private static final int WINDOW_OVERHEAD_FACTOR = 64;
    /** Fraction of the free heap a job may plan to use (GC headroom, the UI, the interpreter). */
    static final double USABLE_FRACTION = 0.6;

    public final long sourceBandBytes;
    public final long outputBandBytes;
    public final long windowBytes;
    public final long displayBytes;
    public final long wholeDecodeBytes;
    public final long totalBytes;

    private MemoryPlan(long sourceBand, long outputBand, long window, long display, long wholeDecode) {
        this.sourceBandBytes = sourceBand;
        this.outputBandBytes = outputBand;
        this.windowBytes = window;
        this.displayBytes = display;
        this.wholeDecodeBytes = wholeDecode;
        this.totalBytes = sourceBand + outputBand + window + display + wholeDecode;
    }

    /**
     * @param width, height the (oriented) source size
     * @param bandRows rows the {@link BandCache} keeps
     * @param outputBandRows {@link SrPipeline#maxBandRows}
     * @param displayPixels pixels of one on-screen crop
     * @param wholeDecode true when the format cannot be region-decoded and is decoded whole
     */
    public static MemoryPlan of(int width, int height, int scale, int tileHeight, int tileWidth, int bandRows,
            int outputBandRows, long displayPixels, boolean wholeDecode) {
        long sourceBand = 2L * width * bandRows * BYTES_PER_PIXEL;
        long outW = (long) width * scale;
        long outputBand = outW * outputBandRows * BYTES_PER_PIXEL + 3 * outW * BYTES_PER_PIXEL;
        long window = (long) tileHeight * tileWidth * scale * scale * WINDOW_OVERHEAD_FACTOR;
        long display = 3 * displayPixels * BYTES_PER_PIXEL;
        long whole = wholeDecode ? (long) width * height * BYTES_PER_PIXEL : 0;
        return new MemoryPlan(sourceBand, outputBand, window, display, whole);
    }

    /** Null if the plan fits in {@code freeHeapBytes}, else a message for the user. */
    public String refusal(long freeHeapBytes, int width, int height, int scale) {
        long outW = (long) width * scale;
        if (outW * BYTES_PER_PIXEL + 1 > Integer.MAX_VALUE / 2) {
            return String.format(Locale.US, "The result would be %d pixels wide; the most this app writes is %d.",
                    outW, Integer.MAX_VALUE / 2 / BYTES_PER_PIXEL);
        }
        long usable = (long) (freeHeapBytes * USABLE_FRACTION);
        if (totalBytes <= usable) {
            return null;
        }
        String why = wholeDecodeBytes > 0
                ? " This format cannot be decoded in parts, so it is decoded whole ("
                        + wholeDecodeBytes / MB + " MB); a JPEG, PNG or WebP of it would be processed in tiles."
                : "";
        return String.format(Locale.US, "This %dx%d image needs about %d MB to upscale x%d, but only %d MB "
                + "of memory is available to the app.%s", width, height, totalBytes / MB, scale, usable / MB, why);
    }

    /**
     * The power-of-two {@code BitmapFactory.Options.inSampleSize} that brings a
     * {@code width x height} image within {@code maxWidth x maxHeight} (the preview on screen).
     */
    public static int sampleSize(int width, int height, int maxWidth, int maxHeight) {
        int sample = 1;
        while ((long) width > (long) maxWidth * sample || (long) height > (long) maxHeight * sample) {
            sample *= 2;
        }
        return sample;
    }
}

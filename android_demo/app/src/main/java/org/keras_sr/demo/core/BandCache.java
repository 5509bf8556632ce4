package org.keras_sr.demo.core;

/**
 * Keeps one full-width band of rows of a slow {@link PixelSource} (a BitmapRegionDecoder, which
 * decodes on every call) in memory. {@link SrPipeline} walks the image one row of windows at a
 * time, and every read of a row of windows (the windows themselves, the bicubic chroma and alpha
 * regions) falls inside the same few hundred rows, so each band is decoded once instead of once
 * per read. Memory: {@code width * bandRows} pixels.
 */
public final class BandCache implements PixelSource {
    /** Rows loaded above a missed read, for the bicubic taps just above a window. */
    public static final int MARGIN = 4;

    private final PixelSource source;
    private final int bandRows;
    private final int[] band;
    private int bandStart = -1;
    private int bandEnd = -1;
    private int loads;

    /** @param bandRows rows per band: at least the window height plus a few rows of taps */
    public BandCache(PixelSource source, int bandRows) {
        this.source = source;
        this.bandRows = Math.min(bandRows, source.height());
        long pixels = (long) source.width() * this.bandRows;
        if (pixels > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("band of " + source.width() + "x" + bandRows + " is too large");
        }
        this.band = new int[(int) pixels];
    }

    @Override
    public int width() {
        return source.width();
    }

    @Override
    public int height() {
        return source.height();
    }

    /** How many bands have been decoded (for tests and logs). */
    public int loads() {
        return loads;
    }

    @Override
    public void read(int x, int y, int w, int h, int[] argb) {
        if (h > bandRows) {
            source.read(x, y, w, h, argb);
            return;
        }
        if (y < bandStart || y + h > bandEnd) {
            load(y, h);
        }
        int width = source.width();
        for (int r = 0; r < h; r++) {
            System.arraycopy(band, (y - bandStart + r) * width + x, argb, r * w, w);
        }
    }

    private void load(int y, int h) {
        int height = source.height();
        int start = Math.max(0, y - MARGIN);
        if (start + bandRows < y + h) {
            start = y;
        }
        start = Math.min(start, height - bandRows);
        bandStart = start;
        bandEnd = start + bandRows;
        source.read(0, bandStart, source.width(), bandRows, band);
        loads++;
    }
}

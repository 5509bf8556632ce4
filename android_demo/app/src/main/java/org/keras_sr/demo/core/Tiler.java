package org.keras_sr.demo.core;

import java.util.ArrayList;
import java.util.Collections;
import java.util.List;

/**
 * Overlapping windows whose stitched outputs equal a whole-image run exactly.
 *
 * <p>Same scheme as the Python tool. Along an axis of length {@code L} with window size {@code T}
 * and halo {@code R} (the receptive radius, in LR pixels; requires {@code T > 2R}): if
 * {@code L <= T} there is one window {@code [0, L)}; otherwise {@code n = 1 + ceil((L - T) / step)}
 * windows with {@code step = T - 2R} start at {@code p_i = min(i * step, L - T)}. Window {@code i}
 * contributes the LR range {@code [a_i, a_(i+1))} with {@code a_0 = 0}, {@code a_i = p_i + R},
 * and the last one ends at {@code L}. Every kept pixel is at least {@code R} pixels away from a
 * window edge that is not a true image border, so everything it depends on is either a real pixel
 * or the network's own zero padding at the image border.
 *
 * <p>Pure Java (no android.*), so it is unit-tested on the JVM.
 */
public final class Tiler {

    /** One window along one axis, in LR pixels. */
    public static final class Span {
        /** First pixel fed to the network. */
        public final int start;
        /** Number of pixels fed to the network. */
        public final int size;
        /** First pixel whose output is kept (absolute coordinate). */
        public final int keepStart;
        /** One past the last pixel whose output is kept (absolute coordinate). */
        public final int keepEnd;

        Span(int start, int size, int keepStart, int keepEnd) {
            this.start = start;
            this.size = size;
            this.keepStart = keepStart;
            this.keepEnd = keepEnd;
        }

        @Override
        public String toString() {
            return "Span[" + start + "+" + size + ", keep " + keepStart + ".." + keepEnd + "]";
        }
    }

    /** A 2-D window: the product of a row span and a column span. */
    public static final class Tile {
        public final Span rows;
        public final Span cols;

        Tile(Span rows, Span cols) {
            this.rows = rows;
            this.cols = cols;
        }
    }

    private Tiler() {
    }

    /** Windows along one axis of {@code length} pixels, window size {@code tile}, halo {@code halo}. */
    public static List<Span> spans(int length, int tile, int halo) {
        if (length <= 0) {
            throw new IllegalArgumentException("length must be positive, got " + length);
        }
        if (halo < 0 || tile <= 2 * halo) {
            throw new IllegalArgumentException(
                    "tile size " + tile + " must exceed twice the receptive radius " + halo);
        }
        if (length <= tile) {
            return Collections.singletonList(new Span(0, length, 0, length));
        }
        int step = tile - 2 * halo;
        int n = 1 + ceilDiv(length - tile, step);
        int[] starts = new int[n];
        for (int i = 0; i < n; i++) {
            starts[i] = Math.min(i * step, length - tile);
        }
        List<Span> spans = new ArrayList<>(n);
        for (int i = 0; i < n; i++) {
            int keepStart = i == 0 ? 0 : starts[i] + halo;
            int keepEnd = i == n - 1 ? length : starts[i + 1] + halo;
            spans.add(new Span(starts[i], tile, keepStart, keepEnd));
        }
        return spans;
    }

    /** All windows of an image, row-major; see {@link #spans}. */
    public static List<Tile> tiles(int height, int width, int tileHeight, int tileWidth, int halo) {
        List<Span> rows = spans(height, tileHeight, halo);
        List<Span> cols = spans(width, tileWidth, halo);
        List<Tile> tiles = new ArrayList<>(rows.size() * cols.size());
        for (Span r : rows) {
            for (Span c : cols) {
                tiles.add(new Tile(r, c));
            }
        }
        return tiles;
    }

    static int ceilDiv(int a, int b) {
        return (a + b - 1) / b;
    }
}

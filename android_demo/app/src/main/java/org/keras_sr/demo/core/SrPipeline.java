package org.keras_sr.demo.core;

import java.io.IOException;
import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * Super-resolves an image of any size window by window ({@link Tiler}) so the stitched result
 * equals a whole-image run.
 *
 * <p>RGB models get the RGB pixels. Y-channel models get the BT.601 luma ({@link YCbCr}); the
 * chroma is upscaled bicubically ({@link Bicubic}) from the LR image and recombined with the
 * network's luma. With {@code keepAlpha}, the alpha channel is upscaled bicubically as a float
 * plane and rounded once (as the Python tool's {@code upscale_bands}); otherwise output is opaque.
 *
 * <p>Windows are processed one row of tiles at a time: {@link #runBands} hands each finished
 * band of output rows to a {@link RowSink}, so only one band of the result is ever in memory.
 */
public final class SrPipeline {
    /** Progress callback, called after each window from the worker thread. */
    public interface Listener {
        /** @return false to cancel; {@link #run} then throws CancellationException */
        boolean onProgress(int tilesDone, int tilesTotal);
    }

    private final TileModel model;
    private final ModelSpec spec;
    private final boolean keepAlpha;

    public SrPipeline(TileModel model, ModelSpec spec) {
        this(model, spec, false);
    }

    public SrPipeline(TileModel model, ModelSpec spec, boolean keepAlpha) {
        this.model = model;
        this.spec = spec;
        this.keepAlpha = keepAlpha;
    }

    public int tileCount(int height, int width) {
        return Tiler.spans(height, spec.tileHeight, spec.halo).size()
                * Tiler.spans(width, spec.tileWidth, spec.halo).size();
    }

    /** Most output rows one band can have (the size of the buffer {@link #runBands} uses). */
    public int maxBandRows(int height) {
        int most = 0;
        for (Tiler.Span r : Tiler.spans(height, spec.tileHeight, spec.halo)) {
            most = Math.max(most, r.keepEnd - r.keepStart);
        }
        return most * spec.scale;
    }

    /** Writes the {@code scale}-times larger image of {@code src} to {@code dst} (in memory). */
    public void run(PixelSource src, final PixelSink dst, Listener listener) throws Exception {
        final int outW = src.width() * spec.scale;
        runBands(src, new RowSink() {
            private int y;

            @Override
            public void writeRows(int[] argb, int rows) {
                dst.write(0, y, outW, rows, argb);
                y += rows;
            }
        }, listener);
    }

    /**
     * Streams the result top to bottom: after each row of windows, its output rows (full width)
     * go to {@code out}. Memory: one band buffer of {@code width * scale * maxBandRows} pixels.
     */
    public void runBands(PixelSource src, RowSink out, Listener listener) throws Exception {
        int height = src.height();
        int width = src.width();
        final int outW = width * spec.scale;
        List<Tiler.Span> rowSpans = Tiler.spans(height, spec.tileHeight, spec.halo);
        List<Tiler.Span> colSpans = Tiler.spans(width, spec.tileWidth, spec.halo);
        long bandPixels = (long) outW * maxBandRows(height);
        if (bandPixels > Integer.MAX_VALUE) {
            throw new IllegalArgumentException("a band of " + outW + " output pixels per row is too large");
        }
        final int[] band = new int[(int) bandPixels];
        int total = rowSpans.size() * colSpans.size();
        int done = 0;
        for (Tiler.Span rows : rowSpans) {
            final int bandY = rows.keepStart * spec.scale;
            PixelSink bandSink = new PixelSink() {
                @Override
                public void write(int x, int y, int w, int h, int[] argb) {
                    for (int r = 0; r < h; r++) {
                        System.arraycopy(argb, r * w, band, (y - bandY + r) * outW + x, w);
                    }
                }
            };
            for (Tiler.Span cols : colSpans) {
                runTile(src, bandSink, rows, cols);
                done++;
                if (listener != null && !listener.onProgress(done, total)) {
                    throw new CancellationException("cancelled after " + done + " of " + total + " tiles");
                }
            }
            writeBand(out, band, (rows.keepEnd - rows.keepStart) * spec.scale);
        }
    }

    private static void writeBand(RowSink out, int[] band, int rows) throws IOException {
        out.writeRows(band, rows);
    }

    private void runTile(PixelSource src, PixelSink dst, Tiler.Span rows, Tiler.Span cols) throws Exception {
        int s = spec.scale;
        int c = spec.colors;
        // A fixed-size model takes exactly its input size. A smaller window covers the whole axis;
        // it is padded by repeating the last row/column. That is not the network's own zero
        // padding (which applies at every layer), so the last `halo` LR pixels before such a
        // padded border can differ from a whole-image run; everything else is exact.
        int inH = spec.fixedSize ? spec.tileHeight : rows.size;
        int inW = spec.fixedSize ? spec.tileWidth : cols.size;
        int[] lr = new int[rows.size * cols.size];
        src.read(cols.start, rows.start, cols.size, rows.size, lr);
        byte[] input = new byte[inH * inW * c];
        byte[] packed = new byte[inW * c];
        int[] row = new int[inW];
        for (int y = 0; y < inH; y++) {
            int srcRow = Math.min(y, rows.size - 1);
            System.arraycopy(lr, srcRow * cols.size, row, 0, cols.size);
            for (int x = cols.size; x < inW; x++) {
                row[x] = row[cols.size - 1];
            }
            if (c == 1) {
                Uint8.argbToY(row, inW, packed);
            } else {
                Uint8.argbToRgb(row, inW, packed);
            }
            System.arraycopy(packed, 0, input, y * inW * c, packed.length);
        }
        int outTileW = inW * s;
        byte[] output = new byte[inH * s * outTileW * c];
        model.run(input, inH, inW, output);

        // Kept region, in HR coordinates (absolute) and relative to this window's output.
        int outX = cols.keepStart * s;
        int outY = rows.keepStart * s;
        int outW = (cols.keepEnd - cols.keepStart) * s;
        int outH = (rows.keepEnd - rows.keepStart) * s;
        int localX = (cols.keepStart - cols.start) * s;
        int localY = (rows.keepStart - rows.start) * s;
        int[] argb = new int[outW * outH];
        double[][] planes = c == 1 || keepAlpha ? upsamplePlanes(src, outX, outY, outW, outH, c == 1) : null;
        if (c == 3) {
            byte[] rgbRow = new byte[outW * 3];
            int[] argbRow = new int[outW];
            for (int y = 0; y < outH; y++) {
                System.arraycopy(output, ((localY + y) * outTileW + localX) * 3, rgbRow, 0, rgbRow.length);
                Uint8.rgbToArgb(rgbRow, outW, argbRow);
                System.arraycopy(argbRow, 0, argb, y * outW, outW);
            }
        } else {
            double[][] chroma = planes;
            for (int y = 0; y < outH; y++) {
                int base = (localY + y) * outTileW + localX;
                for (int x = 0; x < outW; x++) {
                    int i = y * outW + x;
                    argb[i] = YCbCr.toArgb(Uint8.value(output[base + x]), chroma[0][i], chroma[1][i]);
                }
            }
        }
        if (keepAlpha) {
            double[] alpha = planes[ALPHA];
            for (int i = 0; i < argb.length; i++) {
                argb[i] = (argb[i] & RGB_MASK) | (Uint8.roundClip(alpha[i]) << ALPHA_SHIFT);
            }
        }
        dst.write(outX, outY, outW, outH, argb);
    }

    private static final int CB = 0;
    private static final int CR = 1;
    private static final int ALPHA = 2;
    private static final int RGB_MASK = 0x00FFFFFF;
    private static final int ALPHA_SHIFT = 24;

    /**
     * Bicubic planes for an HR region from the LR pixels it needs: Cb and Cr offsets (from 128)
     * when {@code chroma}, and alpha (unrounded) when {@code keepAlpha}; indices CB, CR, ALPHA.
     */
    private double[][] upsamplePlanes(PixelSource src, int outX, int outY, int outW, int outH, boolean chroma) {
        int s = spec.scale;
        int x0 = Bicubic.sourceStart(outX, s);
        int x1 = Bicubic.sourceEnd(outX + outW, s, src.width());
        int y0 = Bicubic.sourceStart(outY, s);
        int y1 = Bicubic.sourceEnd(outY + outH, s, src.height());
        int pw = x1 - x0;
        int ph = y1 - y0;
        int[] lr = new int[pw * ph];
        src.read(x0, y0, pw, ph, lr);
        double[][] out = new double[3][];
        if (chroma) {
            double[] cb = new double[lr.length];
            double[] cr = new double[lr.length];
            for (int i = 0; i < lr.length; i++) {
                int r = Uint8.red(lr[i]);
                int g = Uint8.green(lr[i]);
                int b = Uint8.blue(lr[i]);
                cb[i] = YCbCr.cbOffset(r, g, b);
                cr[i] = YCbCr.crOffset(r, g, b);
            }
            out[CB] = upsample(cb, x0, y0, pw, ph, src, outX, outY, outW, outH);
            out[CR] = upsample(cr, x0, y0, pw, ph, src, outX, outY, outW, outH);
        }
        if (keepAlpha) {
            double[] a = new double[lr.length];
            for (int i = 0; i < lr.length; i++) {
                a[i] = lr[i] >>> ALPHA_SHIFT;
            }
            out[ALPHA] = upsample(a, x0, y0, pw, ph, src, outX, outY, outW, outH);
        }
        return out;
    }

    private double[] upsample(double[] plane, int x0, int y0, int pw, int ph, PixelSource src, int outX, int outY,
            int outW, int outH) {
        double[] out = new double[outW * outH];
        Bicubic.upsample(plane, x0, y0, pw, ph, src.width(), src.height(), spec.scale, outX, outY, outW, outH,
                false, out);
        return out;
    }
}

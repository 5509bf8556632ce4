package org.keras_sr.demo.core;

import java.util.List;
import java.util.concurrent.CancellationException;

/**
 * Super-resolves an image of any size window by window ({@link Tiler}) so the stitched result
 * equals a whole-image run.
 *
 * <p>RGB models get the RGB pixels. Y-channel models get the BT.601 luma ({@link YCbCr}); the
 * chroma is upscaled bicubically ({@link Bicubic}) from the LR image and recombined with the
 * network's luma. Pixels are ARGB ints; alpha is dropped (output is opaque).
 */
public final class SrPipeline {
    /** Progress callback, called after each window from the worker thread. */
    public interface Listener {
        /** @return false to cancel; {@link #run} then throws CancellationException */
        boolean onProgress(int tilesDone, int tilesTotal);
    }

    private final TileModel model;
    private final ModelSpec spec;

    public SrPipeline(TileModel model, ModelSpec spec) {
        this.model = model;
        this.spec = spec;
    }

    public int tileCount(int height, int width) {
        return Tiler.spans(height, spec.tileHeight, spec.halo).size()
                * Tiler.spans(width, spec.tileWidth, spec.halo).size();
    }

    /** Writes the {@code scale}-times larger image of {@code src} to {@code dst}. */
    public void run(PixelSource src, PixelSink dst, Listener listener) throws Exception {
        int height = src.height();
        int width = src.width();
        List<Tiler.Tile> tiles = Tiler.tiles(height, width, spec.tileHeight, spec.tileWidth, spec.halo);
        int done = 0;
        for (Tiler.Tile tile : tiles) {
            runTile(src, dst, tile.rows, tile.cols);
            done++;
            if (listener != null && !listener.onProgress(done, tiles.size())) {
                throw new CancellationException("cancelled after " + done + " of " + tiles.size() + " tiles");
            }
        }
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
        if (c == 3) {
            byte[] rgbRow = new byte[outW * 3];
            int[] argbRow = new int[outW];
            for (int y = 0; y < outH; y++) {
                System.arraycopy(output, ((localY + y) * outTileW + localX) * 3, rgbRow, 0, rgbRow.length);
                Uint8.rgbToArgb(rgbRow, outW, argbRow);
                System.arraycopy(argbRow, 0, argb, y * outW, outW);
            }
        } else {
            double[][] chroma = upsampleChroma(src, outX, outY, outW, outH);
            for (int y = 0; y < outH; y++) {
                int base = (localY + y) * outTileW + localX;
                for (int x = 0; x < outW; x++) {
                    int i = y * outW + x;
                    argb[i] = YCbCr.toArgb(Uint8.value(output[base + x]), chroma[0][i], chroma[1][i]);
                }
            }
        }
        dst.write(outX, outY, outW, outH, argb);
    }

    /** Bicubic Cb and Cr offsets (from 128) for an HR region, from the LR pixels it needs. */
    private double[][] upsampleChroma(PixelSource src, int outX, int outY, int outW, int outH) {
        int s = spec.scale;
        int x0 = Bicubic.sourceStart(outX, s);
        int x1 = Bicubic.sourceEnd(outX + outW, s, src.width());
        int y0 = Bicubic.sourceStart(outY, s);
        int y1 = Bicubic.sourceEnd(outY + outH, s, src.height());
        int pw = x1 - x0;
        int ph = y1 - y0;
        int[] lr = new int[pw * ph];
        src.read(x0, y0, pw, ph, lr);
        double[] cb = new double[lr.length];
        double[] cr = new double[lr.length];
        for (int i = 0; i < lr.length; i++) {
            int r = Uint8.red(lr[i]);
            int g = Uint8.green(lr[i]);
            int b = Uint8.blue(lr[i]);
            cb[i] = YCbCr.cbOffset(r, g, b);
            cr[i] = YCbCr.crOffset(r, g, b);
        }
        double[][] out = new double[2][outW * outH];
        Bicubic.upsample(cb, x0, y0, pw, ph, src.width(), src.height(), s, outX, outY, outW, outH, false, out[0]);
        Bicubic.upsample(cr, x0, y0, pw, ph, src.width(), src.height(), s, outX, outY, outW, outH, false, out[1]);
        return out;
    }
}

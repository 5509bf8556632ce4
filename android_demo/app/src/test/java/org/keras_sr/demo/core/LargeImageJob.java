package org.keras_sr.demo.core;

import java.io.File;
import java.io.OutputStream;
import java.lang.management.ManagementFactory;
import java.lang.management.MemoryPoolMXBean;
import java.lang.management.MemoryType;
import java.util.zip.Deflater;

/**
 * The 50-megapixel x2 job of {@link LargeImageTest}, run in a child JVM with a small -Xmx: a
 * synthetic source through {@link BandCache}, {@link SrPipeline#runBands} with a fake model, and
 * {@link PngWriter} into an {@link AtomicOutput}, exactly the app's streaming path minus Android.
 * Prints {@code peakHeapBytes=N} (the sum of the heap pools' peak usage: an upper bound on the
 * live heap, garbage included).
 */
public final class LargeImageJob {
    static final int SCALE = 2;
    static final int HALO = 2;
    static final int TILE = 256;

    /** A source that is a formula of (x, y): nothing to hold, any size, and checkable anywhere. */
    static final class Synthetic implements PixelSource {
        final int width;
        final int height;

        Synthetic(int width, int height) {
            this.width = width;
            this.height = height;
        }

        static int pixel(int x, int y) {
            return Uint8.argb((x + 2 * y) & 0xFF, ((x * y) >> 6) & 0xFF, (x ^ y) & 0xFF);
        }

        @Override
        public int width() {
            return width;
        }

        @Override
        public int height() {
            return height;
        }

        @Override
        public void read(int x, int y, int w, int h, int[] argb) {
            for (int j = 0; j < h; j++) {
                for (int i = 0; i < w; i++) {
                    argb[j * w + i] = pixel(x + i, y + j);
                }
            }
        }
    }

    /**
     * A fake RGB x2 network with receptive radius 1: a weighted cross of neighbours (zero padded at
     * the window border, like a real convolution), mod 256, then nearest-neighbour upscaling with a
     * per-sub-pixel offset. Cheap, and a wrong halo or seam changes pixels next to tile borders.
     */
    static final class CrossModel implements TileModel {
        @Override
        public void run(byte[] input, int h, int w, byte[] output) {
            int ow = w * SCALE;
            for (int y = 0; y < h; y++) {
                for (int x = 0; x < w; x++) {
                    for (int c = 0; c < 3; c++) {
                        int v = cross(input, w, h, x, y, c);
                        for (int sy = 0; sy < SCALE; sy++) {
                            for (int sx = 0; sx < SCALE; sx++) {
                                output[((y * SCALE + sy) * ow + x * SCALE + sx) * 3 + c] = (byte) (v + 16 * sx + 32 * sy);
                            }
                        }
                    }
                }
            }
        }

        private static int cross(byte[] in, int w, int h, int x, int y, int c) {
            int sum = 4 * at(in, w, h, x, y, c) + at(in, w, h, x - 1, y, c) + 2 * at(in, w, h, x + 1, y, c)
                    + 3 * at(in, w, h, x, y - 1, c) + 5 * at(in, w, h, x, y + 1, c);
            return sum & 0xFF;
        }

        private static int at(byte[] in, int w, int h, int x, int y, int c) {
            return x < 0 || y < 0 || x >= w || y >= h ? 0 : in[(y * w + x) * 3 + c] & 0xFF;
        }
    }

    /** What the whole-image result must be at HR pixel (X, Y) of a {@code w x h} source. */
    static int expected(int w, int h, int hx, int hy) {
        int x = hx / SCALE;
        int y = hy / SCALE;
        int[] rgb = new int[3];
        for (int c = 0; c < 3; c++) {
            int sum = 4 * channel(w, h, x, y, c) + channel(w, h, x - 1, y, c) + 2 * channel(w, h, x + 1, y, c)
                    + 3 * channel(w, h, x, y - 1, c) + 5 * channel(w, h, x, y + 1, c);
            rgb[c] = ((sum & 0xFF) + 16 * (hx % SCALE) + 32 * (hy % SCALE)) & 0xFF;
        }
        return Uint8.argb(rgb[0], rgb[1], rgb[2]);
    }

    private static int channel(int w, int h, int x, int y, int c) {
        if (x < 0 || y < 0 || x >= w || y >= h) {
            return 0;
        }
        int p = Synthetic.pixel(x, y);
        return c == 0 ? Uint8.red(p) : c == 1 ? Uint8.green(p) : Uint8.blue(p);
    }

    /** args: output file, source width, source height. */
    public static void main(String[] args) throws Exception {
        File target = new File(args[0]);
        int w = Integer.parseInt(args[1]);
        int h = Integer.parseInt(args[2]);
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            pool.resetPeakUsage();
        }
        long start = System.nanoTime();
        ModelSpec spec = new ModelSpec(SCALE, 3, HALO, TILE, TILE, false, true);
        BandCache source = new BandCache(new Synthetic(w, h), TILE + 2 * BandCache.MARGIN);
        AtomicOutput file = new AtomicOutput(target);
        OutputStream out = file.open();
        PngWriter png = new PngWriter(out, w * SCALE, h * SCALE, false, PngWriter.Filter.PAETH, Deflater.BEST_SPEED);
        new SrPipeline(new CrossModel(), spec).runBands(source, png, null);
        png.finish();
        file.commit();
        long peak = 0;
        for (MemoryPoolMXBean pool : ManagementFactory.getMemoryPoolMXBeans()) {
            if (pool.getType() == MemoryType.HEAP) {
                peak += pool.getPeakUsage().getUsed();
            }
        }
        System.out.println("peakHeapBytes=" + peak);
        System.out.println("maxHeapBytes=" + Runtime.getRuntime().maxMemory());
        System.out.println("seconds=" + (System.nanoTime() - start) / 1e9);
        System.out.println("bandLoads=" + source.loads());
    }
}

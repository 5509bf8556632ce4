package org.keras_sr.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;
import java.nio.file.Files;
import java.util.Random;
import org.junit.Test;

/** The pieces of the bounded-memory path: band cache, orientation, alpha, crop tee, atomic files, planning. */
public class StreamingTest {

    /** Counts reads, to check that the cache decodes each band once. */
    static final class CountingSource implements PixelSource {
        final ArgbImage image;
        int reads;

        CountingSource(ArgbImage image) {
            this.image = image;
        }

        @Override
        public int width() {
            return image.width;
        }

        @Override
        public int height() {
            return image.height;
        }

        @Override
        public void read(int x, int y, int w, int h, int[] argb) {
            reads++;
            image.read(x, y, w, h, argb);
        }
    }

    static ArgbImage randomRgba(int w, int h, long seed) {
        Random rnd = new Random(seed);
        ArgbImage img = new ArgbImage(w, h);
        for (int i = 0; i < img.pixels.length; i++) {
            img.pixels[i] = rnd.nextInt();
        }
        return img;
    }

    @Test
    public void bandedPngEqualsTheInMemoryResultWithAlpha() throws Exception {
        ArgbImage src = randomRgba(71, 53, 4);
        for (int colors : new int[] {1, 3}) {
            ModelSpec spec = new ModelSpec(2, colors, 3, 20, 24, false, true);
            ArgbImage whole = new ArgbImage(142, 106);
            new SrPipeline(new SrPipelineTest.BoxStack(3, 2, colors), spec, true).run(src, whole, null);

            CountingSource counting = new CountingSource(src);
            BandCache cache = new BandCache(counting, spec.tileHeight + 2 * BandCache.MARGIN);
            ByteArrayOutputStream out = new ByteArrayOutputStream();
            PngWriter png = new PngWriter(out, 142, 106, true);
            new SrPipeline(new SrPipelineTest.BoxStack(3, 2, colors), spec, true).runBands(cache, png, null);
            png.finish();
            PngWriterTest.assertDecodesTo(out.toByteArray(), whole.pixels, 142, 106, true);
            int tileRows = Tiler.spans(53, spec.tileHeight, spec.halo).size();
            assertEquals("one decode per row of windows", tileRows, counting.reads);
        }
    }

    @Test
    public void alphaIsBicubicAndColourIgnoresIt() throws Exception {
        // An RGB model sees the same colours whatever the alpha; alpha = rounded float bicubic.
        ArgbImage src = randomRgba(9, 7, 5);
        ModelSpec spec = new ModelSpec(3, 3, 1, 16, 16, false, true);
        ArgbImage withAlpha = new ArgbImage(27, 21);
        new SrPipeline(new SrPipelineTest.BoxStack(1, 3, 3), spec, true).run(src, withAlpha, null);
        ArgbImage opaque = new ArgbImage(27, 21);
        new SrPipeline(new SrPipelineTest.BoxStack(1, 3, 3), spec, false).run(src, opaque, null);
        double[] alpha = new double[src.pixels.length];
        for (int i = 0; i < alpha.length; i++) {
            alpha[i] = src.pixels[i] >>> 24;
        }
        double[] up = new double[27 * 21];
        Bicubic.upsample(alpha, 0, 0, 9, 7, 9, 7, 3, 0, 0, 27, 21, false, up);
        boolean someTranslucent = false;
        for (int i = 0; i < up.length; i++) {
            assertEquals(opaque.pixels[i] & 0xFFFFFF, withAlpha.pixels[i] & 0xFFFFFF);
            assertEquals(0xFF, opaque.pixels[i] >>> 24);
            assertEquals(Uint8.roundClip(up[i]), withAlpha.pixels[i] >>> 24);
            someTranslucent |= (withAlpha.pixels[i] >>> 24) < 0xFF;
        }
        assertTrue(someTranslucent);
    }

    @Test
    public void orientationMatchesExifDefinitions() {
        // Stored 3 wide, 2 high:  1 2 3 / 4 5 6. Expected views, row by row, per EXIF orientation.
        ArgbImage raw = new ArgbImage(3, 2, new int[] {1, 2, 3, 4, 5, 6});
        int[][] expected = {
            null,
            {1, 2, 3, 4, 5, 6},        // 1 normal
            {3, 2, 1, 6, 5, 4},        // 2 mirrored left-right
            {6, 5, 4, 3, 2, 1},        // 3 rotated 180
            {4, 5, 6, 1, 2, 3},        // 4 mirrored top-bottom
            {1, 4, 2, 5, 3, 6},        // 5 transposed (2 wide, 3 high)
            {4, 1, 5, 2, 6, 3},        // 6 rotated 90 clockwise
            {6, 3, 5, 2, 4, 1},        // 7 transverse
            {3, 6, 2, 5, 1, 4},        // 8 rotated 90 counter-clockwise
        };
        for (int code = 1; code <= 8; code++) {
            PixelSource view = Orientation.apply(raw, code);
            int w = code >= 5 ? 2 : 3;
            int h = code >= 5 ? 3 : 2;
            assertEquals("width for " + code, w, view.width());
            assertEquals("height for " + code, h, view.height());
            int[] all = new int[6];
            view.read(0, 0, w, h, all);
            assertArrayEquals("orientation " + code, expected[code], all);
            // A sub-region reads the same pixels as the whole view.
            int[] one = new int[1];
            view.read(w - 1, h - 1, 1, 1, one);
            assertEquals(expected[code][5], one[0]);
        }
    }

    @Test
    public void orientedRegionsAgreeWithTheWholeOrientedImage() {
        ArgbImage raw = randomRgba(13, 8, 6);
        for (int code = 1; code <= 8; code++) {
            PixelSource view = Orientation.apply(raw, code);
            int[] whole = new int[13 * 8];
            view.read(0, 0, view.width(), view.height(), whole);
            int[] part = new int[3 * 4];
            view.read(2, 1, 3, 4, part);
            for (int j = 0; j < 4; j++) {
                for (int i = 0; i < 3; i++) {
                    assertEquals(whole[(1 + j) * view.width() + 2 + i], part[j * 3 + i]);
                }
            }
        }
    }

    @Test
    public void cropTeeKeepsExactlyItsRectangle() throws IOException {
        ArgbImage img = randomRgba(20, 30, 7);
        ArgbImage copy = new ArgbImage(20, 30);
        final int[] y = {0};
        final ArgbImage sinkImage = copy;
        RowSink sink = new RowSink() {
            @Override
            public void writeRows(int[] argb, int rows) {
                System.arraycopy(argb, 0, sinkImage.pixels, y[0] * 20, rows * 20);
                y[0] += rows;
            }
        };
        CropTee tee = new CropTee(sink, 20, 5, 11, 7, 9);
        int[] band = new int[20 * 8];
        for (int r = 0; r < 30; r += 8) {
            int rows = Math.min(8, 30 - r);
            System.arraycopy(img.pixels, r * 20, band, 0, rows * 20);
            tee.writeRows(band, rows);
        }
        assertArrayEquals(img.pixels, copy.pixels);
        for (int j = 0; j < 9; j++) {
            for (int i = 0; i < 7; i++) {
                assertEquals(img.pixels[(11 + j) * 20 + 5 + i], tee.crop().pixels[j * 7 + i]);
            }
        }
    }

    @Test
    public void atomicOutputOnlyAppearsWhenCommitted() throws IOException {
        File dir = Files.createTempDirectory("atomic").toFile();
        File target = new File(dir, "IMG_1_x2.png");
        AtomicOutput a = new AtomicOutput(target);
        OutputStream out = a.open();
        out.write(new byte[] {1, 2, 3});
        assertFalse("not visible before commit", target.exists());
        a.commit();
        assertArrayEquals(new byte[] {1, 2, 3}, Files.readAllBytes(target.toPath()));

        AtomicOutput b = new AtomicOutput(target);
        b.open().write(new byte[] {9});
        b.abort();
        assertArrayEquals("an aborted write leaves the old file", new byte[] {1, 2, 3},
                Files.readAllBytes(target.toPath()));
        assertEquals(1, dir.list().length);
        assertTrue(target.delete() && dir.delete());
    }

    @Test
    public void memoryPlanRefusesWhatCannotFit() {
        // 50 MP at x2 with 256-pixel windows: tens of MB, not the 800 MB of a whole result.
        MemoryPlan plan = MemoryPlan.of(8660, 5774, 2, 256, 256, 264, 512, 2048L * 2048, false);
        assertTrue(plan.totalBytes < 200L << 20);
        assertTrue(plan.totalBytes > 40L << 20);
        assertNull(plan.refusal(512L << 20, 8660, 5774, 2));
        String refusal = plan.refusal(64L << 20, 8660, 5774, 2);
        assertNotNull(refusal);
        assertTrue(refusal, refusal.contains("8660x5774") && refusal.contains("x2"));
        // A format decoded whole adds the whole source.
        MemoryPlan whole = MemoryPlan.of(8660, 5774, 2, 256, 256, 264, 512, 2048L * 2048, true);
        assertEquals(8660L * 5774 * 4, whole.wholeDecodeBytes);
        assertTrue(whole.refusal(256L << 20, 8660, 5774, 2).contains("decoded whole"));
        // Absurd widths are refused whatever the memory.
        assertNotNull(MemoryPlan.of(300000000, 1, 4, 256, 256, 1, 4, 1, false).refusal(Long.MAX_VALUE / 4,
                300000000, 1, 4));
    }

    @Test
    public void previewSampleSizeIsThePowerOfTwoThatFits() {
        assertEquals(1, MemoryPlan.sampleSize(1080, 1920, 1080, 1920));
        assertEquals(2, MemoryPlan.sampleSize(1081, 1920, 1080, 1920));
        assertEquals(16, MemoryPlan.sampleSize(8660, 5774, 1080, 2400));  // 8660 / 8 = 1082 > 1080
        assertEquals(4, MemoryPlan.sampleSize(4000, 3000, 1080, 2400));
    }

    @Test
    public void bandCacheReturnsTheSamePixelsAsTheSource() {
        ArgbImage img = randomRgba(17, 40, 8);
        BandCache cache = new BandCache(img, 10);
        int[] a = new int[5 * 6];
        int[] b = new int[5 * 6];
        int[][] reads = {{0, 0}, {3, 4}, {12, 34}, {2, 1}, {0, 20}};
        for (int[] r : reads) {
            cache.read(r[0], r[1], 5, 6, a);
            img.read(r[0], r[1], 5, 6, b);
            assertArrayEquals(b, a);
        }
        int[] tall = new int[17 * 40];
        cache.read(0, 0, 17, 40, tall);   // taller than a band: read straight through
        assertArrayEquals(img.pixels, tall);
    }

    static void writeAll(File f, byte[] data) throws IOException {
        FileOutputStream out = new FileOutputStream(f);
        try {
            out.write(data);
        } finally {
            out.close();
        }
    }
}

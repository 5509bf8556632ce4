package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.awt.image.BufferedImage;
import java.io.ByteArrayInputStream;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.util.Random;
import java.util.zip.Deflater;
import javax.imageio.ImageIO;
import org.junit.Test;

/** The streaming encoder's files must decode (javax.imageio) to exactly the pixels written. */
public class PngWriterTest {

    static int[] randomPixels(int n, long seed, boolean alpha) {
        Random rnd = new Random(seed);
        int[] p = new int[n];
        for (int i = 0; i < n; i++) {
            int a = alpha ? rnd.nextInt(256) : 0xFF;
            p[i] = (a << 24) | (rnd.nextInt(1 << 24));
        }
        return p;
    }

    /** Encodes in bands of {@code bandRows} (as the pipeline does), returns the file bytes. */
    static byte[] encode(int[] argb, int w, int h, boolean alpha, PngWriter.Filter filter, int bandRows)
            throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        PngWriter png = new PngWriter(out, w, h, alpha, filter, Deflater.BEST_SPEED);
        int[] band = new int[w * bandRows];
        for (int y = 0; y < h; y += bandRows) {
            int rows = Math.min(bandRows, h - y);
            System.arraycopy(argb, y * w, band, 0, rows * w);
            png.writeRows(band, rows);
        }
        png.finish();
        return out.toByteArray();
    }

    static void assertDecodesTo(byte[] file, int[] argb, int w, int h, boolean alpha) throws IOException {
        BufferedImage img = ImageIO.read(new ByteArrayInputStream(file));
        assertEquals(w, img.getWidth());
        assertEquals(h, img.getHeight());
        assertEquals(alpha, img.getColorModel().hasAlpha());
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                assertEquals("pixel " + x + "," + y, argb[y * w + x], img.getRGB(x, y));
            }
        }
    }

    @Test
    public void everyFilterRoundTripsRgbAndRgba() throws IOException {
        int w = 37;
        int h = 23;
        for (boolean alpha : new boolean[] {false, true}) {
            int[] argb = randomPixels(w * h, alpha ? 2 : 1, alpha);
            for (PngWriter.Filter f : PngWriter.Filter.values()) {
                assertDecodesTo(encode(argb, w, h, alpha, f, 5), argb, w, h, alpha);
            }
        }
    }

    @Test
    public void largeImagesSpanSeveralIdatChunks() throws IOException {
        int w = 300;
        int h = 200;   // 240 KB of noise: incompressible, so more than one 64 KB IDAT
        int[] argb = randomPixels(w * h, 9, true);
        byte[] file = encode(argb, w, h, true, PngWriter.Filter.PAETH, 64);
        assertTrue(file.length > 3 * PngWriter.IDAT_SIZE);
        assertDecodesTo(file, argb, w, h, true);
    }

    @Test
    public void paethPredictorFollowsTheSpec() {
        assertEquals(10, PngWriter.paeth(10, 20, 20));  // p = 10: closest to a
        assertEquals(20, PngWriter.paeth(10, 20, 10));  // p = 20: b
        assertEquals(15, PngWriter.paeth(10, 20, 15));  // p = 15: c
    }

    @Test
    public void incompleteImagesAreRejected() throws IOException {
        PngWriter png = new PngWriter(new ByteArrayOutputStream(), 4, 3, false);
        png.writeRows(new int[8], 2);
        try {
            png.finish();
            fail("expected IllegalStateException");
        } catch (IllegalStateException expected) {
            assertTrue(expected.getMessage().contains("2 of 3"));
        }
        try {
            png.writeRows(new int[8], 2);
            fail("expected IllegalStateException");
        } catch (IllegalStateException expected) {
            assertTrue(expected.getMessage().contains("more than 3"));
        }
    }
}

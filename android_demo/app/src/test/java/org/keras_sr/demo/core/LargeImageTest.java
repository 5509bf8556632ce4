package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;

import java.awt.Rectangle;
import java.awt.image.BufferedImage;
import java.io.BufferedReader;
import java.io.File;
import java.io.InputStreamReader;
import java.nio.file.Files;
import java.util.Iterator;
import javax.imageio.ImageIO;
import javax.imageio.ImageReadParam;
import javax.imageio.ImageReader;
import javax.imageio.stream.ImageInputStream;
import org.junit.Test;

/**
 * A 50-megapixel photo at x2 (a 200 MP, 17320x11548 result) through the streaming path, in a
 * child JVM whose heap ({@link #HEAP_MB} MB) is far below the 800 MB a whole output bitmap
 * needs, so a whole-bitmap implementation fails this test with OutOfMemoryError. The written
 * PNG is then decoded with javax.imageio: its size, and regions across tile seams and at the
 * bottom-right corner, against the formula of the whole-image result.
 */
public class LargeImageTest {
    static final int WIDTH = 8660;
    static final int HEIGHT = 5774;   // 50.0 MP
    static final int HEAP_MB = 160;
    private static final long WHOLE_OUTPUT_BYTES = 4L * WIDTH * 2 * HEIGHT * 2;

    @Test
    public void fiftyMegapixelsAtX2StreamWithinASmallHeap() throws Exception {
        assertTrue("the heap limit must be far below a whole output bitmap", HEAP_MB * 4L << 20 < WHOLE_OUTPUT_BYTES);
        File dir = Files.createTempDirectory("sr50mp").toFile();
        File png = new File(dir, "big_x2.png");
        try {
            String java = new File(new File(System.getProperty("java.home"), "bin"), "java").getPath();
            ProcessBuilder pb = new ProcessBuilder(java, "-Xmx" + HEAP_MB + "m", "-cp",
                    System.getProperty("java.class.path"), LargeImageJob.class.getName(), png.getPath(),
                    String.valueOf(WIDTH), String.valueOf(HEIGHT));
            pb.redirectErrorStream(true);
            Process p = pb.start();
            StringBuilder log = new StringBuilder();
            BufferedReader r = new BufferedReader(new InputStreamReader(p.getInputStream(), "UTF-8"));
            for (String line; (line = r.readLine()) != null; ) {
                log.append(line).append('\n');
            }
            int rc = p.waitFor();
            System.out.println("    50 MP x2 streaming job (-Xmx" + HEAP_MB + "m): "
                    + log.toString().trim().replace('\n', ' ') + ", PNG " + png.length() / (1 << 20) + " MB");
            assertEquals("child JVM failed:\n" + log, 0, rc);
            assertTrue(log.toString().contains("peakHeapBytes="));
            assertTrue("no partial file left", !new File(png.getPath() + ".part").exists());

            // Across the first row/column tile seams (window 256, halo 2: kept LR rows end at 254).
            checkRegion(png, new Rectangle(480, 480, 60, 60));
            // The last rows and columns: the whole stream decodes and ends right.
            checkRegion(png, new Rectangle(WIDTH * 2 - 70, HEIGHT * 2 - 50, 70, 50));
        } finally {
            png.delete();
            dir.delete();
        }
    }

    /** Decodes only {@code region} (the reader streams past the rest) and checks every pixel. */
    private static void checkRegion(File png, Rectangle region) throws Exception {
        ImageInputStream in = ImageIO.createImageInputStream(png);
        BufferedImage img;
        try {
            Iterator<ImageReader> readers = ImageIO.getImageReaders(in);
            ImageReader reader = readers.next();
            reader.setInput(in);
            assertEquals(WIDTH * 2, reader.getWidth(0));
            assertEquals(HEIGHT * 2, reader.getHeight(0));
            ImageReadParam param = reader.getDefaultReadParam();
            param.setSourceRegion(region);
            img = reader.read(0, param);
            reader.dispose();
        } finally {
            in.close();
        }
        assertEquals(region.width, img.getWidth());
        assertEquals(region.height, img.getHeight());
        for (int y = 0; y < region.height; y++) {
            for (int x = 0; x < region.width; x++) {
                int hx = region.x + x;
                int hy = region.y + y;
                assertEquals("pixel " + hx + "," + hy, LargeImageJob.expected(WIDTH, HEIGHT, hx, hy),
                        img.getRGB(x, y));
            }
        }
    }
}

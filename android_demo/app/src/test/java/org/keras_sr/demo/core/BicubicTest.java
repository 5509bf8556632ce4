package org.keras_sr.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import java.util.Random;
import org.junit.Test;

/**
 * Expected values from the Python tool's MATLAB-exact resize:
 * {@code rng = np.random.default_rng(7); img = rng.integers(0, 256, (5, 4, 3), dtype=np.uint8);
 * keras_sr.imresize.imresize(img, 2.0)} (and 3.0), then
 * {@code plane = rng.normal(0, 20, (4, 5)); imresize(plane, 3.0)} for the float path.
 */
public class BicubicTest {
    /** The 5x4 RGB image (H=5, W=4), HWC. */
    private static final int[] LR = {139, 74, 229, 241, 169, 65, 6, 160, 149, 106, 38, 175, 188, 205, 175,
        229, 98, 249, 10, 148, 95, 86, 147, 198, 66, 39, 106, 213, 171, 45, 167, 57, 69, 81, 55, 14, 153, 178,
        215, 76, 52, 39, 250, 72, 215, 50, 161, 223, 112, 172, 161, 233, 38, 17, 89, 1, 221, 6, 242, 127};

    /** imresize(img, 2.0): 10x8x3. */
    private static final int[] UP2 = {129, 57, 246, 163, 87, 194, 237, 153, 82, 199, 182, 59, 49, 175, 127, 10,
        133, 164, 81, 56, 171, 114, 21, 174, 146, 102, 228, 175, 115, 196, 238, 143, 128, 195, 160, 105, 46, 167,
        127, 7, 141, 150, 76, 82, 176, 109, 55, 187, 184, 196, 189, 202, 172, 201, 240, 120, 227, 187, 112, 202, 42,
        147, 126, 2, 155, 120, 66, 137, 183, 96, 129, 213, 161, 182, 150, 182, 163, 172, 228, 123, 217, 193, 110,
        196, 77, 123, 107, 36, 130, 88, 71, 132, 139, 87, 133, 162, 76, 59, 112, 117, 88, 108, 204, 150, 97, 217,
        152, 85, 155, 95, 70, 113, 67, 56, 91, 68, 42, 81, 69, 35, 69, 49, 132, 97, 78, 104, 158, 139, 45, 194, 139,
        38, 206, 76, 85, 175, 51, 91, 101, 63, 58, 66, 69, 42, 138, 151, 206, 123, 133, 159, 90, 93, 59, 125, 71, 56,
        229, 68, 151, 221, 84, 194, 101, 120, 187, 46, 136, 183, 155, 197, 225, 137, 157, 171, 100, 69, 57, 124, 31,
        61, 209, 43, 183, 194, 86, 238, 79, 160, 224, 26, 194, 217, 117, 186, 186, 139, 148, 139, 188, 68, 38, 191,
        19, 53, 149, 2, 183, 96, 58, 223, 35, 184, 170, 6, 243, 146, 100, 181, 167, 140, 145, 123, 228, 67, 29, 222,
        14, 49, 120, 0, 183, 51, 48, 215, 14, 197, 145, 0, 255, 113};

    /** First row (12 pixels) and last row of imresize(img, 3.0): 15x12x3. */
    private static final int[] UP3_FIRST_ROW = {127, 56, 246, 135, 64, 233, 175, 97, 175, 228, 142, 97, 242,
        174, 51, 176, 183, 67, 72, 179, 115, 6, 161, 153, 18, 121, 166, 68, 68, 171, 107, 30, 173, 114, 20, 174};
    private static final int[] UP3_LAST_ROW = {99, 182, 168, 109, 172, 157, 156, 133, 107, 217, 80, 42, 245,
        37, 15, 208, 7, 69, 137, 0, 162, 77, 0, 221, 43, 71, 206, 19, 173, 158, 3, 248, 120, 0, 255, 113};

    private static final double[] PLANE = {-9.844130371026592, -12.409497996398809, 9.796841003703964,
        7.137740163201215, 2.108284979957971, -18.609360894164094, -0.5850364492654698, 13.906063889165756,
        -26.88429094570164, -9.152315220804363, -38.02445479601688, -25.79075479569952, -36.834700755834646,
        -4.701822621493625, -25.348929628874064, 5.425287176434031, 3.1350217324845033, -3.7386188925990878,
        -50.33519421641026, -10.773857916932732};
    /** imresize(plane, 3.0)[[0, 5, 11]][:, [0, 7, 14]] (the plane is 4x5, the result 12x15). */
    private static final double[] PLANE_UP3 = {-8.891851813686946, 9.492454123299389, 2.444960024283715,
        -27.98137185765743, -2.0496306757348126, -14.894397328842478, 8.893128414105732, -1.287057273100177,
        -6.433391790946419};

    private static ArgbImage lrImage() {
        ArgbImage img = new ArgbImage(4, 5);
        for (int i = 0; i < img.pixels.length; i++) {
            img.pixels[i] = Uint8.argb(LR[3 * i], LR[3 * i + 1], LR[3 * i + 2]);
        }
        return img;
    }

    private static int[] rgb(ArgbImage img, int fromPixel, int count) {
        int[] out = new int[3 * count];
        for (int i = 0; i < count; i++) {
            int p = img.pixels[fromPixel + i];
            out[3 * i] = Uint8.red(p);
            out[3 * i + 1] = Uint8.green(p);
            out[3 * i + 2] = Uint8.blue(p);
        }
        return out;
    }

    @Test
    public void uint8MatchesPythonImresizeX2() {
        ArgbImage out = new ArgbImage(8, 10);
        Bicubic.upscaleArgb(lrImage(), 2, 0, 0, 8, 10, out);
        assertArrayEquals(UP2, rgb(out, 0, 80));
    }

    @Test
    public void uint8MatchesPythonImresizeX3() {
        ArgbImage out = new ArgbImage(12, 15);
        Bicubic.upscaleArgb(lrImage(), 3, 0, 0, 12, 15, out);
        assertArrayEquals(UP3_FIRST_ROW, rgb(out, 0, 12));
        assertArrayEquals(UP3_LAST_ROW, rgb(out, 14 * 12, 12));
    }

    @Test
    public void floatMatchesPythonImresize() {
        double[] out = new double[12 * 15];
        Bicubic.upsample(PLANE, 0, 0, 5, 4, 5, 4, 3, 0, 0, 15, 12, false, out);
        int[] rows = {0, 5, 11};
        int[] cols = {0, 7, 14};
        for (int i = 0; i < rows.length; i++) {
            for (int j = 0; j < cols.length; j++) {
                assertEquals(PLANE_UP3[i * 3 + j], out[rows[i] * 15 + cols[j]], 1e-12);
            }
        }
    }

    @Test
    public void regionsEqualTheWholeImage() {
        Random rnd = new Random(3);
        ArgbImage src = new ArgbImage(23, 17);
        for (int i = 0; i < src.pixels.length; i++) {
            src.pixels[i] = Uint8.argb(rnd.nextInt(256), rnd.nextInt(256), rnd.nextInt(256));
        }
        for (int scale : new int[] {2, 3, 4}) {
            int w = 23 * scale;
            int h = 17 * scale;
            ArgbImage whole = new ArgbImage(w, h);
            Bicubic.upscaleArgb(src, scale, 0, 0, w, h, whole);
            int x0 = 5, y0 = 3, rw = w - 9, rh = h - 7;
            ArgbImage part = new ArgbImage(rw, rh);
            Bicubic.upscaleArgb(src, scale, x0, y0, rw, rh, part);
            for (int y = 0; y < rh; y++) {
                for (int x = 0; x < rw; x++) {
                    assertEquals(whole.pixels[(y0 + y) * w + x0 + x], part.pixels[y * rw + x]);
                }
            }
        }
    }

    @Test
    public void flatImageStaysFlat() {
        ArgbImage src = new ArgbImage(5, 4);
        java.util.Arrays.fill(src.pixels, Uint8.argb(7, 128, 250));
        ArgbImage out = new ArgbImage(15, 12);
        Bicubic.upscaleArgb(src, 3, 0, 0, 15, 12, out);
        for (int p : out.pixels) {
            assertEquals(Uint8.argb(7, 128, 250), p);
        }
    }
}

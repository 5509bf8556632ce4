package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import java.nio.charset.Charset;
import java.util.List;
import java.util.Map;
import org.junit.Test;

/**
 * The app's pure-Java core against files the Python package wrote (tools/make_android_golden.py,
 * on the classpath under golden/): if keras_sr changes a formula and the Java copy does not, or
 * the other way round, this fails.
 *
 * <p>Tolerances: integers (rounded pixels, tile spans, metadata verdicts) are compared exactly.
 * Unrounded doubles are compared to {@link #FLOAT_TOLERANCE}: numpy evaluates the same formulas in
 * another order (a matrix product, {@code np.linalg.inv}), which moves the last bits. A rounded
 * value may therefore differ by one level only where the unrounded value lies within that
 * tolerance of a .5 boundary; {@link #assertRoundedEquals} allows exactly that and nothing else.
 */
public class GoldenTest {
    private static final Charset UTF8 = Charset.forName("UTF-8");
    private static final double FLOAT_TOLERANCE = 1e-9;

    @SuppressWarnings("unchecked")
    private static Map<String, Object> golden(String name) throws IOException {
        InputStream in = GoldenTest.class.getResourceAsStream("/golden/" + name);
        assertNotNull("golden/" + name + " not on the classpath (run tools/make_android_golden.py)", in);
        try {
            ByteArrayOutputStream bytes = new ByteArrayOutputStream();
            byte[] buf = new byte[1 << 14];
            for (int n; (n = in.read(buf)) > 0; ) {
                bytes.write(buf, 0, n);
            }
            return (Map<String, Object>) Json.parse(new String(bytes.toByteArray(), UTF8));
        } finally {
            in.close();
        }
    }

    private static double[] doubles(Map<String, Object> m, String key) {
        List<?> list = (List<?>) m.get(key);
        assertNotNull("missing " + key, list);
        double[] out = new double[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) list.get(i)).doubleValue();
        }
        return out;
    }

    private static int[] ints(Map<String, Object> m, String key) {
        double[] d = doubles(m, key);
        int[] out = new int[d.length];
        for (int i = 0; i < d.length; i++) {
            out[i] = (int) d[i];
            assertEquals(key + "[" + i + "] is an integer", d[i], out[i], 0.0);
        }
        return out;
    }

    private static int integer(Map<String, Object> m, String key) {
        return ((Number) m.get(key)).intValue();
    }

    /** The test image as opaque ARGB. */
    private static ArgbImage image() throws IOException {
        Map<String, Object> g = golden("image.json");
        int h = integer(g, "height");
        int w = integer(g, "width");
        int[] rgb = ints(g, "rgb");
        int[] argb = new int[w * h];
        for (int i = 0; i < argb.length; i++) {
            argb[i] = Uint8.argb(rgb[3 * i], rgb[3 * i + 1], rgb[3 * i + 2]);
        }
        return new ArgbImage(w, h, argb);
    }

    private static int[] channels(int argb) {
        return new int[] {Uint8.red(argb), Uint8.green(argb), Uint8.blue(argb)};
    }

    private static void assertClose(String what, double expected, double actual) {
        assertEquals(what, expected, actual, FLOAT_TOLERANCE);
    }

    /**
     * {@code actual} (Java) equals {@code expected} (Python's rounded value), or differs by one
     * level where Python's unrounded value {@code unrounded} is a rounding near-tie.
     */
    private static void assertRoundedEquals(String what, int expected, int actual, double unrounded) {
        if (expected == actual) {
            return;
        }
        double fromTie = Math.abs(unrounded - Math.floor(unrounded) - 0.5);
        if (Math.abs(expected - actual) == 1 && fromTie < FLOAT_TOLERANCE) {
            return;
        }
        fail(what + ": Python " + expected + ", Java " + actual + " (unrounded " + unrounded + ")");
    }

    @Test
    public void ycbcrMatchesKerasSrMetrics() throws IOException {
        ArgbImage img = image();
        Map<String, Object> g = golden("ycbcr.json");
        double[] y = doubles(g, "y");
        double[] cb = doubles(g, "cb");
        double[] cr = doubles(g, "cr");
        int[] yUint8 = ints(g, "y_uint8");
        byte[] javaY = new byte[img.pixels.length];
        Uint8.argbToY(img.pixels, img.pixels.length, javaY);
        assertEquals(y.length, img.pixels.length);
        for (int i = 0; i < img.pixels.length; i++) {
            int[] c = channels(img.pixels[i]);
            assertClose("Y at " + i, y[i], YCbCr.luma(c[0], c[1], c[2]));
            assertClose("Cb at " + i, cb[i] - YCbCr.C_OFFSET, YCbCr.cbOffset(c[0], c[1], c[2]));
            assertClose("Cr at " + i, cr[i] - YCbCr.C_OFFSET, YCbCr.crOffset(c[0], c[1], c[2]));
            // The model's input byte: round(rgb2ycbcr(RGB)[..., 0]), as keras_sr feeds Y models.
            assertRoundedEquals("Y uint8 at " + i, yUint8[i], Uint8.value(javaY[i]), y[i]);
        }
    }

    @Test
    public void inverseMatchesKerasSrYcbcr2rgb() throws IOException {
        ArgbImage img = image();
        Map<String, Object> g = golden("ycbcr.json");
        double[] cb = doubles(g, "cb");
        double[] cr = doubles(g, "cr");
        double[] y = doubles(g, "y");
        int[] yUint8 = ints(g, "y_uint8");
        int[] roundtrip = ints(g, "roundtrip_rgb");
        int[] recombined = ints(g, "recombined_rgb");
        double[] recombinedFloat = doubles(g, "recombined_float");
        for (int i = 0; i < img.pixels.length; i++) {
            int[] original = channels(img.pixels[i]);
            int[] back = channels(YCbCr.toArgb(y[i], cb[i] - YCbCr.C_OFFSET, cr[i] - YCbCr.C_OFFSET));
            // What a Y model's output goes through: a rounded Y with float chroma, then the inverse.
            int[] yModel = channels(YCbCr.toArgb(yUint8[i], cb[i] - YCbCr.C_OFFSET, cr[i] - YCbCr.C_OFFSET));
            for (int c = 0; c < 3; c++) {
                assertEquals("Python round trip restores the image", original[c], roundtrip[3 * i + c]);
                assertEquals("Java round trip at " + i + "/" + c, roundtrip[3 * i + c], back[c]);
                assertRoundedEquals("recombined at " + i + "/" + c, recombined[3 * i + c], yModel[c],
                        recombinedFloat[3 * i + c]);
            }
        }
    }

    /** keras_sr rounds pixels half up after clipping (MATLAB's uint8 cast), not half to even. */
    @Test
    public void roundingMatchesKerasSrRoundPixels() throws IOException {
        Map<String, Object> g = golden("ycbcr.json");
        double[] in = doubles(g, "round_in");
        int[] out = ints(g, "round_out");
        assertEquals(in.length, out.length);
        for (int i = 0; i < in.length; i++) {
            assertEquals("round_pixels(" + in[i] + ")", out[i], Uint8.roundClip(in[i]));
        }
    }

    private static void checkBicubic(String file) throws IOException {
        ArgbImage img = image();
        Map<String, Object> g = golden(file);
        int s = integer(g, "scale");
        int w = integer(g, "width");
        int h = integer(g, "height");
        assertEquals(img.width * s, w);
        int[] expected = ints(g, "rgb");
        ArgbImage out = new ArgbImage(w, h);
        Bicubic.upscaleArgb(img, s, 0, 0, w, h, out);
        // Both sides sum the same four taps in the same order and round with floor(x + 0.5)
        // after each pass, so the bytes must be identical: no tolerance.
        int mismatches = 0;
        String first = null;
        for (int i = 0; i < out.pixels.length; i++) {
            int[] c = channels(out.pixels[i]);
            for (int k = 0; k < 3; k++) {
                if (c[k] != expected[3 * i + k]) {
                    mismatches++;
                    if (first == null) {
                        first = "pixel (" + i % w + ", " + i / w + ") channel " + k + ": Python "
                                + expected[3 * i + k] + ", Java " + c[k];
                    }
                }
            }
        }
        assertEquals(file + ": " + mismatches + " bytes differ, first at " + first, 0, mismatches);
    }

    @Test
    public void bicubicX2MatchesKerasSrImresize() throws IOException {
        checkBicubic("bicubic_x2.json");
    }

    @Test
    public void bicubicX3MatchesKerasSrImresize() throws IOException {
        checkBicubic("bicubic_x3.json");
    }

    /** The chroma path of Y models: float planes, no intermediate rounding. */
    @Test
    public void floatBicubicMatchesKerasSrImresizeOnCb() throws IOException {
        ArgbImage img = image();
        Map<String, Object> ycc = golden("ycbcr.json");
        Map<String, Object> g = golden("bicubic_x2.json");
        double[] cb = doubles(ycc, "cb");
        double[] expected = doubles(g, "cb");
        int w = integer(g, "width");
        int h = integer(g, "height");
        double[] out = new double[w * h];
        Bicubic.upsample(cb, 0, 0, img.width, img.height, img.width, img.height, 2, 0, 0, w, h, false, out);
        for (int i = 0; i < out.length; i++) {
            assertClose("upscaled Cb at " + i, expected[i], out[i]);
        }
    }

    @Test
    public void tilerMatchesKerasSrTiling() throws IOException {
        List<?> cases = (List<?>) golden("tiling.json").get("cases");
        assertTrue("several cases", cases.size() >= 5);
        for (Object o : cases) {
            @SuppressWarnings("unchecked")
            Map<String, Object> c = (Map<String, Object>) o;
            int length = integer(c, "length");
            int tile = integer(c, "tile");
            int radius = integer(c, "radius");
            String what = "axis_windows(" + length + ", " + tile + ", " + radius + ")";
            List<?> windows = (List<?>) c.get("windows");
            List<Tiler.Span> spans = Tiler.spans(length, tile, radius);
            assertEquals(what + " window count", windows.size(), spans.size());
            for (int i = 0; i < spans.size(); i++) {
                List<?> wnd = (List<?>) windows.get(i);
                Tiler.Span s = spans.get(i);
                int[] py = new int[4];
                for (int k = 0; k < 4; k++) {
                    py[k] = ((Number) wnd.get(k)).intValue();
                }
                assertEquals(what + " window " + i + " " + s, py[0] + "+" + py[1] + " keep " + py[2] + ".." + py[3],
                        s.start + "+" + s.size + " keep " + s.keepStart + ".." + s.keepEnd);
            }
        }
    }

    /**
     * The metadata the exporter writes is read with the same values, and every variant the Python
     * runtime refuses is refused here too. The app is stricter in one way, on purpose: it runs
     * only int8 models (uint8 tensors), so an fp16/float32 file Python accepts is refused.
     */
    @Test
    public void metadataContractMatchesKerasSrRuntime() throws IOException {
        List<?> cases = (List<?>) golden("metadata.json").get("cases");
        int accepted = 0;
        int refused = 0;
        for (Object o : cases) {
            @SuppressWarnings("unchecked")
            Map<String, Object> c = (Map<String, Object>) o;
            String name = (String) c.get("name");
            String json = (String) c.get("json");
            boolean pythonAccepts = (Boolean) c.get("python_accepts");
            boolean int8 = ModelContract.QUANTIZATION_INT8.equals(ModelMetadata.parse(json).fields.get("quantization"));
            ModelMetadata meta = null;
            String refusal = null;
            try {
                meta = ModelContract.check(name, ModelMetadataTest.model(json, false, ModelMetadata.ENTRY_NAME));
            } catch (ModelContract.Refused e) {
                refusal = e.getMessage();
            }
            if (pythonAccepts && int8) {
                assertNotNull(name + " refused: " + refusal, meta);
                assertEquals(name + " scale", integer(c, "scale"), meta.scale);
                assertEquals(name + " colors", integer(c, "colors"), meta.colors);
                assertEquals(name + " receptive_radius", integer(c, "receptive_radius"), meta.receptiveRadius);
                accepted++;
            } else {
                assertNotNull(name + " accepted, but Python says: " + c.get("python_error"), refusal);
                assertTrue(refusal, refusal.startsWith(name + " cannot be used: "));
                refused++;
            }
        }
        assertTrue("both verdicts are exercised", accepted >= 2 && refused >= 5);
    }
}

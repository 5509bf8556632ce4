package org.keras_sr.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Random;
import java.util.concurrent.CancellationException;
import org.junit.Test;

/** Tiled runs must equal whole-image runs exactly, for a stub network with a known receptive field. */
public class SrPipelineTest {

    /**
     * A stack of {@code depth} 3x3 layers with zero padding (receptive radius = depth), mixing
     * channels, then a nearest-neighbour upscale with a per-sub-pixel offset. Integer arithmetic
     * mod 256, so every output depends on its whole receptive field and nothing else.
     */
    static class BoxStack implements TileModel {
        final int depth;
        final int scale;
        final int colors;
        int calls;

        BoxStack(int depth, int scale, int colors) {
            this.depth = depth;
            this.scale = scale;
            this.colors = colors;
        }

        @Override
        public void run(byte[] input, int h, int w, byte[] output) {
            calls++;
            int[] v = new int[h * w * colors];
            for (int i = 0; i < v.length; i++) {
                v[i] = input[i] & 0xFF;
            }
            for (int d = 0; d < depth; d++) {
                int[] next = new int[v.length];
                for (int y = 0; y < h; y++) {
                    for (int x = 0; x < w; x++) {
                        for (int c = 0; c < colors; c++) {
                            int sum = 0;
                            for (int dy = -1; dy <= 1; dy++) {
                                for (int dx = -1; dx <= 1; dx++) {
                                    int yy = y + dy;
                                    int xx = x + dx;
                                    if (yy >= 0 && yy < h && xx >= 0 && xx < w) {
                                        sum += (dy * 3 + dx + 5) * v[(yy * w + xx) * colors + c];
                                    }
                                }
                            }
                            int other = v[(y * w + x) * colors + (c + 1) % colors];
                            next[(y * w + x) * colors + c] = (sum + other + d + 1) % 256;
                        }
                    }
                }
                v = next;
            }
            int ow = w * scale;
            for (int y = 0; y < h * scale; y++) {
                for (int x = 0; x < ow; x++) {
                    for (int c = 0; c < colors; c++) {
                        int sub = (y % scale) * 7 + (x % scale) * 3;
                        output[(y * ow + x) * colors + c] = (byte) (v[((y / scale) * w + x / scale) * colors + c] + sub);
                    }
                }
            }
        }
    }

    static ArgbImage randomImage(int w, int h, long seed, boolean gray) {
        Random rnd = new Random(seed);
        ArgbImage img = new ArgbImage(w, h);
        for (int i = 0; i < img.pixels.length; i++) {
            int r = rnd.nextInt(256);
            img.pixels[i] = gray ? Uint8.argb(r, r, r) : Uint8.argb(r, rnd.nextInt(256), rnd.nextInt(256));
        }
        return img;
    }

    static ArgbImage run(TileModel model, ModelSpec spec, ArgbImage src) throws Exception {
        ArgbImage out = new ArgbImage(src.width * spec.scale, src.height * spec.scale);
        Arrays.fill(out.pixels, 0x12345678);  // anything not written shows up as a mismatch
        new SrPipeline(model, spec).run(src, out, null);
        return out;
    }

    static ModelSpec spec(int scale, int colors, int halo, int tile) {
        return new ModelSpec(scale, colors, halo, tile, tile, false, true);
    }

    @Test
    public void tiledEqualsWholeForManyTileSizes() throws Exception {
        int[][] sizes = {{13, 17}, {37, 23}, {1, 9}, {29, 29}};
        for (int colors : new int[] {1, 3}) {
            for (int scale : new int[] {2, 3}) {
                int halo = 3;
                BoxStack net = new BoxStack(halo, scale, colors);
                for (int[] size : sizes) {
                    ArgbImage src = randomImage(size[0], size[1], 31L * size[0] + size[1], false);
                    ArgbImage whole = run(net, spec(scale, colors, halo, 64), src);
                    for (int tile : new int[] {7, 8, 11, 16, 20}) {
                        ArgbImage tiled = run(net, spec(scale, colors, halo, tile), src);
                        assertArrayEquals("colors=" + colors + " scale=" + scale + " size=" + size[0] + "x"
                                + size[1] + " tile=" + tile, whole.pixels, tiled.pixels);
                    }
                }
            }
        }
    }

    @Test
    public void tooSmallHaloIsCaught() throws Exception {
        // The same net tiled with a halo one short of its receptive radius must differ: the test
        // above can fail.
        BoxStack net = new BoxStack(3, 2, 1);
        ArgbImage src = randomImage(37, 23, 5, false);
        ArgbImage whole = run(net, spec(2, 1, 3, 64), src);
        ArgbImage wrong = run(net, spec(2, 1, 2, 9), src);
        assertFalse(Arrays.equals(whole.pixels, wrong.pixels));
    }

    @Test
    public void fixedSizeModelIsExactAwayFromThePaddedBorder() throws Exception {
        int halo = 2;
        int scale = 2;
        BoxStack net = new BoxStack(halo, scale, 3);
        ArgbImage src = randomImage(30, 9, 11, false);  // height 9 < tile 12: padded to 12
        ArgbImage whole = run(net, spec(scale, 3, halo, 64), src);
        ArgbImage fixed = run(net, new ModelSpec(scale, 3, halo, 12, 12, true, true), src);
        int exactRows = (9 - halo) * scale;
        int w = 30 * scale;
        assertArrayEquals(Arrays.copyOf(whole.pixels, exactRows * w), Arrays.copyOf(fixed.pixels, exactRows * w));
        // Nothing left unwritten.
        for (int p : fixed.pixels) {
            assertTrue(p != 0x12345678);
        }
    }

    @Test
    public void grayscaleStaysGrayscale() throws Exception {
        ArgbImage src = randomImage(19, 14, 3, true);
        ArgbImage out = run(new BoxStack(2, 2, 1), spec(2, 1, 2, 8), src);
        for (int p : out.pixels) {
            assertEquals(Uint8.red(p), Uint8.green(p));
            assertEquals(Uint8.red(p), Uint8.blue(p));
        }
    }

    @Test
    public void yModelRecombinesBicubicChroma() throws Exception {
        // An identity-like Y "network" (nearest upscale of Y) on a flat colour keeps that colour.
        ArgbImage src = new ArgbImage(6, 5);
        Arrays.fill(src.pixels, Uint8.argb(200, 40, 90));
        ArgbImage out = run(new BoxStack(0, 2, 1) {
            @Override
            public void run(byte[] input, int h, int w, byte[] output) {
                for (int y = 0; y < 2 * h; y++) {
                    for (int x = 0; x < 2 * w; x++) {
                        output[y * 2 * w + x] = input[(y / 2) * w + x / 2];
                    }
                }
            }
        }, spec(2, 1, 0, 4), src);
        for (int p : out.pixels) {
            assertTrue(Math.abs(Uint8.red(p) - 200) <= 1);
            assertTrue(Math.abs(Uint8.green(p) - 40) <= 1);
            assertTrue(Math.abs(Uint8.blue(p) - 90) <= 1);
        }
    }

    @Test
    public void cancelStopsBetweenTiles() throws Exception {
        BoxStack net = new BoxStack(1, 2, 3);
        ArgbImage src = randomImage(40, 40, 1, false);
        SrPipeline pipeline = new SrPipeline(net, spec(2, 3, 1, 10));
        assertEquals(25, pipeline.tileCount(40, 40));
        try {
            pipeline.run(src, new ArgbImage(80, 80), new SrPipeline.Listener() {
                @Override
                public boolean onProgress(int done, int total) {
                    return done < 3;
                }
            });
            fail("expected CancellationException");
        } catch (CancellationException expected) {
            assertEquals(3, net.calls);
        }
    }
}

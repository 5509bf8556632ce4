package org.keras_sr.demo.core;

/** An in-memory ARGB image; the JVM-side stand-in for a Bitmap (tests, small crops). */
public final class ArgbImage implements PixelSource, PixelSink {
    public final int width;
    public final int height;
    public final int[] pixels;

    public ArgbImage(int width, int height) {
        this(width, height, new int[width * height]);
    }

    public ArgbImage(int width, int height, int[] pixels) {
        if (pixels.length != width * height) {
            throw new IllegalArgumentException("pixel array does not match " + width + "x" + height);
        }
        this.width = width;
        this.height = height;
        this.pixels = pixels;
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
        for (int r = 0; r < h; r++) {
            System.arraycopy(pixels, (y + r) * width + x, argb, r * w, w);
        }
    }

    @Override
    public void write(int x, int y, int w, int h, int[] argb) {
        for (int r = 0; r < h; r++) {
            System.arraycopy(argb, r * w, pixels, (y + r) * width + x, w);
        }
    }
}

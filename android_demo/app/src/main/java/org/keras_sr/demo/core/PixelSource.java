package org.keras_sr.demo.core;

/** Read access to an image of packed ARGB pixels (0xAARRGGBB, as android.graphics.Bitmap). */
public interface PixelSource {
    int width();

    int height();

    /** Copies the {@code w x h} region at ({@code x}, {@code y}) into {@code argb}, row-major. */
    void read(int x, int y, int w, int h, int[] argb);
}

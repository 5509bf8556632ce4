package org.keras_sr.demo.core;

/** Write access to an image of packed ARGB pixels (0xAARRGGBB). */
public interface PixelSink {
    /** Stores the row-major {@code w x h} block {@code argb} at ({@code x}, {@code y}). */
    void write(int x, int y, int w, int h, int[] argb);
}

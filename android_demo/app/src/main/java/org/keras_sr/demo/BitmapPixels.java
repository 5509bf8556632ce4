package org.keras_sr.demo;

import android.graphics.Bitmap;
import org.keras_sr.demo.core.PixelSink;
import org.keras_sr.demo.core.PixelSource;

/** Adapts an ARGB_8888 Bitmap to the pure-Java pixel interfaces, with an optional origin shift. */
final class BitmapPixels implements PixelSource, PixelSink {
    private final Bitmap bitmap;

    BitmapPixels(Bitmap bitmap) {
        this.bitmap = bitmap;
    }

    @Override
    public int width() {
        return bitmap.getWidth();
    }

    @Override
    public int height() {
        return bitmap.getHeight();
    }

    @Override
    public void read(int x, int y, int w, int h, int[] argb) {
        bitmap.getPixels(argb, 0, w, x, y, w, h);
    }

    @Override
    public void write(int x, int y, int w, int h, int[] argb) {
        bitmap.setPixels(argb, 0, w, x, y, w, h);
    }
}

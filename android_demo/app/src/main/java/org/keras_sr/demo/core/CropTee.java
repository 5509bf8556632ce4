package org.keras_sr.demo.core;

import java.io.IOException;

/**
 * Passes rows on to another {@link RowSink} and keeps a copy of one rectangle of them: the part
 * of a huge result that the screen shows at full resolution, captured while it streams to disk.
 */
public final class CropTee implements RowSink {
    private final RowSink next;
    private final int width;
    private final int cropX;
    private final int cropY;
    private final ArgbImage crop;
    private int y;

    public CropTee(RowSink next, int width, int cropX, int cropY, int cropW, int cropH) {
        this.next = next;
        this.width = width;
        this.cropX = cropX;
        this.cropY = cropY;
        this.crop = new ArgbImage(cropW, cropH);
    }

    public ArgbImage crop() {
        return crop;
    }

    @Override
    public void writeRows(int[] argb, int rows) throws IOException {
        for (int r = 0; r < rows; r++) {
            int cy = y + r - cropY;
            if (cy >= 0 && cy < crop.height) {
                System.arraycopy(argb, r * width + cropX, crop.pixels, cy * crop.width, crop.width);
            }
        }
        y += rows;
        next.writeRows(argb, rows);
    }
}

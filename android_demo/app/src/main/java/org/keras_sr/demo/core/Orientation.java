package org.keras_sr.demo.core;

/**
 * EXIF orientation (TIFF tag 274, values 1..8, as android.media.ExifInterface's ORIENTATION_*)
 * applied on the fly: a {@link PixelSource} over the stored (raw) pixels that reads as the image
 * is meant to be seen. Regions are mapped to the raw region that holds them, so a tiled decoder
 * still decodes only what each read needs.
 */
public final class Orientation implements PixelSource {
    public static final int NORMAL = 1;
    public static final int FLIP_HORIZONTAL = 2;
    public static final int ROTATE_180 = 3;
    public static final int FLIP_VERTICAL = 4;
    public static final int TRANSPOSE = 5;
    public static final int ROTATE_90 = 6;
    public static final int TRANSVERSE = 7;
    public static final int ROTATE_270 = 8;

    private final PixelSource raw;
    private final int code;

    private Orientation(PixelSource raw, int code) {
        this.raw = raw;
        this.code = code;
    }

    /** {@code raw} as displayed with EXIF orientation {@code code}; unknown codes mean NORMAL. */
    public static PixelSource apply(PixelSource raw, int code) {
        if (code <= NORMAL || code > ROTATE_270) {
            return raw;
        }
        return new Orientation(raw, code);
    }

    /** True when the orientation swaps width and height. */
    public static boolean swapsAxes(int code) {
        return code >= TRANSPOSE && code <= ROTATE_270;
    }

    @Override
    public int width() {
        return swapsAxes(code) ? raw.height() : raw.width();
    }

    @Override
    public int height() {
        return swapsAxes(code) ? raw.width() : raw.height();
    }

    /** Raw column of displayed pixel (x, y). */
    private int rawX(int x, int y) {
        int rw = raw.width();
        switch (code) {
            case FLIP_HORIZONTAL:
            case ROTATE_180:
                return rw - 1 - x;
            case TRANSPOSE:
            case ROTATE_90:
                return y;
            case TRANSVERSE:
            case ROTATE_270:
                return rw - 1 - y;
            default:
                return x;
        }
    }

    /** Raw row of displayed pixel (x, y). */
    private int rawY(int x, int y) {
        int rh = raw.height();
        switch (code) {
            case ROTATE_180:
            case FLIP_VERTICAL:
                return rh - 1 - y;
            case TRANSPOSE:
            case ROTATE_270:
                return x;
            case ROTATE_90:
            case TRANSVERSE:
                return rh - 1 - x;
            default:
                return y;
        }
    }

    @Override
    public void read(int x, int y, int w, int h, int[] argb) {
        // The raw region is the bounding box of the mapped corners (the mapping is affine).
        int ax = rawX(x, y);
        int bx = rawX(x + w - 1, y + h - 1);
        int ay = rawY(x, y);
        int by = rawY(x + w - 1, y + h - 1);
        int u0 = Math.min(ax, bx);
        int v0 = Math.min(ay, by);
        int uw = Math.abs(ax - bx) + 1;
        int vh = Math.abs(ay - by) + 1;
        int[] tmp = new int[uw * vh];
        raw.read(u0, v0, uw, vh, tmp);
        for (int j = 0; j < h; j++) {
            for (int i = 0; i < w; i++) {
                argb[j * w + i] = tmp[(rawY(x + i, y + j) - v0) * uw + rawX(x + i, y + j) - u0];
            }
        }
    }
}

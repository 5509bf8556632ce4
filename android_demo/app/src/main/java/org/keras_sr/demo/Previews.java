package org.keras_sr.demo;

import android.graphics.Bitmap;
import android.graphics.Matrix;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.InputStream;
import org.keras_sr.demo.core.Orientation;

/** Small bitmap helpers: orienting a (screen-sized) preview, reading a stream. */
final class Previews {
    private static final int BUFFER = 1 << 16;

    private Previews() {
    }

    /** {@code b} as displayed with EXIF orientation {@code code} (a new bitmap unless NORMAL). */
    static Bitmap orient(Bitmap b, int code) {
        Matrix m = new Matrix();
        switch (code) {
            case Orientation.FLIP_HORIZONTAL:
                m.setScale(-1, 1);
                break;
            case Orientation.ROTATE_180:
                m.setRotate(180);
                break;
            case Orientation.FLIP_VERTICAL:
                m.setScale(1, -1);
                break;
            case Orientation.TRANSPOSE:
                m.setRotate(90);
                m.postScale(-1, 1);
                break;
            case Orientation.ROTATE_90:
                m.setRotate(90);
                break;
            case Orientation.TRANSVERSE:
                m.setRotate(-90);
                m.postScale(-1, 1);
                break;
            case Orientation.ROTATE_270:
                m.setRotate(-90);
                break;
            default:
                return b;
        }
        Bitmap out = Bitmap.createBitmap(b, 0, 0, b.getWidth(), b.getHeight(), m, true);
        if (out != b) {
            b.recycle();
        }
        return out;
    }

    static byte[] readAll(InputStream in) throws IOException {
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        byte[] buf = new byte[BUFFER];
        for (int n; (n = in.read(buf)) > 0; ) {
            out.write(buf, 0, n);
        }
        return out.toByteArray();
    }
}

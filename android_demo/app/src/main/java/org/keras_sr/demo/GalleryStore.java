package org.keras_sr.demo;

import android.content.ContentResolver;
import android.content.ContentValues;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.net.Uri;
import android.os.Build;
import android.os.Environment;
import android.provider.MediaStore;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import org.keras_sr.demo.core.AcceleratedRunner;

/**
 * Saves results into the shared gallery (MediaStore), Pictures/KerasSR.
 *
 * <p>The result already exists as a complete PNG in the app's cache (streamed there tile row by
 * tile row), so saving as PNG is a copy with constant memory. JPEG and WebP have no streaming
 * encoder on Android: the PNG is decoded whole and re-encoded, which needs 4 bytes per output
 * pixel (800 MB for a 50 MP photo at x2); that is checked first and refused with a message.
 */
final class GalleryStore {
    static final String ALBUM = "KerasSR";
    private static final int QUALITY = 95;
    private static final int BUFFER = 1 << 16;
    private static final long MB = 1L << 20;

    /** Output formats offered to the user. */
    enum Format {
        PNG("PNG (lossless, streamed)", "png", "image/png", Bitmap.CompressFormat.PNG),
        JPEG("JPEG (no alpha, needs the whole image in memory)", "jpg", "image/jpeg", Bitmap.CompressFormat.JPEG),
        WEBP("WebP (needs the whole image in memory)", "webp", "image/webp", Bitmap.CompressFormat.WEBP);

        final String label;
        final String extension;
        final String mime;
        final Bitmap.CompressFormat compress;

        Format(String label, String extension, String mime, Bitmap.CompressFormat compress) {
            this.label = label;
            this.extension = extension;
            this.mime = mime;
            this.compress = compress;
        }
    }

    private GalleryStore() {
    }

    /**
     * Writes the PNG {@code png} ({@code width x height}) as {@code baseName.ext} in
     * {@code format}; returns its content URI (shareable). Below Android 10 this needs
     * WRITE_EXTERNAL_STORAGE, which the Activity requests. A failed write removes the entry.
     *
     * @param maxWholeBytes most memory a whole decoded bitmap may take (JPEG/WebP only)
     */
    static Uri save(ContentResolver resolver, File png, int width, int height, String baseName, Format format,
            long maxWholeBytes, AtomicBoolean cancel) throws IOException {
        long wholeBytes = 4L * width * height;
        if (format != Format.PNG && wholeBytes > maxWholeBytes) {
            throw new IOException(String.format(Locale.US, "%s needs the whole %dx%d image in memory (%d MB; "
                    + "%d MB available). Save as PNG, which is written without it.", format.name(), width, height,
                    wholeBytes / MB, maxWholeBytes / MB));
        }
        String fileName = baseName + "." + format.extension;
        ContentValues values = new ContentValues();
        values.put(MediaStore.Images.Media.DISPLAY_NAME, fileName);
        values.put(MediaStore.Images.Media.MIME_TYPE, format.mime);
        boolean scoped = Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q;
        if (scoped) {
            // MediaStore appends " (1)" etc. when the name is taken; IS_PENDING hides the entry
            // from other apps until it is complete.
            values.put(MediaStore.Images.Media.RELATIVE_PATH, Environment.DIRECTORY_PICTURES + "/" + ALBUM);
            values.put(MediaStore.Images.Media.IS_PENDING, 1);
        } else {
            File dir = new File(Environment.getExternalStoragePublicDirectory(Environment.DIRECTORY_PICTURES), ALBUM);
            if (!dir.isDirectory() && !dir.mkdirs()) {
                throw new IOException("cannot create " + dir);
            }
            values.put(MediaStore.Images.Media.DATA, unusedFile(dir, baseName, format.extension).getAbsolutePath());
        }
        Uri uri = resolver.insert(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, values);
        if (uri == null) {
            throw new IOException("MediaStore refused the new image");
        }
        try {
            OutputStream out = resolver.openOutputStream(uri);
            if (out == null) {
                throw new IOException("cannot open " + uri);
            }
            try {
                if (format == Format.PNG) {
                    copy(png, out, cancel);
                } else {
                    encodeWhole(png, format, out);
                }
            } finally {
                out.close();
            }
        } catch (IOException | RuntimeException | OutOfMemoryError e) {
            resolver.delete(uri, null, null);
            if (e instanceof OutOfMemoryError) {
                throw new IOException("not enough memory to re-encode as " + format.name() + "; save as PNG");
            }
            throw e;
        }
        if (scoped) {
            ContentValues done = new ContentValues();
            done.put(MediaStore.Images.Media.IS_PENDING, 0);
            resolver.update(uri, done, null, null);
        }
        return uri;
    }

    private static File unusedFile(File dir, String base, String ext) {
        File f = new File(dir, base + "." + ext);
        for (int i = 1; f.exists(); i++) {
            f = new File(dir, base + " (" + i + ")." + ext);
        }
        return f;
    }

    private static void copy(File file, OutputStream out, AtomicBoolean cancel) throws IOException {
        InputStream in = new FileInputStream(file);
        try {
            byte[] buf = new byte[BUFFER];
            for (int n; (n = in.read(buf)) > 0; ) {
                AcceleratedRunner.checkCancel(cancel);   // the caller deletes the half-written entry
                out.write(buf, 0, n);
            }
        } finally {
            in.close();
        }
    }

    private static void encodeWhole(File png, Format format, OutputStream out) throws IOException {
        BitmapFactory.Options options = new BitmapFactory.Options();
        options.inPreferredConfig = Bitmap.Config.ARGB_8888;
        Bitmap whole = BitmapFactory.decodeFile(png.getPath(), options);
        if (whole == null) {
            throw new IOException("cannot read back the result " + png.getName());
        }
        try {
            if (!whole.compress(format.compress, QUALITY, out)) {
                throw new IOException(format.name() + " encoding failed");
            }
        } finally {
            whole.recycle();
        }
    }
}

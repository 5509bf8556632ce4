package org.keras_sr.demo;

import android.content.ContentResolver;
import android.content.ContentValues;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Build;
import android.os.Environment;
import android.provider.MediaStore;
import java.io.File;
import java.io.IOException;
import java.io.OutputStream;

/** Saves results as PNG into the shared gallery (MediaStore), Pictures/KerasSR. */
final class GalleryStore {
    static final String ALBUM = "KerasSR";
    static final String MIME_PNG = "image/png";
    private static final int PNG_QUALITY = 100;

    private GalleryStore() {
    }

    /**
     * Writes {@code bitmap} as {@code displayName}.png and returns its content URI (shareable).
     * Below Android 10 this needs WRITE_EXTERNAL_STORAGE, which the Activity requests.
     */
    static Uri savePng(ContentResolver resolver, Bitmap bitmap, String displayName) throws IOException {
        ContentValues values = new ContentValues();
        values.put(MediaStore.Images.Media.DISPLAY_NAME, displayName + ".png");
        values.put(MediaStore.Images.Media.MIME_TYPE, MIME_PNG);
        boolean scoped = Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q;
        if (scoped) {
            values.put(MediaStore.Images.Media.RELATIVE_PATH, Environment.DIRECTORY_PICTURES + "/" + ALBUM);
            values.put(MediaStore.Images.Media.IS_PENDING, 1);
        } else {
            File dir = new File(Environment.getExternalStoragePublicDirectory(Environment.DIRECTORY_PICTURES), ALBUM);
            if (!dir.isDirectory() && !dir.mkdirs()) {
                throw new IOException("cannot create " + dir);
            }
            values.put(MediaStore.Images.Media.DATA, new File(dir, displayName + ".png").getAbsolutePath());
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
                if (!bitmap.compress(Bitmap.CompressFormat.PNG, PNG_QUALITY, out)) {
                    throw new IOException("PNG encoding failed");
                }
            } finally {
                out.close();
            }
        } catch (IOException | RuntimeException e) {
            resolver.delete(uri, null, null);
            throw e;
        }
        if (scoped) {
            ContentValues done = new ContentValues();
            done.put(MediaStore.Images.Media.IS_PENDING, 0);
            resolver.update(uri, done, null, null);
        }
        return uri;
    }
}

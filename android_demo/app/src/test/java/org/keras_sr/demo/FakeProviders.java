package org.keras_sr.demo;

import android.content.ContentProvider;
import android.content.ContentUris;
import android.content.ContentValues;
import android.database.Cursor;
import android.database.MatrixCursor;
import android.net.Uri;
import android.os.ParcelFileDescriptor;
import android.provider.MediaStore;
import android.provider.OpenableColumns;
import java.io.File;
import java.io.FileNotFoundException;
import java.io.FileOutputStream;
import java.io.IOException;
import java.util.LinkedHashMap;
import java.util.concurrent.ConcurrentHashMap;
import java.util.Map;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;

/**
 * Content providers for the Activity tests: a document provider (what the picker or a sharing
 * app hands over: a content URI with a display name) and a MediaStore stand-in for saving.
 * Registered per test with {@code Robolectric.buildContentProvider(...).create(authority)}.
 */
final class FakeProviders {
    static final long TIMEOUT_MS = 20000;

    private FakeProviders() {
    }

    /** content://{@value #AUTHORITY}/NAME serves the bytes added with {@link #add}, named NAME. */
    public static final class Documents extends ContentProvider {
        static final String AUTHORITY = "org.keras_sr.demo.test.documents";
        private final Map<String, File> files = new ConcurrentHashMap<>();
        volatile int opens;

        Uri add(String displayName, byte[] bytes) throws IOException {
            File f = File.createTempFile("doc", ".bin");
            f.deleteOnExit();
            FileOutputStream out = new FileOutputStream(f);
            try {
                out.write(bytes);
            } finally {
                out.close();
            }
            files.put(displayName, f);
            return Uri.parse("content://" + AUTHORITY + "/" + displayName);
        }

        @Override
        public boolean onCreate() {
            return true;
        }

        @Override
        public Cursor query(Uri uri, String[] projection, String selection, String[] args, String order) {
            String name = uri.getLastPathSegment();
            if (!files.containsKey(name)) {
                return null;
            }
            MatrixCursor c = new MatrixCursor(new String[] {OpenableColumns.DISPLAY_NAME, OpenableColumns.SIZE});
            c.addRow(new Object[] {name, files.get(name).length()});
            return c;
        }

        @Override
        public ParcelFileDescriptor openFile(Uri uri, String mode) throws FileNotFoundException {
            File f = files.get(uri.getLastPathSegment());
            if (f == null) {
                throw new FileNotFoundException(uri.toString());
            }
            opens++;
            return ParcelFileDescriptor.open(f, ParcelFileDescriptor.MODE_READ_ONLY);
        }

        @Override
        public String getType(Uri uri) {
            return null;
        }

        @Override
        public Uri insert(Uri uri, ContentValues values) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int delete(Uri uri, String selection, String[] args) {
            throw new UnsupportedOperationException();
        }

        @Override
        public int update(Uri uri, ContentValues values, String selection, String[] args) {
            throw new UnsupportedOperationException();
        }
    }

    /**
     * MediaStore (authority "media"), as far as GalleryStore uses it: insert a row, write its
     * file, clear IS_PENDING, or delete it. Opening a file for writing can be made to block until
     * {@link #release} is counted down, to cancel a save in progress.
     */
    public static final class Media extends ContentProvider {
        static final String AUTHORITY = "media";
        /** Rows by id: the values inserted and updated. */
        final Map<Long, ContentValues> rows = new LinkedHashMap<>();
        final Map<Long, File> files = new LinkedHashMap<>();
        private long nextId = 1;
        volatile boolean blockWrites;
        final CountDownLatch writeStarted = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);

        @Override
        public boolean onCreate() {
            return true;
        }

        @Override
        public synchronized Uri insert(Uri uri, ContentValues values) {
            long id = nextId++;
            rows.put(id, new ContentValues(values));
            return ContentUris.withAppendedId(MediaStore.Images.Media.EXTERNAL_CONTENT_URI, id);
        }

        @Override
        public ParcelFileDescriptor openFile(Uri uri, String mode) throws FileNotFoundException {
            long id = ContentUris.parseId(uri);
            File f;
            synchronized (this) {
                if (!rows.containsKey(id)) {
                    throw new FileNotFoundException(uri.toString());
                }
                f = files.get(id);
                if (f == null) {
                    try {
                        f = File.createTempFile("media", ".bin");
                    } catch (IOException e) {
                        throw new FileNotFoundException(e.getMessage());
                    }
                    f.deleteOnExit();
                    files.put(id, f);
                }
            }
            if (blockWrites && mode.contains("w")) {
                writeStarted.countDown();
                try {
                    if (!release.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                        throw new FileNotFoundException("the test never released the write");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new FileNotFoundException("interrupted");
                }
            }
            return ParcelFileDescriptor.open(f, ParcelFileDescriptor.parseMode(mode));
        }

        @Override
        public synchronized int update(Uri uri, ContentValues values, String selection, String[] args) {
            ContentValues row = rows.get(ContentUris.parseId(uri));
            if (row == null) {
                return 0;
            }
            row.putAll(values);
            return 1;
        }

        @Override
        public synchronized int delete(Uri uri, String selection, String[] args) {
            long id = ContentUris.parseId(uri);
            File f = files.remove(id);
            if (f != null) {
                f.delete();
            }
            return rows.remove(id) == null ? 0 : 1;
        }

        @Override
        public Cursor query(Uri uri, String[] projection, String selection, String[] args, String order) {
            return null;
        }

        @Override
        public String getType(Uri uri) {
            return null;
        }
    }
}

package org.keras_sr.demo;

import android.annotation.TargetApi;
import android.content.ContentResolver;
import android.content.Context;
import android.database.Cursor;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.graphics.BitmapRegionDecoder;
import android.graphics.ImageDecoder;
import android.graphics.Rect;
import android.media.ExifInterface;
import android.net.Uri;
import android.os.Build;
import android.provider.OpenableColumns;
import android.util.Log;
import java.io.Closeable;
import java.io.IOException;
import java.io.InputStream;
import org.keras_sr.demo.core.ArgbImage;
import org.keras_sr.demo.core.MemoryPlan;
import org.keras_sr.demo.core.Orientation;
import org.keras_sr.demo.core.PixelSource;

/**
 * A picked image, opened without decoding it whole: its bounds, EXIF orientation and display
 * name; a preview sampled down to the screen; and a {@link PixelSource} that decodes regions on
 * demand (BitmapRegionDecoder), oriented as the image is meant to be seen.
 *
 * <p>Formats BitmapRegionDecoder rejects (GIF, BMP, and HEIF where the platform's region decoder
 * lacks it) are decoded whole, by BitmapFactory or, on API 28+, ImageDecoder; {@link #wholeDecode}
 * tells the memory plan to count that. Use on the worker thread.
 */
final class ImageInput implements Closeable {
    private static final String TAG = "ImageInput";

    /** Re-opens the image's bytes: bounds, EXIF, preview and the region decoder each read them. */
    interface Bytes {
        InputStream open() throws IOException;
    }

    final String displayName;
    /** Size as displayed, after the EXIF orientation. */
    final int width;
    final int height;
    final int orientation;
    final boolean hasAlpha;
    final boolean wholeDecode;
    final String mimeType;
    final Bitmap preview;
    private BitmapRegionDecoder region;
    private Bitmap whole;

    private ImageInput(String displayName, Bytes bytes, int rawWidth, int rawHeight, String mimeType,
            int orientation, Bitmap preview, BitmapRegionDecoder region, Bitmap whole) {
        this.displayName = displayName;
        this.orientation = orientation;
        boolean swap = Orientation.swapsAxes(orientation);
        this.width = swap ? rawHeight : rawWidth;
        this.height = swap ? rawWidth : rawHeight;
        this.mimeType = mimeType;
        this.preview = preview;
        this.hasAlpha = preview.hasAlpha();
        this.region = region;
        this.whole = whole;
        this.wholeDecode = region == null;
    }

    static ImageInput fromUri(final Context context, final Uri uri, int screenW, int screenH) throws IOException {
        final ContentResolver resolver = context.getContentResolver();
        Bytes bytes = new Bytes() {
            @Override
            public InputStream open() throws IOException {
                InputStream in = resolver.openInputStream(uri);
                if (in == null) {
                    throw new IOException("the picked document has no data");
                }
                return in;
            }
        };
        return open(displayName(resolver, uri, "image"), bytes, screenW, screenH);
    }

    static ImageInput fromAsset(final Context context, final String path, int screenW, int screenH)
            throws IOException {
        Bytes bytes = new Bytes() {
            @Override
            public InputStream open() throws IOException {
                return context.getAssets().open(path);
            }
        };
        return open(path.substring(path.lastIndexOf('/') + 1), bytes, screenW, screenH);
    }

    /**
     * OpenableColumns.DISPLAY_NAME ("IMG_1234.jpg"), not the URI's last segment ("image:1234");
     * {@code fallback} when the provider does not say.
     */
    static String displayName(ContentResolver resolver, Uri uri, String fallback) {
        Cursor c = null;
        try {
            c = resolver.query(uri, new String[] {OpenableColumns.DISPLAY_NAME}, null, null, null);
            if (c != null && c.moveToFirst() && !c.isNull(0)) {
                return c.getString(0);
            }
        } catch (RuntimeException e) {
            Log.w(TAG, "no display name for " + uri, e);
        } finally {
            if (c != null) {
                c.close();
            }
        }
        return fallback;
    }

    private static ImageInput open(String name, Bytes bytes, int screenW, int screenH) throws IOException {
        BitmapFactory.Options bounds = new BitmapFactory.Options();
        bounds.inJustDecodeBounds = true;
        decodeStream(bytes, bounds);
        int orientation = readOrientation(bytes);
        BitmapRegionDecoder region = null;
        try {
            InputStream in = bytes.open();
            try {
                region = BitmapRegionDecoder.newInstance(in, false);
            } finally {
                in.close();
            }
        } catch (IOException e) {
            Log.i(TAG, name + ": no region decoder for " + bounds.outMimeType + ", decoding whole", e);
        }
        if (region != null) {
            int w = bounds.outWidth > 0 ? bounds.outWidth : region.getWidth();
            int h = bounds.outHeight > 0 ? bounds.outHeight : region.getHeight();
            boolean swap = Orientation.swapsAxes(orientation);
            BitmapFactory.Options sampled = new BitmapFactory.Options();
            sampled.inPreferredConfig = Bitmap.Config.ARGB_8888;
            sampled.inSampleSize = MemoryPlan.sampleSize(swap ? h : w, swap ? w : h, screenW, screenH);
            Bitmap preview = decodeStream(bytes, sampled);
            if (preview == null) {
                // The region decoder can read it even if BitmapFactory cannot: sample from it.
                preview = region.decodeRegion(new Rect(0, 0, w, h), sampled);
            }
            if (preview == null) {
                region.recycle();
                throw new IOException(name + " could not be decoded");
            }
            return new ImageInput(name, bytes, w, h, bounds.outMimeType, orientation,
                    Previews.orient(preview, orientation), region, null);
        }
        Decoded decoded = decodeWhole(bytes, bounds);
        Bitmap whole = decoded == null ? null : decoded.bitmap;
        if (whole == null) {
            throw new IOException(name + " is not an image this device can decode"
                    + (bounds.outMimeType != null ? " (" + bounds.outMimeType + ")" : "")
                    + (Build.VERSION.SDK_INT < Build.VERSION_CODES.P ? "; HEIC/HEIF needs Android 9 or later" : ""));
        }
        // ImageDecoder has already applied the orientation; BitmapFactory has not.
        int remaining = decoded.oriented ? Orientation.NORMAL : orientation;
        int sample = MemoryPlan.sampleSize(whole.getWidth(), whole.getHeight(), screenW, screenH);
        Bitmap preview = Bitmap.createScaledBitmap(whole, Math.max(1, whole.getWidth() / sample),
                Math.max(1, whole.getHeight() / sample), true);
        return new ImageInput(name, bytes, whole.getWidth(), whole.getHeight(), bounds.outMimeType, remaining,
                Previews.orient(preview, remaining), null, whole);
    }

    /** A whole decode, and whether the decoder already applied the EXIF orientation. */
    private static final class Decoded {
        final Bitmap bitmap;
        final boolean oriented;

        Decoded(Bitmap bitmap, boolean oriented) {
            this.bitmap = bitmap;
            this.oriented = oriented;
        }
    }

    /**
     * Decodes the whole image. The memory plan refuses the job later if this was too big; here an
     * OutOfMemoryError is turned into a message.
     */
    private static Decoded decodeWhole(Bytes bytes, BitmapFactory.Options bounds) throws IOException {
        BitmapFactory.Options options = new BitmapFactory.Options();
        options.inPreferredConfig = Bitmap.Config.ARGB_8888;
        try {
            Bitmap b = decodeStream(bytes, options);
            if (b != null) {
                return new Decoded(b, false);
            }
            if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.P) {
                b = decodeWithImageDecoder(bytes);
                return b == null ? null : new Decoded(b, true);
            }
            return null;
        } catch (OutOfMemoryError e) {
            throw new IOException("this " + bounds.outWidth + "x" + bounds.outHeight + " "
                    + bounds.outMimeType + " cannot be decoded in parts and is too large to decode whole");
        }
    }

    @TargetApi(Build.VERSION_CODES.P)
    private static Bitmap decodeWithImageDecoder(Bytes bytes) throws IOException {
        InputStream in = bytes.open();
        byte[] data;
        try {
            data = Previews.readAll(in);
        } finally {
            in.close();
        }
        ImageDecoder.Source source = ImageDecoder.createSource(java.nio.ByteBuffer.wrap(data));
        try {
            return ImageDecoder.decodeBitmap(source, new ImageDecoder.OnHeaderDecodedListener() {
                @Override
                public void onHeaderDecoded(ImageDecoder decoder, ImageDecoder.ImageInfo info,
                        ImageDecoder.Source src) {
                    // Software pixels: getPixels() does not work on HARDWARE bitmaps.
                    decoder.setAllocator(ImageDecoder.ALLOCATOR_SOFTWARE);
                }
            });
        } catch (IOException e) {
            Log.i(TAG, "ImageDecoder failed", e);
            return null;
        }
    }

    private static Bitmap decodeStream(Bytes bytes, BitmapFactory.Options options) throws IOException {
        InputStream in = bytes.open();
        try {
            return BitmapFactory.decodeStream(in, null, options);
        } finally {
            in.close();
        }
    }

    private static int readOrientation(Bytes bytes) {
        try {
            InputStream in = bytes.open();
            try {
                return new ExifInterface(in).getAttributeInt(ExifInterface.TAG_ORIENTATION,
                        ExifInterface.ORIENTATION_NORMAL);
            } finally {
                in.close();
            }
        } catch (IOException | RuntimeException e) {
            return ExifInterface.ORIENTATION_NORMAL;   // no EXIF (PNG, WebP without it, ...)
        }
    }

    /** The displayed pixels, decoded region by region on demand (slow per call: wrap in a BandCache). */
    PixelSource source() {
        PixelSource raw = region != null ? new RegionSource(region) : new BitmapPixels(whole);
        return Orientation.apply(raw, orientation);
    }

    /** Reads one displayed region into memory (the crop the screen compares). */
    ArgbImage readRegion(int x, int y, int w, int h) {
        ArgbImage img = new ArgbImage(w, h);
        source().read(x, y, w, h, img.pixels);
        return img;
    }

    @Override
    public void close() {
        if (region != null) {
            region.recycle();
            region = null;
        }
        whole = null;
    }

    /** BitmapRegionDecoder as a PixelSource (raw, unoriented coordinates). */
    private static final class RegionSource implements PixelSource {
        private final BitmapRegionDecoder decoder;
        private final BitmapFactory.Options options = new BitmapFactory.Options();

        RegionSource(BitmapRegionDecoder decoder) {
            this.decoder = decoder;
            options.inPreferredConfig = Bitmap.Config.ARGB_8888;
        }

        @Override
        public int width() {
            return decoder.getWidth();
        }

        @Override
        public int height() {
            return decoder.getHeight();
        }

        @Override
        public void read(int x, int y, int w, int h, int[] argb) {
            Bitmap b = decoder.decodeRegion(new Rect(x, y, x + w, y + h), options);
            if (b == null) {
                throw new IllegalStateException("the image could not be decoded at " + x + "," + y);
            }
            try {
                b.getPixels(argb, 0, w, 0, 0, w, h);
            } finally {
                b.recycle();
            }
        }
    }
}

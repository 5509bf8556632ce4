package org.keras_sr.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.BitmapFactory;
import android.net.Uri;
import android.os.Handler;
import android.os.Looper;
import android.os.SystemClock;
import java.io.IOException;
import java.io.InputStream;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import org.keras_sr.demo.core.Bicubic;
import org.keras_sr.demo.core.SrPipeline;

/**
 * Background work for the Activity: decoding images, super-resolving with {@link SuperResolver},
 * the bicubic comparison and saving. One worker thread runs everything in order (the GPU
 * delegate must stay on the thread that created it); results come back on the main thread.
 */
final class SrSession {
    /** Largest image shown on screen (a Canvas refuses bitmaps over ~100 MB); larger results show a centre crop. */
    static final int MAX_DISPLAY_PIXELS = 4096 * 4096;
    private static final double PIXELS_PER_MEGAPIXEL = 1e6;
    private static final double MILLIS_PER_SECOND = 1e3;
    private static final double NANOS_PER_MILLI = 1e6;

    interface Callback<T> {
        void onResult(T result);

        void onError(String message);
    }

    interface Progress {
        void onProgress(int done, int total);
    }

    /** Everything the screen shows after a run. */
    static final class Result {
        Bitmap superResolved;     // full resolution, for saving
        Bitmap shownSr;           // what the view shows (the full image or a centre crop)
        Bitmap shownBicubic;      // the same region upscaled bicubically
        boolean cropped;
        SuperResolver.Accelerator accelerator;
        String fallbackReason;
        String modelDescription;
        int threads;
        double totalMillis;
        double modelMillis;
        double megapixelsPerSecond;
    }

    private final Context context;
    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final Handler main = new Handler(Looper.getMainLooper());
    private SuperResolver resolver;   // touched on the worker thread only

    SrSession(Context context) {
        this.context = context.getApplicationContext();
    }

    void loadAsset(final String name, final Callback<Bitmap> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    InputStream in = context.getAssets().open(name);
                    deliver(callback, decode(in, name));
                } catch (IOException | RuntimeException | OutOfMemoryError e) {
                    fail(callback, "Cannot load " + name + ": " + e);
                }
            }
        });
    }

    void loadUri(final Uri uri, final Callback<Bitmap> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    InputStream in = context.getContentResolver().openInputStream(uri);
                    if (in == null) {
                        throw new IOException("no data");
                    }
                    deliver(callback, decode(in, uri.toString()));
                } catch (IOException | RuntimeException e) {
                    fail(callback, "Cannot load the image: " + e.getMessage());
                } catch (OutOfMemoryError e) {
                    fail(callback, "The image is too large for this device's memory");
                }
            }
        });
    }

    private static Bitmap decode(InputStream in, String what) throws IOException {
        try {
            BitmapFactory.Options options = new BitmapFactory.Options();
            options.inPreferredConfig = Bitmap.Config.ARGB_8888;
            Bitmap bitmap = BitmapFactory.decodeStream(in, null, options);
            if (bitmap == null) {
                throw new IOException("not a decodable image: " + what);
            }
            return bitmap;
        } finally {
            in.close();
        }
    }

    /**
     * Super-resolves {@code lr}; returns the flag that cancels it (checked between windows).
     */
    AtomicBoolean upscale(final Bitmap lr, final SuperResolver.Accelerator accelerator, final int threads,
            final Progress progress, final Callback<Result> callback) {
        final AtomicBoolean cancelled = new AtomicBoolean(false);
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    deliver(callback, runUpscale(lr, accelerator, threads, progress, cancelled));
                } catch (CancellationException e) {
                    fail(callback, "Cancelled");
                } catch (OutOfMemoryError e) {
                    fail(callback, "Out of memory: the result is too large for this device");
                } catch (LinkageError e) {
                    fail(callback, "TFLite native library missing for this device's ABI: " + e.getMessage());
                } catch (Exception e) {
                    fail(callback, "Super-resolution failed: " + e.getMessage());
                }
            }
        });
        return cancelled;
    }

    private Result runUpscale(Bitmap lr, SuperResolver.Accelerator accelerator, int threads,
            final Progress progress, final AtomicBoolean cancelled) throws Exception {
        if (resolver == null || resolver.requested() != accelerator || resolver.threads() != threads) {
            closeResolver();
            resolver = SuperResolver.create(context, accelerator, threads);
        }
        int scale = resolver.spec().scale;
        Bitmap sr = Bitmap.createBitmap(lr.getWidth() * scale, lr.getHeight() * scale, Bitmap.Config.ARGB_8888);
        SrPipeline pipeline = new SrPipeline(resolver, resolver.spec());
        resolver.resetTiming();
        long start = SystemClock.elapsedRealtimeNanos();
        pipeline.run(new BitmapPixels(lr), new BitmapPixels(sr), new SrPipeline.Listener() {
            @Override
            public boolean onProgress(final int done, final int total) {
                main.post(new Runnable() {
                    @Override
                    public void run() {
                        progress.onProgress(done, total);
                    }
                });
                return !cancelled.get();
            }
        });
        double totalMillis = (SystemClock.elapsedRealtimeNanos() - start) / NANOS_PER_MILLI;

        Result result = new Result();
        result.superResolved = sr;
        result.accelerator = resolver.active();
        result.fallbackReason = resolver.fallbackReason();
        result.modelDescription = resolver.spec().toString();
        result.threads = threads;
        result.totalMillis = totalMillis;
        result.modelMillis = resolver.inferenceMillis();
        result.megapixelsPerSecond = (double) sr.getWidth() * sr.getHeight() / PIXELS_PER_MEGAPIXEL
                / (totalMillis / MILLIS_PER_SECOND);

        // The comparison: the shown region, upscaled bicubically from the same LR pixels.
        int w = sr.getWidth();
        int h = sr.getHeight();
        int side = (int) Math.sqrt(MAX_DISPLAY_PIXELS);
        result.cropped = (long) w * h > MAX_DISPLAY_PIXELS;
        int cw = result.cropped ? Math.min(w, side) : w;
        int ch = result.cropped ? Math.min(h, MAX_DISPLAY_PIXELS / cw) : h;
        int cx = (w - cw) / 2;
        int cy = (h - ch) / 2;
        result.shownSr = result.cropped ? Bitmap.createBitmap(sr, cx, cy, cw, ch) : sr;
        result.shownBicubic = Bitmap.createBitmap(cw, ch, Bitmap.Config.ARGB_8888);
        Bicubic.upscaleArgb(new BitmapPixels(lr), scale, cx, cy, cw, ch, new BitmapPixels(result.shownBicubic));
        return result;
    }

    void save(final Bitmap bitmap, final String name, final Callback<Uri> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    deliver(callback, GalleryStore.savePng(context.getContentResolver(), bitmap, name));
                } catch (IOException | RuntimeException e) {
                    fail(callback, "Saving failed: " + e.getMessage());
                }
            }
        });
    }

    private void closeResolver() {
        if (resolver != null) {
            resolver.close();
            resolver = null;
        }
    }

    /** Releases the interpreter on its own thread and stops the worker. */
    void close() {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                closeResolver();
            }
        });
        worker.shutdown();
    }

    private <T> void deliver(final Callback<T> callback, final T value) {
        main.post(new Runnable() {
            @Override
            public void run() {
                callback.onResult(value);
            }
        });
    }

    private <T> void fail(final Callback<T> callback, final String message) {
        main.post(new Runnable() {
            @Override
            public void run() {
                callback.onError(message);
            }
        });
    }
}

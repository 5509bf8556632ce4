package org.keras_sr.demo;

import android.app.ActivityManager;
import android.content.Context;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Handler;
import android.os.Looper;
import android.os.SystemClock;
import java.io.File;
import java.io.IOException;
import java.io.InputStream;
import java.io.OutputStream;
import java.util.Locale;
import java.util.concurrent.CancellationException;
import java.util.concurrent.ExecutorService;
import java.util.concurrent.Executors;
import java.util.concurrent.atomic.AtomicBoolean;
import java.util.zip.Deflater;
import org.keras_sr.demo.core.AcceleratedRunner;
import org.keras_sr.demo.core.ArgbImage;
import org.keras_sr.demo.core.AtomicOutput;
import org.keras_sr.demo.core.BandCache;
import org.keras_sr.demo.core.Bicubic;
import org.keras_sr.demo.core.CropTee;
import org.keras_sr.demo.core.MemoryPlan;
import org.keras_sr.demo.core.ModelContract;
import org.keras_sr.demo.core.ModelSpec;
import org.keras_sr.demo.core.OutputNames;
import org.keras_sr.demo.core.PixelSource;
import org.keras_sr.demo.core.PngWriter;
import org.keras_sr.demo.core.SrPipeline;
import org.keras_sr.demo.core.TileModel;

/**
 * Background work for the screen: opening images, super-resolving them into a PNG in the cache
 * (streamed, never holding the whole result), the bicubic comparison and saving. One worker
 * thread runs everything in order (the GPU delegate must stay on the thread that created it);
 * results come back on the main thread. Owned by {@link ScreenState}, so it outlives rotations.
 */
final class SrSession {
    /** Side of the full-resolution crop the screen compares (two bitmaps of up to 16 MB). */
    static final int CROP_SIDE = 2048;
    private static final double PIXELS_PER_MEGAPIXEL = 1e6;
    private static final double MILLIS_PER_SECOND = 1e3;
    private static final double NANOS_PER_MILLI = 1e6;
    private static final String RESULTS_DIR = "results";
    /** sr-tool's models are well under 1 MB; this keeps a wrongly picked video from filling storage. */
    static final long MAX_MODEL_BYTES = 64L << 20;
    private static final int COPY_BUFFER = 1 << 16;
    private static final byte[] TFLITE_IDENTIFIER = {'T', 'F', 'L', '3'};
    private static final int IDENTIFIER_OFFSET = 4;

    interface Callback<T> {
        void onResult(T result);

        void onError(String message);
    }

    interface Progress {
        void onProgress(int done, int total);
    }

    /** A message for the user, not a bug: shown as is. */
    static final class Refusal extends IOException {
        Refusal(String message) {
            super(message);
        }
    }

    /** A custom model that passed the checks. */
    static final class LoadedModel {
        final String name;          // display name, "my_x3.tflite"
        final String description;   // "x3, RGB, halo 6, tiles 256x256"

        LoadedModel(String name, String description) {
            this.name = name;
            this.description = description;
        }
    }

    /** Everything the screen shows after a run. */
    static final class Result {
        File png;                 // the full result, complete (renamed into place when done)
        String baseName;          // "IMG_1234_x2"
        int width;
        int height;
        int scale;
        Bitmap shownSr;           // full-resolution crop (or the whole result when small)
        Bitmap shownBicubic;      // the same region upscaled bicubically
        boolean cropped;
        SuperResolver.Accelerator accelerator;
        String fallbackReason;
        String probe;
        String modelDescription;
        int threads;
        double totalMillis;
        double modelMillis;
        double megapixelsPerSecond;
    }

    private final Context context;
    private final ExecutorService worker = Executors.newSingleThreadExecutor();
    private final Handler main = new Handler(Looper.getMainLooper());
    private final ModelStore store;
    /** The custom model remembered from an earlier launch when this session started, or null. */
    final ModelStore.Remembered remembered;
    /** The last custom model that passed the checks, or null; worker thread only. */
    private File customModel;
    private String customModelName;
    /** Whether runs use {@link #customModel} rather than the bundled one; worker thread only. */
    private boolean useCustom;

    SrSession(Context context) {
        this.context = context.getApplicationContext();
        // Main thread, once: a small preferences file and a directory listing.
        this.store = new ModelStore(this.context);
        this.remembered = store.open();
        if (remembered != null) {
            customModel = remembered.file;
            customModelName = remembered.name;
            useCustom = remembered.active;
        }
    }

    void defaultAccelerator(final Callback<SuperResolver.Accelerator> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                deliver(callback, ModelFactory.get().defaultAccelerator());
            }
        });
    }

    /** Opens a picked document or (when {@code uri} is null) the bundled sample {@code asset}. */
    void open(final Uri uri, final String asset, final int screenW, final int screenH,
            final Callback<ImageInput> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    deliver(callback, uri != null ? ImageInput.fromUri(context, uri, screenW, screenH)
                            : ImageInput.fromAsset(context, asset, screenW, screenH));
                } catch (IOException | RuntimeException e) {
                    fail(callback, "Cannot open the image: " + e.getMessage());
                } catch (OutOfMemoryError e) {
                    fail(callback, "Cannot open the image: not enough memory even for its preview");
                }
            }
        });
    }

    void upscale(final ImageInput input, final SuperResolver.Accelerator accelerator, final int threads,
            final AtomicBoolean cancel, final Progress progress, final Callback<Result> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    deliver(callback, runUpscale(input, accelerator, threads, progress, cancel));
                } catch (CancellationException e) {
                    fail(callback, "Cancelled; no file was written.");
                } catch (Refusal e) {
                    fail(callback, e.getMessage());
                } catch (OutOfMemoryError e) {
                    fail(callback, "Out of memory while upscaling; nothing was saved. Try a smaller image.");
                } catch (LinkageError e) {
                    fail(callback, "TFLite native library missing for this device's ABI: " + e.getMessage());
                } catch (Exception e) {
                    fail(callback, "Super-resolution failed: " + e.getMessage());
                }
            }
        });
    }

    private Result runUpscale(final ImageInput input, final SuperResolver.Accelerator accelerator, int threads,
            final Progress progress, final AtomicBoolean cancel) throws Exception {
        AcceleratedRunner.checkCancel(cancel);
        // The CPU interpreter first: it tells the model's scale and window, for the memory plan
        // and the probe, and it is the reference the accelerator is checked against.
        final File modelFile = useCustom ? customModel : null;
        final String modelName = useCustom ? customModelName : "built-in model";
        final ModelFactory models = ModelFactory.get();
        final ModelFactory.Model cpu = models.open(context, modelFile, SuperResolver.Accelerator.CPU, threads);
        final ModelSpec spec;
        final Result result = new Result();
        try {
            AcceleratedRunner.checkCancel(cancel);   // cancelled while the interpreter was created
            spec = cpu.spec();
            plan(input, spec, result);
        } catch (IOException | RuntimeException e) {
            cpu.close();
            throw e;
        }
        // AcceleratedRunner closes the CPU model once it has asked for it; a cancel or failure
        // before that (while the delegate is created) leaves it to this method.
        final boolean[] cpuClosed = new boolean[1];
        final int bandRows = spec.tileHeight + 2 * BandCache.MARGIN;
        final int cropX = (result.width - cropW(result)) / 2;
        final int cropY = (result.height - cropH(result)) / 2;
        final File target = new File(resultsDir(), result.baseName + ".png");
        final ArgbImage[] crop = new ArgbImage[1];
        final ModelFactory.Model[] ran = new ModelFactory.Model[1];
        long start = SystemClock.elapsedRealtimeNanos();
        AcceleratedRunner.Backends backends = new AcceleratedRunner.Backends() {
            @Override
            public String acceleratorName() {
                return accelerator.label;
            }

            @Override
            public TileModel openAccelerated() throws Exception {
                return models.open(context, modelFile, accelerator, 1);
            }

            @Override
            public TileModel openCpu() {
                return cpu;
            }

            @Override
            public void close(TileModel model) {
                if (model == cpu) {
                    cpuClosed[0] = true;
                }
                ((ModelFactory.Model) model).close();
            }
        };
        AcceleratedRunner.Job job = new AcceleratedRunner.Job() {
            @Override
            public void run(TileModel model) throws Exception {
                ran[0] = (ModelFactory.Model) model;
                ran[0].resetTiming();
                crop[0] = writePng(input, model, spec, target, bandRows, cropX, cropY, result, progress, cancel);
            }
        };
        AcceleratedRunner.Outcome outcome;
        try {
            outcome = AcceleratedRunner.run(backends, accelerator != SuperResolver.Accelerator.CPU, spec, job, cancel);
        } finally {
            if (!cpuClosed[0]) {
                cpu.close();
            }
        }
        result.totalMillis = (SystemClock.elapsedRealtimeNanos() - start) / NANOS_PER_MILLI;
        result.png = target;
        result.accelerator = outcome.accelerated ? accelerator : SuperResolver.Accelerator.CPU;
        result.fallbackReason = outcome.fallbackReason;
        result.probe = outcome.probe == null ? null : outcome.probe.toString();
        result.modelDescription = modelName + ": " + spec;
        result.threads = threads;
        result.modelMillis = ran[0].inferenceMillis();
        result.megapixelsPerSecond = (double) result.width * result.height / PIXELS_PER_MEGAPIXEL
                / (result.totalMillis / MILLIS_PER_SECOND);
        ArgbImage sr = crop[0];
        result.shownSr = Bitmap.createBitmap(sr.pixels, sr.width, sr.height, Bitmap.Config.ARGB_8888);
        result.shownBicubic = bicubicCrop(input, spec.scale, cropX, cropY, sr.width, sr.height);
        return result;
    }

    /** Fills in the sizes and name, and refuses (with a message) what cannot fit. */
    private void plan(ImageInput input, ModelSpec spec, Result result) throws Refusal {
        int s = spec.scale;
        result.scale = s;
        result.width = input.width * s;
        result.height = input.height * s;
        result.baseName = OutputNames.baseName(input.displayName, s);
        result.cropped = result.width > CROP_SIDE || result.height > CROP_SIDE;
        int bandRows = spec.tileHeight + 2 * BandCache.MARGIN;
        int outBandRows = new SrPipeline(null, spec).maxBandRows(input.height);
        MemoryPlan plan = MemoryPlan.of(input.width, input.height, s, spec.tileHeight, spec.tileWidth, bandRows,
                outBandRows, (long) cropW(result) * cropH(result), input.wholeDecode);
        Runtime rt = Runtime.getRuntime();
        long free = rt.maxMemory() - (rt.totalMemory() - rt.freeMemory());
        String refusal = plan.refusal(free, input.width, input.height, s);
        if (refusal != null) {
            throw new Refusal(refusal);
        }
        // A PNG of a photo is rarely below a byte per pixel; ask for that much free storage.
        long needDisk = (long) result.width * result.height;
        long freeDisk = context.getCacheDir().getUsableSpace();
        if (freeDisk < needDisk) {
            throw new Refusal(String.format(java.util.Locale.US, "The %dx%d result needs about %d MB of free "
                    + "storage; %d MB are free.", result.width, result.height, needDisk >> 20, freeDisk >> 20));
        }
    }

    private static int cropW(Result r) {
        return Math.min(r.width, CROP_SIDE);
    }

    private static int cropH(Result r) {
        return Math.min(r.height, CROP_SIDE);
    }

    /** One attempt: streams the whole result into {@code target}; returns the on-screen crop. */
    private static ArgbImage writePng(ImageInput input, TileModel model, ModelSpec spec, File target, int bandRows,
            int cropX, int cropY, Result result, final Progress progress, final AtomicBoolean cancel)
            throws Exception {
        AtomicOutput file = new AtomicOutput(target);
        PngWriter png = null;
        try {
            OutputStream out = file.open();
            png = new PngWriter(out, result.width, result.height, input.hasAlpha, PngWriter.Filter.PAETH,
                    Deflater.DEFAULT_COMPRESSION);
            CropTee tee = new CropTee(png, result.width, cropX, cropY, cropW(result), cropH(result));
            PixelSource source = new BandCache(input.source(), bandRows);
            new SrPipeline(model, spec, input.hasAlpha).runBands(source, tee, new SrPipeline.Listener() {
                @Override
                public boolean onProgress(int done, int total) {
                    progress.onProgress(done, total);
                    return !cancel.get();
                }
            });
            png.finish();
            file.commit();
            return tee.crop();
        } catch (Exception | Error e) {
            if (png != null) {
                png.abandon();
            }
            file.abort();
            throw e;
        }
    }

    /** The crop's region upscaled bicubically from the LR pixels it needs. */
    private static Bitmap bicubicCrop(ImageInput input, int scale, int x, int y, int w, int h) {
        ArgbImage out = new ArgbImage(w, h);
        Bicubic.upscaleArgb(input.source(), scale, x, y, w, h, out);
        return Bitmap.createBitmap(out.pixels, w, h, Bitmap.Config.ARGB_8888);
    }

    private File resultsDir() throws IOException {
        File dir = new File(context.getCacheDir(), RESULTS_DIR);
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create " + dir);
        }
        // Only the latest result is kept: a 200 MP PNG is hundreds of MB.
        File[] old = dir.listFiles();
        if (old != null) {
            for (File f : old) {
                if (!f.delete()) {
                    f.deleteOnExit();
                }
            }
        }
        return dir;
    }

    void save(final Result result, final GalleryStore.Format format, final AtomicBoolean cancel,
            final Callback<Uri> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                try {
                    AcceleratedRunner.checkCancel(cancel);
                    ActivityManager am = (ActivityManager) context.getSystemService(Context.ACTIVITY_SERVICE);
                    ActivityManager.MemoryInfo info = new ActivityManager.MemoryInfo();
                    am.getMemoryInfo(info);
                    deliver(callback, GalleryStore.save(context.getContentResolver(), result.png, result.width,
                            result.height, result.baseName, format, info.availMem / 2, cancel));
                } catch (CancellationException e) {
                    fail(callback, "Saving cancelled; nothing was added to the gallery.");
                } catch (IOException | RuntimeException e) {
                    fail(callback, "Saving failed: " + e.getMessage());
                }
            }
        });
    }

    /**
     * Copies a .tflite the user picked into the app's files, checks it (keras_sr metadata through
     * {@link ModelContract}, then a CPU interpreter, which checks the tensor types and shapes) and,
     * if it passes, makes it the model of the following runs and of later launches
     * ({@link ModelStore}). A refused file changes nothing and leaves no file behind.
     */
    void loadModel(final Uri uri, final Callback<LoadedModel> callback) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                String name = ImageInput.displayName(context.getContentResolver(), uri, "the model file");
                File candidate = null;
                try {
                    candidate = store.newCandidate();
                    copyModel(uri, name, candidate);
                    ModelContract.check(name, SuperResolver.mapFile(candidate));
                    String description;
                    ModelFactory.Model probe = ModelFactory.get().open(context, candidate, SuperResolver.Accelerator.CPU, 1);
                    try {
                        description = probe.spec().toString();
                    } finally {
                        probe.close();
                    }
                    // Runs are on this thread, so no interpreter has the old file open; an
                    // existing mapping would stay valid anyway.
                    File target = store.install(candidate, name);
                    customModel = target;
                    customModelName = name;
                    useCustom = true;
                    deliver(callback, new LoadedModel(name, description));
                } catch (ModelContract.Refused | Refusal e) {
                    fail(callback, e.getMessage());
                } catch (IOException e) {
                    fail(callback, "Cannot read " + name + ": " + e.getMessage());
                } catch (RuntimeException | LinkageError e) {
                    // SuperResolver's own checks (uint8 tensors, NHWC, input size) and TFLite's.
                    fail(callback, name + " cannot be used: " + firstLine(e));
                } finally {
                    if (candidate != null) {
                        ModelStore.delete(candidate);   // gone already when it was installed
                    }
                }
            }
        });
    }

    /** Switches between the bundled model and the last custom model that loaded. */
    void useCustomModel(final boolean custom) {
        worker.execute(new Runnable() {
            @Override
            public void run() {
                useCustom = custom && customModel != null;
                store.setActive(useCustom);
            }
        });
    }

    /** Copies the picked file whole (through a .part file), refusing non-TFLite and oversized files early. */
    private void copyModel(Uri uri, String name, File target) throws IOException {
        InputStream in = context.getContentResolver().openInputStream(uri);
        if (in == null) {
            throw new IOException("the provider returned no data");
        }
        AtomicOutput file = new AtomicOutput(target);
        try {
            // Check the identifier before copying megabytes of a picture or video picked by mistake.
            byte[] head = new byte[IDENTIFIER_OFFSET + TFLITE_IDENTIFIER.length];
            int got = 0;
            for (int n; got < head.length && (n = in.read(head, got, head.length - got)) > 0; ) {
                got += n;
            }
            if (got < head.length) {
                throw new Refusal(name + " is too short to be a TFLite model.");
            }
            for (int i = 0; i < TFLITE_IDENTIFIER.length; i++) {
                if (head[IDENTIFIER_OFFSET + i] != TFLITE_IDENTIFIER[i]) {
                    throw new Refusal(name + " is not a TFLite model; load a .tflite made by sr-tool tflite --int8.");
                }
            }
            OutputStream out = file.open();
            out.write(head);
            long total = head.length;
            byte[] buf = new byte[COPY_BUFFER];
            for (int n; (n = in.read(buf)) > 0; ) {
                total += n;
                if (total > MAX_MODEL_BYTES) {
                    throw new Refusal(String.format(Locale.US, "%s is larger than %d MB, far more than any "
                            + "model sr-tool exports (the bundled one is about 20 KB); not loaded.", name, MAX_MODEL_BYTES >> 20));
                }
                out.write(buf, 0, n);
            }
            file.commit();
        } catch (IOException | RuntimeException e) {
            file.abort();
            throw e;
        } finally {
            in.close();
        }
    }

    private static String firstLine(Throwable e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message.split("\n", 2)[0];
    }

    /** Stops the worker after what is queued (the interpreters are closed by each run). */
    void close() {
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

package org.keras_sr.demo;

import android.content.Context;
import android.net.Uri;
import android.os.Bundle;
import android.os.Handler;
import android.os.Looper;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;
import org.keras_sr.demo.core.Batch;

/**
 * Everything the screen shows and does, kept outside the Activity so that a configuration change
 * (rotation, multi-window, dark mode, locale) that recreates the Activity keeps the input, the
 * result, the settings and a running job: the old Activity hands this object to the new one
 * through onRetainNonConfigurationInstance, and callbacks from the worker update this object and
 * then whichever Activity is attached at that moment. Main thread only.
 *
 * <p>Process death (Android ending the app in the background) loses this object. What can be
 * brought back goes into the Activity's saved-instance Bundle ({@link #saveTo} /
 * {@link #restoreFrom}): the input's URI(s) or sample, the settings and the model selection. A
 * running job cannot be: the restored screen says what was lost and the user runs it again.
 */
final class ScreenState {
    /** What the attached Activity implements. */
    interface View {
        void render();

        void share(Uri uri);

        /** Asks for storage permission (Android 8-9); true if it is already granted. */
        boolean ensureStoragePermission();
    }

    static final String SAMPLES_DIR = "samples";
    // Saved-instance Bundle keys.
    static final String KEY_INPUT_URI = "input_uri";
    static final String KEY_INPUT_ASSET = "input_asset";
    static final String KEY_BATCH = "batch";
    static final String KEY_ACCELERATOR = "accelerator";
    static final String KEY_ACCELERATOR_CHOSEN = "accelerator_chosen";
    static final String KEY_THREADS = "thread_index";
    static final String KEY_FORMAT = "format";
    static final String KEY_CUSTOM_MODEL = "custom_model_active";
    static final String KEY_LOST = "lost";
    /** What a saved Bundle says was lost with the process (values of {@link #KEY_LOST}). */
    static final String LOST_UPSCALE = "upscale";
    static final String LOST_BATCH = "batch";
    static final String LOST_SAVE = "save";
    static final String LOST_MODEL = "model";
    static final String LOST_RESULT = "result";
    static final int[] THREAD_CHOICES = {1, 2, 4, 6, 8};
    private static final int DEFAULT_MAX_THREADS = 4;

    final SrSession session;
    private final Handler main = new Handler(Looper.getMainLooper());
    private View view;

    ImageInput input;
    /** Where {@link #input} came from (null for a sample), so a batch does not reopen its first image. */
    private Uri inputUri;
    /** The bundled sample {@link #input} is (null for a picked image). */
    private String inputAsset;
    /** A job is in SrSession.upscale / loadModel (for what a saved Bundle reports lost). */
    private boolean upscaling;
    private boolean loadingModel;
    /** Said once, after the next open, on a screen restored after process death. */
    private String restoreNotice;
    SrSession.Result result;
    Uri savedUri;
    String status = "";
    boolean running;
    boolean saving;
    int progressDone;
    int progressTotal;
    AtomicBoolean cancel;
    SuperResolver.Accelerator accelerator = SuperResolver.Accelerator.CPU;
    boolean acceleratorChosen;
    int threadIndex;
    GalleryStore.Format format = GalleryStore.Format.PNG;
    boolean showSr = true;
    /** Images picked or shared together, waiting for Upscale; null for a single image. */
    List<Uri> pendingBatch;
    /** The batch being processed, or null. */
    private Batch<Uri> batch;
    /** Display name of the custom model that last passed the checks, or null. */
    String customModelName;
    boolean customModelActive;
    /** What to do once the storage permission (Android 8-9) is granted. */
    private Runnable afterPermission;
    private int screenW;
    private int screenH;

    ScreenState(Context context, int screenW, int screenH) {
        this.session = new SrSession(context);
        if (session.remembered != null) {   // loaded in an earlier launch
            customModelName = session.remembered.name;
            customModelActive = session.remembered.active;
        }
        this.screenW = screenW;
        this.screenH = screenH;
        int defaultThreads = Math.min(DEFAULT_MAX_THREADS, Runtime.getRuntime().availableProcessors());
        for (int i = 0; i < THREAD_CHOICES.length; i++) {
            if (THREAD_CHOICES[i] <= defaultThreads) {
                threadIndex = i;
            }
        }
        session.defaultAccelerator(new SrSession.Callback<SuperResolver.Accelerator>() {
            @Override
            public void onResult(SuperResolver.Accelerator a) {
                if (!acceleratorChosen) {
                    accelerator = a;
                    render();
                }
            }

            @Override
            public void onError(String message) {
            }
        });
    }

    void attach(View v) {
        view = v;
        render();
    }

    void detach(View v) {
        if (view == v) {
            view = null;
        }
    }

    boolean busy() {
        return running || saving;
    }

    private void render() {
        if (view != null) {
            view.render();
        }
    }

    /** Opens a picked document, or the bundled sample {@code asset} when {@code uri} is null. */
    void open(Uri uri, String asset) {
        if (busy()) {
            return;
        }
        pendingBatch = null;
        openThen(uri, asset, null);
    }

    /**
     * Several images picked or shared together: the first is shown, and Upscale then runs each in
     * turn and saves it to the gallery under its own name. One image is opened as usual.
     */
    void openBatch(List<Uri> uris) {
        if (busy() || uris.isEmpty()) {
            return;
        }
        if (uris.size() == 1) {
            open(uris.get(0), null);
            return;
        }
        pendingBatch = new ArrayList<>(uris);
        openThen(uris.get(0), null, null);
    }

    boolean canUpscale() {
        return !busy() && (input != null || pendingBatch != null);
    }

    /** Opens, then calls {@code then} (or, with null, shows the image and stops). */
    private void openThen(final Uri uri, final String asset, final SrSession.Callback<ImageInput> then) {
        status = (batch != null ? batch.progressPrefix() : "") + "Opening " + (asset != null ? asset : "the image") + "…";
        running = true;
        progressTotal = 0;
        render();
        session.open(uri, asset, screenW, screenH, new SrSession.Callback<ImageInput>() {
            @Override
            public void onResult(ImageInput in) {
                running = false;
                if (input != null) {
                    input.close();
                }
                input = in;
                inputUri = uri;
                inputAsset = uri == null ? asset : null;
                result = null;
                savedUri = null;
                status = String.format(Locale.US, "%s: %d×%d (%.1f MP)%s", in.displayName, in.width, in.height,
                        in.width * (double) in.height / 1e6, in.orientation > 1 ? ", EXIF-rotated" : "");
                if (pendingBatch != null && then == null) {
                    status += batchHint();
                }
                status += takeRestoreNotice();
                if (then != null) {
                    then.onResult(in);
                } else {
                    render();
                }
            }

            @Override
            public void onError(String message) {
                running = false;
                status = message + (pendingBatch != null && then == null ? batchHint() : "") + takeRestoreNotice();
                if (then != null) {
                    then.onError(message);
                } else {
                    render();
                }
            }
        });
    }

    private String batchHint() {
        return String.format(Locale.US, "\n%d images selected: Upscale runs them one after another and saves each "
                + "to Pictures/%s in the chosen format.", pendingBatch.size(), GalleryStore.ALBUM);
    }

    /** Upscales the image shown, or runs the pending batch. */
    void upscale() {
        if (!canUpscale()) {
            return;
        }
        if (pendingBatch != null) {
            startBatch();
            return;
        }
        runUpscale(new SrSession.Callback<SrSession.Result>() {
            @Override
            public void onResult(SrSession.Result r) {
                status = describe(r);
                render();
            }

            @Override
            public void onError(String message) {
                status = message;
                render();
            }
        });
    }

    /** Runs {@link #input}; the result is stored before {@code then} is called. */
    private void runUpscale(final SrSession.Callback<SrSession.Result> then) {
        running = true;
        upscaling = true;
        progressDone = 0;
        progressTotal = 0;
        cancel = new AtomicBoolean(false);
        status = (batch != null ? batch.progressPrefix() : "") + "Running on " + accelerator.label
                + (accelerator == SuperResolver.Accelerator.CPU ? "" : " (checking it against the CPU first)") + "…";
        render();
        final AtomicBoolean myCancel = cancel;
        session.upscale(input, accelerator, THREAD_CHOICES[threadIndex], myCancel, new SrSession.Progress() {
            @Override
            public void onProgress(final int done, final int total) {
                main.post(new Runnable() {   // called on the worker
                    @Override
                    public void run() {
                        if (!myCancel.get()) {
                            progressDone = done;
                            progressTotal = total;
                            render();
                        }
                    }
                });
            }
        }, new SrSession.Callback<SrSession.Result>() {
            @Override
            public void onResult(SrSession.Result r) {
                running = false;
                upscaling = false;
                result = r;
                savedUri = null;
                showSr = true;
                then.onResult(r);
            }

            @Override
            public void onError(String message) {
                running = false;
                upscaling = false;
                then.onError(message);
            }
        });
    }

    private void startBatch() {
        final List<Uri> uris = pendingBatch;
        if (!storagePermission(new Runnable() {
            @Override
            public void run() {
                startBatch();
            }
        })) {
            return;
        }
        pendingBatch = null;
        batch = new Batch<>(uris);
        batchStep();
    }

    /**
     * One image of the batch: open (unless it is already the input), upscale, save, then the
     * next. A failure is recorded and the batch goes on; a cancel ends it.
     */
    private void batchStep() {
        if (!batch.hasNext()) {
            status = batch.summary(GalleryStore.ALBUM);
            batch = null;
            running = false;
            render();
            return;
        }
        final Uri uri = batch.next();
        final SrSession.Callback<SrSession.Result> afterRun = new SrSession.Callback<SrSession.Result>() {
            @Override
            public void onResult(SrSession.Result r) {
                r.baseName = batch.claimName(r.baseName);
                saveThen(new SrSession.Callback<Uri>() {
                    @Override
                    public void onResult(Uri saved) {
                        batch.saved(result.baseName + "." + format.extension);
                        batchStep();
                    }

                    @Override
                    public void onError(String message) {
                        batchFailed(input.displayName, message);
                    }
                });
            }

            @Override
            public void onError(String message) {
                batchFailed(input.displayName, message);
            }
        };
        if (input != null && uri.equals(inputUri)) {
            runUpscale(afterRun);
            return;
        }
        openThen(uri, null, new SrSession.Callback<ImageInput>() {
            @Override
            public void onResult(ImageInput in) {
                if (batch.cancelled()) {
                    batchStep();
                } else {
                    runUpscale(afterRun);
                }
            }

            @Override
            public void onError(String message) {
                // Not opened, so there is no display name; the URI's last segment still tells which.
                batchFailed(String.valueOf(uri.getLastPathSegment()), message);
            }
        });
    }

    private void batchFailed(String what, String message) {
        if (!batch.cancelled()) {
            batch.failed(what, message);   // a cancelled item is counted as not processed
        }
        batchStep();
    }

    void save(final boolean thenShare) {
        if (busy() || result == null) {
            return;
        }
        if (thenShare && savedUri != null) {
            if (view != null) {
                view.share(savedUri);
            }
            return;
        }
        if (!storagePermission(new Runnable() {
            @Override
            public void run() {
                save(thenShare);
            }
        })) {
            return;
        }
        saveThen(new SrSession.Callback<Uri>() {
            @Override
            public void onResult(Uri uri) {
                status = "Saved " + result.baseName + "." + format.extension + " to Pictures/" + GalleryStore.ALBUM;
                render();
                if (thenShare && view != null) {
                    view.share(uri);
                }
            }

            @Override
            public void onError(String message) {
                status = message;
                render();
            }
        });
    }

    /** Saves {@link #result} in {@link #format}; {@link #savedUri} is set before {@code then} is called. */
    private void saveThen(final SrSession.Callback<Uri> then) {
        saving = true;
        cancel = new AtomicBoolean(false);
        status = (batch != null ? batch.progressPrefix() : "") + "Saving " + result.baseName + "." + format.extension + "…";
        render();
        session.save(result, format, cancel, new SrSession.Callback<Uri>() {
            @Override
            public void onResult(Uri uri) {
                saving = false;
                savedUri = uri;
                then.onResult(uri);
            }

            @Override
            public void onError(String message) {
                saving = false;
                then.onError(message);
            }
        });
    }

    /**
     * True if saving may go ahead now; otherwise the Activity asks for the permission and
     * {@link #onStoragePermission} runs {@code retry} once it is granted.
     */
    private boolean storagePermission(Runnable retry) {
        if (view == null || view.ensureStoragePermission()) {
            return true;
        }
        afterPermission = retry;
        return false;
    }

    void onStoragePermission(boolean granted) {
        Runnable retry = afterPermission;
        afterPermission = null;
        if (granted && retry != null) {
            retry.run();
        } else if (!granted) {
            setStatus("Storage permission denied; nothing was saved.");
        }
    }

    /** Loads a .tflite from storage for the following runs; a refused file leaves the model as it was. */
    void loadModel(Uri uri) {
        if (busy()) {
            return;
        }
        running = true;
        loadingModel = true;
        progressTotal = 0;
        status = "Checking the model…";
        render();
        session.loadModel(uri, new SrSession.Callback<SrSession.LoadedModel>() {
            @Override
            public void onResult(SrSession.LoadedModel model) {
                running = false;
                loadingModel = false;
                customModelName = model.name;
                customModelActive = true;
                status = "Model: " + model.name + ": " + model.description + " (used from the next Upscale)";
                render();
            }

            @Override
            public void onError(String message) {
                running = false;
                loadingModel = false;
                status = message + "\nStill using " + (customModelActive ? customModelName : "the built-in model") + ".";
                render();
            }
        });
    }

    /** Chooses between the built-in model and the last custom one that loaded. */
    void useCustomModel(boolean custom) {
        if (busy() || custom == customModelActive || (custom && customModelName == null)) {
            return;
        }
        customModelActive = custom;
        session.useCustomModel(custom);
        status = "Model: " + (custom ? customModelName : "built-in") + " (used from the next Upscale)";
        render();
    }

    void cancel() {
        if (batch != null) {
            batch.cancel();
        }
        if (cancel != null) {
            cancel.set(true);
            status = "Cancelling…";
            render();
        }
    }

    /** Writes what process death would lose and can be brought back (see {@link #restoreFrom}). */
    void saveTo(Bundle out) {
        if (batch != null) {
            out.putParcelableArrayList(KEY_BATCH, new ArrayList<>(batch.unfinished()));
        } else if (pendingBatch != null) {
            out.putParcelableArrayList(KEY_BATCH, new ArrayList<>(pendingBatch));
        }
        if (inputUri != null) {
            out.putParcelable(KEY_INPUT_URI, inputUri);
        } else if (inputAsset != null) {
            out.putString(KEY_INPUT_ASSET, inputAsset);
        }
        out.putString(KEY_ACCELERATOR, accelerator.name());
        out.putBoolean(KEY_ACCELERATOR_CHOSEN, acceleratorChosen);
        out.putInt(KEY_THREADS, threadIndex);
        out.putString(KEY_FORMAT, format.name());
        out.putBoolean(KEY_CUSTOM_MODEL, customModelActive);
        String lost = null;
        if (batch != null) {
            lost = LOST_BATCH;
        } else if (saving) {
            lost = LOST_SAVE;
        } else if (upscaling) {
            lost = LOST_UPSCALE;
        } else if (loadingModel) {
            lost = LOST_MODEL;
        } else if (result != null && savedUri == null) {
            lost = LOST_RESULT;
        }
        if (lost != null) {
            out.putString(KEY_LOST, lost);
        }
    }

    /**
     * A fresh state after process death: takes back the settings and the model selection from
     * {@code saved}, reopens the input (or the batch still to do) and says what was lost. Returns
     * false when there was no input to reopen (the caller then shows a sample).
     */
    boolean restoreFrom(Bundle saved) {
        SuperResolver.Accelerator a = enumValue(SuperResolver.Accelerator.class, saved.getString(KEY_ACCELERATOR));
        if (a != null) {
            accelerator = a;
            acceleratorChosen = saved.getBoolean(KEY_ACCELERATOR_CHOSEN);
        }
        int threads = saved.getInt(KEY_THREADS, -1);
        if (threads >= 0 && threads < THREAD_CHOICES.length) {
            threadIndex = threads;
        }
        GalleryStore.Format f = enumValue(GalleryStore.Format.class, saved.getString(KEY_FORMAT));
        if (f != null) {
            format = f;
        }
        StringBuilder notice = new StringBuilder();
        String lost = saved.getString(KEY_LOST);
        if (lost != null) {
            notice.append(lostMessage(lost));
        }
        boolean custom = saved.getBoolean(KEY_CUSTOM_MODEL);
        if (custom && customModelName == null) {
            notice.append(notice.length() > 0 ? "\n" : "").append("The custom model is no longer stored; "
                    + "using the built-in model.");
        } else if (custom != customModelActive) {
            customModelActive = custom;
            session.useCustomModel(custom);
        }
        restoreNotice = notice.length() > 0 ? notice.toString() : null;
        List<Uri> uris = saved.getParcelableArrayList(KEY_BATCH);
        Uri uri = saved.getParcelable(KEY_INPUT_URI);
        String asset = saved.getString(KEY_INPUT_ASSET);
        if (uris != null && !uris.isEmpty()) {
            openBatch(uris);
        } else if (uri != null) {
            open(uri, null);
        } else if (asset != null) {
            open(null, asset);
        } else {
            if (restoreNotice != null) {
                setStatus(takeRestoreNotice().trim());
            }
            return false;
        }
        return true;
    }

    private static String lostMessage(String lost) {
        String what;
        String then;
        if (LOST_BATCH.equals(lost)) {
            what = "during the batch; the images not yet saved are selected again";
            then = "press Upscale to run them";
        } else if (LOST_SAVE.equals(lost)) {
            what = "while saving; nothing was added to the gallery and the result is gone";
            then = "press Upscale, then Save";
        } else if (LOST_UPSCALE.equals(lost)) {
            what = "while upscaling; that run was lost";
            then = "press Upscale to run it again";
        } else if (LOST_MODEL.equals(lost)) {
            what = "while checking a model; it was not loaded";
            then = "load it again";
        } else {
            what = "and the unsaved result is gone";
            then = "press Upscale to make it again";
        }
        return "Android closed the app in the background " + what + ": " + then + ".";
    }

    private String takeRestoreNotice() {
        String n = restoreNotice;
        restoreNotice = null;
        return n == null ? "" : "\n" + n;
    }

    private static <E extends Enum<E>> E enumValue(Class<E> type, String name) {
        if (name == null) {
            return null;
        }
        try {
            return Enum.valueOf(type, name);
        } catch (IllegalArgumentException e) {
            return null;   // saved by another version of the app
        }
    }

    void setStatus(String message) {
        status = message;
        render();
    }

    /** The Activity is finishing for good (not a configuration change). */
    void close() {
        if (batch != null) {
            batch.cancel();
        }
        if (cancel != null) {
            cancel.set(true);
        }
        session.close();
        view = null;
    }

    private static String describe(SrSession.Result r) {
        StringBuilder sb = new StringBuilder();
        String accel = r.accelerator == SuperResolver.Accelerator.CPU
                ? r.accelerator.label + ", " + r.threads + " threads" : r.accelerator.label;
        sb.append(String.format(Locale.US, "%s: %.0f ms (model %.0f ms), %.2f MP/s, %dx%d -> %s.png", accel,
                r.totalMillis, r.modelMillis, r.megapixelsPerSecond, r.width, r.height, r.baseName));
        if (r.fallbackReason != null) {
            sb.append("\nRan on the CPU: ").append(r.fallbackReason);
        } else if (r.probe != null) {
            sb.append("\n").append(r.accelerator.label).append(" checked against the CPU: ").append(r.probe);
        }
        sb.append('\n').append(r.modelDescription);
        if (r.cropped) {
            sb.append("\nShowing a full-resolution centre crop; the whole result is saved.");
        }
        return sb.toString();
    }
}

package org.keras_sr.demo;

import android.content.Context;
import android.net.Uri;
import android.os.Handler;
import android.os.Looper;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Everything the screen shows and does, kept outside the Activity so that a configuration change
 * (rotation, multi-window, dark mode, locale) that recreates the Activity keeps the input, the
 * result, the settings and a running job: the old Activity hands this object to the new one
 * through onRetainNonConfigurationInstance, and callbacks from the worker update this object and
 * then whichever Activity is attached at that moment. Main thread only.
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
    static final int[] THREAD_CHOICES = {1, 2, 4, 6, 8};
    private static final int DEFAULT_MAX_THREADS = 4;

    final SrSession session;
    private final Handler main = new Handler(Looper.getMainLooper());
    private View view;

    ImageInput input;
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
    private int screenW;
    private int screenH;

    ScreenState(Context context, int screenW, int screenH) {
        this.session = new SrSession(context);
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
        status = "Opening " + (asset != null ? asset : "the image") + "…";
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
                result = null;
                savedUri = null;
                status = String.format(Locale.US, "%s: %d×%d (%.1f MP)%s", in.displayName, in.width, in.height,
                        in.width * (double) in.height / 1e6, in.orientation > 1 ? ", EXIF-rotated" : "");
                render();
            }

            @Override
            public void onError(String message) {
                running = false;
                status = message;
                render();
            }
        });
    }

    void upscale() {
        if (busy() || input == null) {
            return;
        }
        running = true;
        progressDone = 0;
        progressTotal = 0;
        cancel = new AtomicBoolean(false);
        status = "Running on " + accelerator.label + (accelerator == SuperResolver.Accelerator.CPU ? ""
                : " (checking it against the CPU first)") + "…";
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
                result = r;
                savedUri = null;
                showSr = true;
                status = describe(r);
                render();
            }

            @Override
            public void onError(String message) {
                running = false;
                status = message;
                render();
            }
        });
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
        if (view != null && !view.ensureStoragePermission()) {
            return;   // saved again from onRequestPermissionsResult
        }
        saving = true;
        cancel = new AtomicBoolean(false);
        status = "Saving " + result.baseName + "." + format.extension + "…";
        render();
        session.save(result, format, cancel, new SrSession.Callback<Uri>() {
            @Override
            public void onResult(Uri uri) {
                saving = false;
                savedUri = uri;
                status = "Saved " + result.baseName + "." + format.extension + " to Pictures/" + GalleryStore.ALBUM;
                render();
                if (thenShare && view != null) {
                    view.share(uri);
                }
            }

            @Override
            public void onError(String message) {
                saving = false;
                status = message;
                render();
            }
        });
    }

    void cancel() {
        if (cancel != null) {
            cancel.set(true);
            status = "Cancelling…";
            render();
        }
    }

    void setStatus(String message) {
        status = message;
        render();
    }

    /** The Activity is finishing for good (not a configuration change). */
    void close() {
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

package org.keras_sr.demo;

import android.content.Context;
import java.io.File;
import java.io.IOException;
import org.keras_sr.demo.core.ModelSpec;
import org.keras_sr.demo.core.TileModel;

/**
 * Where {@link SrSession} gets its models. The app always uses {@link #TFLITE}
 * ({@link SuperResolver}); the seam exists for the Robolectric tests, which run the real Activity
 * on a desktop JVM where TFLite's native library cannot load, and install a fake with
 * {@link #setForTests}.
 */
abstract class ModelFactory {
    /** What the session needs from a model besides running windows. */
    interface Model extends TileModel {
        ModelSpec spec();

        void resetTiming();

        /** Model time since the last {@link #resetTiming()}, in milliseconds. */
        double inferenceMillis();

        void close();
    }

    /** The accelerator preselected on this device. Called off the UI thread. */
    abstract SuperResolver.Accelerator defaultAccelerator();

    /**
     * Opens a model on {@code accelerator} only.
     *
     * @param modelFile a custom model the user loaded, or null for the bundled asset
     * @throws IOException if the model cannot be read
     * @throws RuntimeException (or LinkageError) if the accelerator is unavailable or rejects the model
     */
    abstract Model open(Context context, File modelFile, SuperResolver.Accelerator accelerator, int threads)
            throws IOException;

    /** TFLite: what the app runs. */
    static final ModelFactory TFLITE = new ModelFactory() {
        @Override
        SuperResolver.Accelerator defaultAccelerator() {
            return SuperResolver.defaultAccelerator();
        }

        @Override
        Model open(Context context, File modelFile, SuperResolver.Accelerator accelerator, int threads)
                throws IOException {
            return SuperResolver.create(context, modelFile, accelerator, threads);
        }
    };

    private static volatile ModelFactory current = TFLITE;

    static ModelFactory get() {
        return current;
    }

    /** Tests only: replaces TFLite with {@code factory}; null puts TFLite back. */
    static void setForTests(ModelFactory factory) {
        current = factory == null ? TFLITE : factory;
    }
}

package org.keras_sr.demo;

import android.content.Context;
import android.content.res.AssetFileDescriptor;
import android.os.Build;
import android.util.Log;
import java.io.Closeable;
import java.io.File;
import java.io.FileInputStream;
import java.io.IOException;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.util.Arrays;
import org.keras_sr.demo.core.ModelMetadata;
import org.keras_sr.demo.core.ModelSpec;
import org.keras_sr.demo.core.TileModel;
import org.tensorflow.lite.DataType;
import org.tensorflow.lite.Delegate;
import org.tensorflow.lite.Interpreter;
import org.tensorflow.lite.Tensor;
import org.tensorflow.lite.gpu.CompatibilityList;
import org.tensorflow.lite.gpu.GpuDelegate;
import org.tensorflow.lite.nnapi.NnApiDelegate;

/**
 * Owns the TFLite interpreter and its delegate on one accelerator: creation, running one window
 * and closing. Everything TFLite lives here; the rest of the app only sees
 * {@link ModelFactory.Model} (a {@link TileModel}).
 * It never switches accelerator by itself: whether an accelerator is trusted, and the re-run on
 * the CPU after a failure, are decided for the whole image by
 * {@link org.keras_sr.demo.core.AcceleratedRunner}.
 *
 * <p>Not thread-safe: create, run and close it on one worker thread (the GPU delegate requires
 * that its interpreter is used on the thread that created it).
 */
public final class SuperResolver implements ModelFactory.Model, Closeable {
    private static final String TAG = "SuperResolver";
    /** Asset name of the model; stored uncompressed so it can be memory-mapped. */
    public static final String MODEL_ASSET = "model.tflite";
    /** LR size used to probe the output shape of models without metadata. */
    private static final int PROBE_SIZE = 64;
    private static final int INPUT = 0;
    private static final int OUTPUT = 0;
    private static final int BATCH = 1;
    private static final int NANOS_PER_MILLI = 1000000;

    /** Android 15 (API 35), where NNAPI is deprecated; a literal because the compile jar is API 29. */
    static final int ANDROID_15 = 35;

    /** Where inference runs. */
    public enum Accelerator {
        NNAPI("NNAPI"),
        GPU("GPU"),
        CPU("CPU (XNNPACK)");

        public final String label;

        Accelerator(String label) {
            this.label = label;
        }

        /** The label for the menu: NNAPI is deprecated from Android 15 on, but kept available. */
        public String menuLabel() {
            return this == NNAPI && Build.VERSION.SDK_INT >= ANDROID_15 ? label + " (deprecated)" : label;
        }
    }

    /** GPU where TFLite's compatibility list allows it, else the CPU. Call off the UI thread. */
    public static Accelerator defaultAccelerator() {
        try {
            CompatibilityList compatibility = new CompatibilityList();
            try {
                return compatibility.isDelegateSupportedOnThisDevice() ? Accelerator.GPU : Accelerator.CPU;
            } finally {
                compatibility.close();
            }
        } catch (RuntimeException | LinkageError e) {
            Log.w(TAG, "GPU compatibility check failed", e);
            return Accelerator.CPU;
        }
    }

    private final MappedByteBuffer modelBuffer;
    private final ModelMetadata metadata;
    private final int threads;
    private final Accelerator requested;
    private Accelerator active;
    private Interpreter interpreter;
    private Delegate delegate;
    private ModelSpec spec;
    private int[] currentShape;
    private ByteBuffer inputBuffer;
    private ByteBuffer outputBuffer;
    private long inferenceNanos;

    private SuperResolver(MappedByteBuffer modelBuffer, Accelerator requested, int threads) {
        this.modelBuffer = modelBuffer;
        this.requested = requested;
        this.threads = threads;
        ModelMetadata meta = null;
        try {
            meta = ModelMetadata.read(modelBuffer);
        } catch (IllegalArgumentException e) {
            Log.w(TAG, "unreadable keras_sr metadata, inferring from shapes", e);
        }
        this.metadata = meta;
    }

    /**
     * Loads the model from assets and creates the interpreter on {@code accelerator} only.
     *
     * @throws IOException if the model asset is missing or compressed
     * @throws IllegalArgumentException if the model does not fit the keras_sr contract
     * @throws RuntimeException (or LinkageError) if the accelerator is unavailable or rejects the model
     */
    public static SuperResolver create(Context context, Accelerator accelerator, int threads) throws IOException {
        return create(context, null, accelerator, threads);
    }

    /**
     * As {@link #create(Context, Accelerator, int)}, with the model from {@code modelFile} (a
     * custom model the user loaded, already checked by {@link org.keras_sr.demo.core.ModelContract}),
     * or the bundled asset when it is null.
     */
    public static SuperResolver create(Context context, File modelFile, Accelerator accelerator, int threads)
            throws IOException {
        MappedByteBuffer buffer = modelFile == null ? mapAsset(context, MODEL_ASSET) : mapFile(modelFile);
        SuperResolver resolver = new SuperResolver(buffer, accelerator, threads);
        try {
            resolver.openWith(accelerator);
        } catch (RuntimeException | LinkageError e) {
            resolver.close();
            throw e;
        }
        return resolver;
    }

    private static MappedByteBuffer mapAsset(Context context, String name) throws IOException {
        AssetFileDescriptor fd;
        try {
            fd = context.getAssets().openFd(name);
        } catch (IOException e) {
            throw new IOException("assets/" + name + " missing or compressed (it must be stored)", e);
        }
        try {
            FileInputStream in = new FileInputStream(fd.getFileDescriptor());
            try {
                return in.getChannel().map(FileChannel.MapMode.READ_ONLY, fd.getStartOffset(), fd.getDeclaredLength());
            } finally {
                in.close();
            }
        } finally {
            fd.close();
        }
    }

    /** Memory-maps a model file; the mapping stays valid after the file is replaced or deleted. */
    static MappedByteBuffer mapFile(File file) throws IOException {
        FileInputStream in = new FileInputStream(file);
        try {
            return in.getChannel().map(FileChannel.MapMode.READ_ONLY, 0, file.length());
        } finally {
            in.close();
        }
    }

    private void openWith(Accelerator accelerator) {
        Interpreter.Options options = new Interpreter.Options();
        switch (accelerator) {
            case NNAPI:
                delegate = new NnApiDelegate();
                options.addDelegate(delegate);
                break;
            case GPU:
                CompatibilityList compatibility = new CompatibilityList();
                try {
                    if (!compatibility.isDelegateSupportedOnThisDevice()) {
                        throw new IllegalStateException("GPU delegate not supported on this device");
                    }
                    delegate = new GpuDelegate(compatibility.getBestOptionsForThisDevice());
                } finally {
                    compatibility.close();
                }
                options.addDelegate(delegate);
                break;
            case CPU:
            default:
                options.setUseXNNPACK(true);
                options.setNumThreads(threads);
                break;
        }
        interpreter = new Interpreter(modelBuffer, options);
        active = accelerator;
        currentShape = null;
        spec = resolveSpec();
    }

    private ModelSpec resolveSpec() {
        Tensor in = interpreter.getInputTensor(INPUT);
        Tensor out = interpreter.getOutputTensor(OUTPUT);
        if (in.dataType() != DataType.UINT8 || out.dataType() != DataType.UINT8) {
            throw new IllegalArgumentException("model must be uint8 in and out, is " + in.dataType() + " -> "
                    + out.dataType() + " (export with sr-tool tflite --int8)");
        }
        int[] signature = in.shapeSignature();
        int probeIn = 0;
        int probeOut = 0;
        if (metadata == null || metadata.scale <= 0) {
            boolean dynamic = signature.length == 4 && (signature[1] < 0 || signature[2] < 0);
            if (dynamic) {
                resize(PROBE_SIZE, PROBE_SIZE);
            } else {
                interpreter.allocateTensors();
            }
            probeIn = interpreter.getInputTensor(INPUT).shape()[1];
            probeOut = interpreter.getOutputTensor(OUTPUT).shape()[1];
        }
        return ModelSpec.resolve(metadata, signature, probeIn, probeOut, ModelSpec.DEFAULT_TILE);
    }

    private void resize(int height, int width) {
        int[] shape = {BATCH, height, width, interpreter.getInputTensor(INPUT).shapeSignature()[3]};
        if (Arrays.equals(shape, currentShape)) {
            return;
        }
        interpreter.resizeInput(INPUT, shape);
        interpreter.allocateTensors();
        currentShape = shape;
        inputBuffer = ByteBuffer.allocateDirect(interpreter.getInputTensor(INPUT).numBytes())
                .order(ByteOrder.nativeOrder());
        outputBuffer = ByteBuffer.allocateDirect(interpreter.getOutputTensor(OUTPUT).numBytes())
                .order(ByteOrder.nativeOrder());
    }

    /** Runs one window; a delegate failure propagates (the caller re-runs the image on the CPU). */
    @Override
    public void run(byte[] input, int height, int width, byte[] output) {
        runOnce(input, height, width, output);
    }

    private void runOnce(byte[] input, int height, int width, byte[] output) {
        resize(height, width);
        if (inputBuffer.capacity() != input.length || outputBuffer.capacity() != output.length) {
            throw new IllegalArgumentException("window " + height + "x" + width + " does not match the model's "
                    + Arrays.toString(currentShape));
        }
        inputBuffer.clear();
        inputBuffer.put(input);
        inputBuffer.rewind();
        outputBuffer.clear();
        interpreter.run(inputBuffer, outputBuffer);
        Long nanos = interpreter.getLastNativeInferenceDurationNanoseconds();
        if (nanos != null) {
            inferenceNanos += nanos;
        }
        outputBuffer.rewind();
        outputBuffer.get(output);
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message.split("\n", 2)[0];
    }

    public ModelSpec spec() {
        return spec;
    }

    public ModelMetadata metadata() {
        return metadata;
    }

    public Accelerator requested() {
        return requested;
    }

    /** The accelerator this interpreter runs on. */
    public Accelerator active() {
        return active;
    }

    public int threads() {
        return threads;
    }

    /** Sum of native invoke times since the last {@link #resetTiming()}, in milliseconds. */
    public double inferenceMillis() {
        return inferenceNanos / (double) NANOS_PER_MILLI;
    }

    public void resetTiming() {
        inferenceNanos = 0;
    }

    private void release() {
        if (interpreter != null) {
            interpreter.close();
            interpreter = null;
        }
        if (delegate != null) {
            try {
                delegate.close();
            } catch (Exception e) {
                Log.w(TAG, "closing delegate", e);
            }
            delegate = null;
        }
        currentShape = null;
    }

    @Override
    public void close() {
        release();
    }
}

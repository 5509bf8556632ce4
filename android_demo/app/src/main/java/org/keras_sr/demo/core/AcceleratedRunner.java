package org.keras_sr.demo.core;

import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * Runs a whole-image job on an accelerator (GPU, NNAPI) only when it can be trusted, else on the
 * CPU, and never mixes the two in one image:
 *
 * <ol>
 *   <li>the accelerated model is opened; if that throws, the CPU is used;
 *   <li>a probe window ({@link ProbeComparison#probeInput}) runs on both; if the accelerator throws
 *       or its output is outside the tolerance of {@link ProbeComparison}, the CPU is used;
 *   <li>the job runs on the accelerator; if it throws part way, the job is run again from the
 *       start on the CPU, so every tile of the result comes from the same backend.
 * </ol>
 *
 * Each fallback is reported in {@link Outcome#fallbackReason} for the screen. The cancel flag is
 * checked between the steps too (creating a GPU delegate can take seconds), not only between
 * tiles. Pure Java: the decisions are tested on the JVM with fake backends.
 */
public final class AcceleratedRunner {
    /** Opens and closes the models; implemented over TFLite by the app and by fakes in tests. */
    public interface Backends {
        /** Name for messages, e.g. "GPU". */
        String acceleratorName();

        /** The accelerated model; throws if the accelerator is unavailable or rejects the model. */
        TileModel openAccelerated() throws Exception;

        TileModel openCpu() throws Exception;

        void close(TileModel model);
    }

    /** The whole image, from scratch, on {@code model} (it may be called twice: see above). */
    public interface Job {
        void run(TileModel model) throws Exception;
    }

    /** Which backend produced the result, and why it is not the one asked for. */
    public static final class Outcome {
        public final boolean accelerated;
        /** Null when the requested backend ran the whole image. */
        public final String fallbackReason;
        /** The probe comparison, or null when no probe ran. */
        public final ProbeComparison probe;

        Outcome(boolean accelerated, String fallbackReason, ProbeComparison probe) {
            this.accelerated = accelerated;
            this.fallbackReason = fallbackReason;
            this.probe = probe;
        }
    }

    private AcceleratedRunner() {
    }

    /**
     * @param wantAccelerated false runs the CPU directly (no probe)
     * @param spec window size, colors and scale, for the probe
     */
    public static Outcome run(Backends backends, boolean wantAccelerated, ModelSpec spec, Job job,
            AtomicBoolean cancel) throws Exception {
        String name = backends.acceleratorName();
        TileModel accelerated = null;
        TileModel cpu = null;
        String reason = null;
        ProbeComparison probe = null;
        try {
            if (wantAccelerated) {
                try {
                    accelerated = backends.openAccelerated();
                } catch (Exception | LinkageError e) {
                    reason = name + " unavailable: " + describe(e);
                }
                checkCancel(cancel);
            }
            cpu = backends.openCpu();
            checkCancel(cancel);
            if (accelerated != null) {
                int h = spec.tileHeight;
                int w = spec.tileWidth;
                byte[] input = ProbeComparison.probeInput(h, w, spec.colors);
                int outLength = h * w * spec.scale * spec.scale * spec.colors;
                byte[] expected = new byte[outLength];
                byte[] actual = new byte[outLength];
                cpu.run(input, h, w, expected);
                try {
                    accelerated.run(input, h, w, actual);
                    probe = ProbeComparison.compare(expected, actual);
                    if (!probe.passed) {
                        reason = name + " output differs from the CPU's on a test tile (" + probe + ")";
                    }
                } catch (Exception e) {
                    reason = name + " failed on a test tile: " + describe(e);
                }
                if (reason != null) {
                    backends.close(accelerated);
                    accelerated = null;
                }
                checkCancel(cancel);
            }
            if (accelerated != null) {
                try {
                    job.run(accelerated);
                    return new Outcome(true, null, probe);
                } catch (CancellationException e) {
                    throw e;
                } catch (Exception e) {
                    reason = name + " failed part way (" + describe(e) + "); the whole image was run again on the CPU";
                    backends.close(accelerated);
                    accelerated = null;
                }
                checkCancel(cancel);
            }
            job.run(cpu);
            return new Outcome(false, reason, probe);
        } finally {
            if (accelerated != null) {
                backends.close(accelerated);
            }
            if (cpu != null) {
                backends.close(cpu);
            }
        }
    }

    /** Throws CancellationException when {@code cancel} is set. */
    public static void checkCancel(AtomicBoolean cancel) {
        if (cancel != null && cancel.get()) {
            throw new CancellationException("cancelled");
        }
    }

    private static String describe(Throwable e) {
        String message = e.getMessage();
        return message == null ? e.getClass().getSimpleName() : message.split("\n", 2)[0];
    }
}

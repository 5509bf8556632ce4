package org.keras_sr.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.ArrayList;
import java.util.List;
import java.util.concurrent.CancellationException;
import java.util.concurrent.atomic.AtomicBoolean;
import org.junit.Test;

/** The delegate checks: probe, tolerance, whole-image re-run on the CPU, cancel between steps. */
public class AcceleratedRunnerTest {
    static final ModelSpec SPEC = new ModelSpec(2, 3, 1, 16, 16, false, true);

    /** A fake delegate: the CPU model's output, changed by {@code error} and failing after {@code failAfter} runs. */
    static final class FakeDelegate implements TileModel {
        final TileModel cpu = new SrPipelineTest.BoxStack(1, 2, 3);
        final int error;          // added to every {@code every}-th output byte
        final int every;
        final int failAfter;      // runs before it throws; -1 never
        int runs;

        FakeDelegate(int error, int every, int failAfter) {
            this.error = error;
            this.every = every;
            this.failAfter = failAfter;
        }

        @Override
        public void run(byte[] input, int h, int w, byte[] output) throws Exception {
            if (failAfter >= 0 && runs >= failAfter) {
                throw new IllegalStateException("GPU driver lost the context");
            }
            runs++;
            cpu.run(input, h, w, output);
            for (int i = 0; i < output.length; i += every) {
                output[i] = (byte) Math.max(0, Math.min(255, (output[i] & 0xFF) + error));
            }
        }
    }

    static final class Fakes implements AcceleratedRunner.Backends {
        final TileModel accelerated;
        final boolean openFails;
        final List<TileModel> closed = new ArrayList<>();
        final AtomicBoolean cancelOnOpen;

        Fakes(TileModel accelerated, boolean openFails, AtomicBoolean cancelOnOpen) {
            this.accelerated = accelerated;
            this.openFails = openFails;
            this.cancelOnOpen = cancelOnOpen;
        }

        @Override
        public String acceleratorName() {
            return "GPU";
        }

        @Override
        public TileModel openAccelerated() {
            if (cancelOnOpen != null) {
                cancelOnOpen.set(true);   // the user pressed Cancel while the delegate was being created
            }
            if (openFails) {
                throw new UnsupportedOperationException("no OpenCL");
            }
            return accelerated;
        }

        @Override
        public TileModel openCpu() {
            return new SrPipelineTest.BoxStack(1, 2, 3);
        }

        @Override
        public void close(TileModel model) {
            closed.add(model);
        }
    }

    /** Runs the pipeline on a 40x37 image and records which model produced the result. */
    static final class ImageJob implements AcceleratedRunner.Job {
        final ArgbImage src = SrPipelineTest.randomImage(40, 37, 11, false);
        ArgbImage out;
        final List<TileModel> ranOn = new ArrayList<>();

        @Override
        public void run(TileModel model) throws Exception {
            ranOn.add(model);
            out = new ArgbImage(80, 74);   // each attempt starts from an empty result
            new SrPipeline(model, SPEC).run(src, out, null);
        }
    }

    static int[] cpuResult() throws Exception {
        ImageJob job = new ImageJob();
        job.run(new SrPipelineTest.BoxStack(1, 2, 3));
        return job.out.pixels;
    }

    @Test
    public void trustedDelegateRunsTheImage() throws Exception {
        FakeDelegate gpu = new FakeDelegate(1, 3, -1);   // off by one level on a third of the bytes
        Fakes fakes = new Fakes(gpu, false, null);
        ImageJob job = new ImageJob();
        AcceleratedRunner.Outcome o = AcceleratedRunner.run(fakes, true, SPEC, job, new AtomicBoolean());
        assertTrue(o.accelerated);
        assertNull(o.fallbackReason);
        assertTrue(o.probe.passed);
        assertEquals(1, o.probe.maxAbsDiff);
        assertEquals(1, job.ranOn.size());
        assertTrue(job.ranOn.get(0) == gpu);
        assertEquals("both models closed", 2, fakes.closed.size());
    }

    @Test
    public void wrongNumbersFallBackToTheCpu() throws Exception {
        for (int[] bad : new int[][] {{3, 50}, {1, 1}, {40, 7}}) {
            // {3, 50}: one pixel in 50 three levels off (max too big); {1, 1}: every byte one off
            // (mean too big); {40, 7}: garbage.
            FakeDelegate gpu = new FakeDelegate(bad[0], bad[1], -1);
            Fakes fakes = new Fakes(gpu, false, null);
            ImageJob job = new ImageJob();
            AcceleratedRunner.Outcome o = AcceleratedRunner.run(fakes, true, SPEC, job, new AtomicBoolean());
            assertFalse(o.accelerated);
            assertFalse(o.probe.passed);
            assertTrue(o.fallbackReason, o.fallbackReason.contains("differs from the CPU"));
            assertEquals("only the probe ran on the delegate", 1, gpu.runs);
            assertFalse(job.ranOn.contains(gpu));
            assertArrayEquals(cpuResult(), job.out.pixels);
        }
    }

    @Test
    public void failureMidImageReRunsTheWholeImageOnTheCpu() throws Exception {
        // Passes the probe (run 1) and two tiles, then throws: the result must be all-CPU, not
        // GPU tiles followed by CPU tiles (the fake's GPU output differs by one level).
        FakeDelegate gpu = new FakeDelegate(1, 3, 3);
        Fakes fakes = new Fakes(gpu, false, null);
        ImageJob job = new ImageJob();
        AcceleratedRunner.Outcome o = AcceleratedRunner.run(fakes, true, SPEC, job, new AtomicBoolean());
        assertFalse(o.accelerated);
        assertTrue(o.fallbackReason, o.fallbackReason.contains("failed part way")
                && o.fallbackReason.contains("lost the context"));
        assertEquals(2, job.ranOn.size());
        assertTrue(job.ranOn.get(0) == gpu);
        assertArrayEquals(cpuResult(), job.out.pixels);
    }

    @Test
    public void unavailableDelegateSaysWhy() throws Exception {
        Fakes fakes = new Fakes(null, true, null);
        ImageJob job = new ImageJob();
        AcceleratedRunner.Outcome o = AcceleratedRunner.run(fakes, true, SPEC, job, new AtomicBoolean());
        assertFalse(o.accelerated);
        assertNull(o.probe);
        assertEquals("GPU unavailable: no OpenCL", o.fallbackReason);
        assertArrayEquals(cpuResult(), job.out.pixels);
    }

    @Test
    public void cpuRequestSkipsTheProbe() throws Exception {
        FakeDelegate gpu = new FakeDelegate(40, 1, -1);
        ImageJob job = new ImageJob();
        AcceleratedRunner.Outcome o = AcceleratedRunner.run(new Fakes(gpu, false, null), false, SPEC, job, null);
        assertFalse(o.accelerated);
        assertNull(o.fallbackReason);
        assertEquals(0, gpu.runs);
    }

    @Test
    public void cancelDuringDelegateCreationStopsBeforeAnyTile() throws Exception {
        AtomicBoolean cancel = new AtomicBoolean();
        FakeDelegate gpu = new FakeDelegate(0, 1, -1);
        Fakes fakes = new Fakes(gpu, false, cancel);
        ImageJob job = new ImageJob();
        try {
            AcceleratedRunner.run(fakes, true, SPEC, job, cancel);
            fail("expected CancellationException");
        } catch (CancellationException expected) {
            assertTrue(job.ranOn.isEmpty());
            assertEquals(0, gpu.runs);
            assertEquals("the delegate is closed", 1, fakes.closed.size());
        }
    }

    @Test
    public void comparisonThresholds() {
        byte[] a = new byte[10];
        byte[] b = new byte[10];
        b[0] = 2;
        b[1] = 2;
        assertTrue(ProbeComparison.compare(a, b).passed);   // max 2, mean 0.4
        b[2] = 2;
        assertFalse(ProbeComparison.compare(a, b).passed);  // mean 0.6
        byte[] c = new byte[10];
        c[0] = 3;
        assertFalse(ProbeComparison.compare(a, c).passed);  // max 3
        assertEquals(3, ProbeComparison.compare(a, c).maxAbsDiff);
    }
}

package org.keras_sr.demo;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.drawable.BitmapDrawable;
import android.view.View;
import android.widget.Button;
import android.widget.Spinner;
import android.widget.TextView;
import java.io.File;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.keras_sr.demo.core.ModelSpec;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.shadows.ShadowLooper;

/**
 * The real {@link MainActivity}, {@link ScreenState} and {@link SrSession} on the JVM
 * (Robolectric, the app's aapt2-linked resources and bundled samples), with a fake model
 * installed through {@link ModelFactory#setForTests}: TFLite's native library cannot load here.
 * The session's worker thread is real; results reach the main looper, which the test drains.
 */
@RunWith(RobolectricTestRunner.class)
public class MainActivityTest {
    private static final long TIMEOUT_MS = 20000;
    private static final int SCALE = 2;

    private FakeModels models;
    private ActivityController<MainActivity> controller;

    @Before
    public void setUp() {
        models = new FakeModels();
        ModelFactory.setForTests(models);
    }

    @After
    public void tearDown() {
        models.release.countDown();   // never leave the worker blocked in a fake tile
        if (controller != null) {
            controller.pause().stop().destroy();
        }
        ModelFactory.setForTests(null);
    }

    @Test
    public void startsWithItsControlsAndTheFirstSample() {
        MainActivity activity = start();
        assertEquals(SuperResolver.Accelerator.values().length, spinner(activity, R.id.accelerator).getCount());
        assertEquals("CPU (XNNPACK)", spinner(activity, R.id.accelerator).getSelectedItem());
        assertEquals(4, spinner(activity, R.id.samples).getCount());   // "Samples…" and three images
        assertTrue(button(activity, R.id.run).isEnabled());
        assertTrue(button(activity, R.id.open).isEnabled());
        assertFalse(button(activity, R.id.save).isEnabled());
        assertFalse(button(activity, R.id.share).isEnabled());
        assertFalse(activity.findViewById(R.id.compare).isEnabled());
        assertEquals(View.GONE, activity.findViewById(R.id.progress_row).getVisibility());
        assertNotNull("the sample's preview is shown", shown(activity));
    }

    @Test
    public void picksASampleRunsTheFakeModelAndShowsTheResult() {
        MainActivity activity = start();
        Spinner samples = spinner(activity, R.id.samples);
        samples.setSelection(2);   // coffee.png
        waitFor(activity, "coffee.png opened", "coffee.png: ");
        String opened = status(activity);
        int width = Integer.parseInt(opened.replaceAll("^coffee\\.png: (\\d+)×(\\d+).*$", "$1"));
        int height = Integer.parseInt(opened.replaceAll("^coffee\\.png: (\\d+)×(\\d+).*$", "$2"));
        assertEquals("the sample spinner goes back to its title", 0, samples.getSelectedItemPosition());

        button(activity, R.id.run).performClick();
        waitFor(activity, "the result", "coffee_x2.png");
        String done = status(activity);
        assertTrue(done, done.startsWith("CPU (XNNPACK), "));
        assertTrue(done, done.contains(String.format("%dx%d -> coffee_x2.png", width * SCALE, height * SCALE)));
        assertTrue(done, done.contains("\nbuilt-in model: x2, RGB, halo 2, tiles 64x64"));
        assertTrue(button(activity, R.id.save).isEnabled());
        assertTrue(button(activity, R.id.share).isEnabled());
        assertTrue(activity.findViewById(R.id.compare).isEnabled());
        Bitmap shown = shown(activity);
        assertEquals(width * SCALE, shown.getWidth());
        assertEquals(height * SCALE, shown.getHeight());
        File png = new File(activity.getCacheDir(), "results/coffee_x2.png");
        assertTrue("the full result was written: " + png, png.isFile() && png.length() > 0);
        assertTrue("tiles ran on the fake CPU model", models.cpuTiles > 0);
    }

    @Test
    public void cancelStopsTheRunAndWritesNothing() throws Exception {
        MainActivity activity = start();
        models.blockFirstTile = true;
        button(activity, R.id.run).performClick();
        awaitFirstTile(activity);
        assertFalse("Upscale is disabled while the job runs", button(activity, R.id.run).isEnabled());
        assertEquals(View.VISIBLE, activity.findViewById(R.id.progress_row).getVisibility());

        button(activity, R.id.cancel).performClick();
        assertEquals("Cancelling…", status(activity));
        models.release.countDown();
        waitFor(activity, "the cancel", "Cancelled; no file was written.");
        assertTrue(button(activity, R.id.run).isEnabled());
        assertFalse(button(activity, R.id.save).isEnabled());
        File[] results = new File(activity.getCacheDir(), "results").listFiles();
        assertEquals("no result file, not even a .part", 0, results == null ? 0 : results.length);
    }

    @Test
    public void recreatingTheActivityKeepsTheRunningJobAndItsInput() throws Exception {
        MainActivity first = start();
        models.blockFirstTile = true;
        button(first, R.id.run).performClick();
        awaitFirstTile(first);
        String running = status(first);
        assertTrue(running, running.startsWith("Running on CPU (XNNPACK)"));

        controller.recreate();   // a configuration change: onRetainNonConfigurationInstance hands ScreenState over
        MainActivity second = controller.get();
        assertNotSame(first, second);
        assertEquals("the new Activity shows the job still running", running, status(second));
        assertFalse(button(second, R.id.run).isEnabled());
        assertFalse(button(second, R.id.open).isEnabled());
        assertEquals(View.VISIBLE, second.findViewById(R.id.progress_row).getVisibility());

        models.release.countDown();
        waitFor(second, "the result in the recreated Activity", "astronaut_x2.png");
        assertEquals("the job ran once, and the sample was not reopened", 1, models.cpuOpened);
        assertTrue(button(second, R.id.save).isEnabled());
        assertNotNull(shown(second));
    }

    @Test
    public void aWrongAcceleratorFallsBackToTheCpu() {
        models.defaultAccelerator = SuperResolver.Accelerator.GPU;
        models.acceleratorOffBy = 50;   // far outside the probe's tolerance of 2 levels
        MainActivity activity = start();
        assertEquals("GPU", spinner(activity, R.id.accelerator).getSelectedItem());

        button(activity, R.id.run).performClick();
        waitFor(activity, "the result", "astronaut_x2.png");
        String done = status(activity);
        assertTrue(done, done.startsWith("CPU (XNNPACK), "));
        assertTrue(done, done.contains("\nRan on the CPU: GPU output differs from the CPU's on a test tile (max diff 50, "));
        assertEquals("only the probe ran on the accelerator", 1, models.acceleratorTiles);
        assertTrue(models.cpuTiles > 1);
    }

    @Test
    public void aMatchingAcceleratorRunsTheImage() {
        models.defaultAccelerator = SuperResolver.Accelerator.GPU;
        MainActivity activity = start();

        button(activity, R.id.run).performClick();
        waitFor(activity, "the result", "astronaut_x2.png");
        String done = status(activity);
        assertTrue(done, done.startsWith("GPU: "));
        assertTrue(done, done.contains("\nGPU checked against the CPU: max diff 0, mean diff 0.000"));
        assertTrue("the image ran on the accelerator, after the probe", models.acceleratorTiles > 1);
    }

    // --- helpers ---------------------------------------------------------------------------------

    /** Creates, starts and shows the Activity, then waits for the first sample it opens. */
    private MainActivity start() {
        controller = Robolectric.buildActivity(MainActivity.class).setup();
        MainActivity activity = controller.get();
        waitFor(activity, "the first sample", "astronaut.png: ");
        return activity;
    }

    /** Runs the main looper until the status line contains {@code text}. */
    private static void waitFor(MainActivity activity, String what, String text) {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (true) {
            ShadowLooper.idleMainLooper();
            if (status(activity).contains(text)) {
                return;
            }
            if (System.currentTimeMillis() > deadline) {
                fail("timed out waiting for " + what + "; status: " + status(activity));
            }
            sleep();
        }
    }

    private void awaitFirstTile(MainActivity activity) throws InterruptedException {
        if (!models.firstTileStarted.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            ShadowLooper.idleMainLooper();
            fail("the job did not reach its first tile; status: " + status(activity));
        }
        ShadowLooper.idleMainLooper();
    }

    private static void sleep() {
        try {
            Thread.sleep(5);
        } catch (InterruptedException e) {
            Thread.currentThread().interrupt();
            throw new AssertionError(e);
        }
    }

    private static String status(MainActivity activity) {
        return ((TextView) activity.findViewById(R.id.status)).getText().toString();
    }

    private static Button button(MainActivity activity, int id) {
        return (Button) activity.findViewById(id);
    }

    private static Spinner spinner(MainActivity activity, int id) {
        return (Spinner) activity.findViewById(id);
    }

    private static Bitmap shown(MainActivity activity) {
        BitmapDrawable d = (BitmapDrawable) ((ZoomImageView) activity.findViewById(R.id.image)).getDrawable();
        return d == null ? null : d.getBitmap();
    }

    /**
     * RGB, x2, nearest-neighbour "super-resolution" on the CPU; the accelerator adds
     * {@link #acceleratorOffBy} to every byte. Optionally blocks in the first tile until
     * {@link #release} is counted down. Fields are read on the session's worker thread.
     */
    private static final class FakeModels extends ModelFactory {
        volatile SuperResolver.Accelerator defaultAccelerator = SuperResolver.Accelerator.CPU;
        volatile int acceleratorOffBy;
        volatile boolean blockFirstTile;
        final CountDownLatch firstTileStarted = new CountDownLatch(1);
        final CountDownLatch release = new CountDownLatch(1);
        volatile int cpuOpened;
        volatile int cpuTiles;
        volatile int acceleratorTiles;

        @Override
        SuperResolver.Accelerator defaultAccelerator() {
            return defaultAccelerator;
        }

        @Override
        Model open(Context context, File modelFile, SuperResolver.Accelerator accelerator, int threads) {
            final boolean cpu = accelerator == SuperResolver.Accelerator.CPU;
            if (cpu) {
                cpuOpened++;
            }
            final ModelSpec spec = new ModelSpec(SCALE, 3, 2, 64, 64, false, true);
            return new Model() {
                @Override
                public void run(byte[] input, int height, int width, byte[] output) throws InterruptedException {
                    if (blockFirstTile && firstTileStarted.getCount() > 0) {
                        firstTileStarted.countDown();
                        if (!release.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                            throw new IllegalStateException("the test never released the fake tile");
                        }
                    }
                    int offBy = cpu ? 0 : acceleratorOffBy;
                    int outWidth = width * SCALE;
                    for (int y = 0; y < height * SCALE; y++) {
                        for (int x = 0; x < outWidth; x++) {
                            for (int c = 0; c < 3; c++) {
                                int v = input[((y / SCALE) * width + x / SCALE) * 3 + c] & 0xff;
                                output[(y * outWidth + x) * 3 + c] = (byte) Math.min(255, v + offBy);
                            }
                        }
                    }
                    if (cpu) {
                        cpuTiles++;
                    } else {
                        acceleratorTiles++;
                    }
                }

                @Override
                public ModelSpec spec() {
                    return spec;
                }

                @Override
                public void resetTiming() {
                }

                @Override
                public double inferenceMillis() {
                    return 0;
                }

                @Override
                public void close() {
                }
            };
        }
    }
}

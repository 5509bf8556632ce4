package org.keras_sr.demo;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNotSame;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import android.app.Activity;
import android.content.ClipData;
import android.content.ContentValues;
import android.content.Context;
import android.content.Intent;
import android.content.SharedPreferences;
import android.graphics.Bitmap;
import android.graphics.drawable.BitmapDrawable;
import android.net.Uri;
import android.os.Bundle;
import android.os.Parcel;
import android.provider.MediaStore;
import android.view.View;
import android.widget.Button;
import android.widget.Spinner;
import android.widget.TextView;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.nio.file.Files;
import java.util.ArrayList;
import java.util.List;
import javax.imageio.ImageIO;
import java.util.concurrent.CountDownLatch;
import java.util.concurrent.TimeUnit;
import java.util.concurrent.atomic.AtomicInteger;
import org.junit.After;
import org.junit.Before;
import org.junit.Test;
import org.junit.runner.RunWith;
import org.keras_sr.demo.core.ModelSpec;
import org.keras_sr.demo.core.TestModels;
import org.robolectric.Robolectric;
import org.robolectric.RobolectricTestRunner;
import org.robolectric.android.controller.ActivityController;
import org.robolectric.shadow.api.Shadow;
import org.robolectric.shadows.ShadowActivity;
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

    private static final String MODEL_NAME = "my_x2.tflite";
    private static final String FAKE_SPEC = "x2, RGB, halo 2, tiles 64x64";

    private FakeModels models;
    private FakeProviders.Documents documents;
    private FakeProviders.Media media;
    private ActivityController<MainActivity> controller;

    @Before
    public void setUp() {
        models = new FakeModels();
        ModelFactory.setForTests(models);
        documents = Robolectric.buildContentProvider(FakeProviders.Documents.class)
                .create(FakeProviders.Documents.AUTHORITY).get();
        media = Robolectric.buildContentProvider(FakeProviders.Media.class).create(FakeProviders.Media.AUTHORITY).get();
    }

    @After
    public void tearDown() {
        models.release.countDown();   // never leave the worker blocked in a fake tile
        media.release.countDown();
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


    @Test
    public void savesTheResultUnderItsDisplayNameThroughMediaStore() throws Exception {
        MainActivity activity = start();
        pick(activity, documents.add("IMG_1234.png", png(40, 30)));
        waitFor(activity, "the picked image", "IMG_1234.png: 40×30");
        button(activity, R.id.run).performClick();
        waitFor(activity, "the result", "80x60 -> IMG_1234_x2.png");

        button(activity, R.id.save).performClick();
        waitFor(activity, "the save", "Saved IMG_1234_x2.png to Pictures/KerasSR");
        assertEquals("one gallery entry", 1, media.rows.size());
        ContentValues row = media.rows.values().iterator().next();
        assertEquals("IMG_1234_x2.png", row.getAsString(MediaStore.Images.Media.DISPLAY_NAME));
        assertEquals("image/png", row.getAsString(MediaStore.Images.Media.MIME_TYPE));
        assertEquals("Pictures/KerasSR", row.getAsString(MediaStore.Images.Media.RELATIVE_PATH));
        assertEquals("published: no longer pending", Integer.valueOf(0), row.getAsInteger(MediaStore.Images.Media.IS_PENDING));
        File saved = media.files.values().iterator().next();
        BufferedImage decoded = ImageIO.read(saved);
        assertNotNull("the saved file is a PNG", decoded);
        assertEquals(80, decoded.getWidth());
        assertEquals(60, decoded.getHeight());
        assertArrayEquals("the saved PNG is the streamed result",
                Files.readAllBytes(new File(activity.getCacheDir(), "results/IMG_1234_x2.png").toPath()),
                Files.readAllBytes(saved.toPath()));
        assertTrue(button(activity, R.id.save).isEnabled());
    }

    @Test
    public void shareSavesThenSendsTheContentUriWithAReadGrant() {
        MainActivity activity = start();
        button(activity, R.id.run).performClick();
        waitFor(activity, "the result", "astronaut_x2.png");

        button(activity, R.id.share).performClick();   // not saved yet: saves first
        waitFor(activity, "the save", "Saved astronaut_x2.png to Pictures/KerasSR");
        Uri savedUri = Uri.withAppendedPath(MediaStore.Images.Media.EXTERNAL_CONTENT_URI,
                String.valueOf(media.rows.keySet().iterator().next()));
        Intent send = sent(activity);
        assertEquals(Intent.ACTION_SEND, send.getAction());
        assertEquals("image/png", send.getType());
        assertEquals(savedUri, send.getParcelableExtra(Intent.EXTRA_STREAM));
        assertTrue("the receiver may read the URI",
                (send.getFlags() & Intent.FLAG_GRANT_READ_URI_PERMISSION) != 0);

        button(activity, R.id.share).performClick();   // already saved: the same entry again
        ShadowLooper.idleMainLooper();
        assertEquals(savedUri, sent(activity).getParcelableExtra(Intent.EXTRA_STREAM));
        assertEquals("saved once", 1, media.rows.size());
    }

    @Test
    public void cancelReachesDelegateCreation() throws Exception {
        models.defaultAccelerator = SuperResolver.Accelerator.GPU;
        models.blockOpenOf = SuperResolver.Accelerator.GPU;
        MainActivity activity = start();
        button(activity, R.id.run).performClick();
        if (!models.openStarted.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            fail("the GPU model was never created; status: " + status(activity));
        }
        ShadowLooper.idleMainLooper();
        assertTrue(status(activity), status(activity).startsWith("Running on GPU"));

        button(activity, R.id.cancel).performClick();
        assertEquals("Cancelling…", status(activity));
        models.release.countDown();   // the delegate creation returns after the cancel
        waitFor(activity, "the cancel", "Cancelled; no file was written.");
        assertIdle(activity, false);
        assertEquals("no probe, no tile", 0, models.cpuTiles + models.acceleratorTiles);
        assertEquals("every model created was closed (the CPU one too)", models.opened.get(), models.closed.get());
        assertNoResultFile(activity);
    }

    @Test
    public void cancelWhileSavingAddsNothingToTheGallery() throws Exception {
        MainActivity activity = start();
        button(activity, R.id.run).performClick();
        waitFor(activity, "the result", "astronaut_x2.png");
        media.blockWrites = true;
        button(activity, R.id.save).performClick();
        if (!media.writeStarted.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
            fail("saving never opened the gallery file; status: " + status(activity));
        }
        ShadowLooper.idleMainLooper();
        assertEquals("Saving astronaut_x2.png…", status(activity));
        assertControlsDisabled(activity);

        button(activity, R.id.cancel).performClick();
        assertEquals("Cancelling…", status(activity));
        media.release.countDown();
        waitFor(activity, "the cancel", "Saving cancelled; nothing was added to the gallery.");
        assertTrue("the half-written entry was deleted", media.rows.isEmpty());
        assertTrue(media.files.isEmpty());
        assertIdle(activity, true);
    }

    @Test
    public void everyControlThatWouldChangeTheJobIsDisabledWhileItRuns() throws Exception {
        MainActivity activity = start();
        models.blockFirstTile = true;
        button(activity, R.id.run).performClick();
        awaitFirstTile(activity);
        assertControlsDisabled(activity);
        button(activity, R.id.run).performClick();   // a click that gets through anyway is ignored
        ShadowLooper.idleMainLooper();
        assertEquals("one job", 1, models.cpuOpened);

        models.release.countDown();
        waitFor(activity, "the result", "astronaut_x2.png");
        assertIdle(activity, true);
    }

    @Test
    public void processDeathKeepsTheInputSettingsAndModelButNotTheRunningJob() throws Exception {
        MainActivity first = start();
        pick(first, documents.add("IMG_1234.png", png(40, 30)));
        waitFor(first, "the picked image", "IMG_1234.png: 40×30");
        loadModel(first, documents.add(MODEL_NAME, TestModels.withMetadata(TestModels.X2_RGB)));
        waitFor(first, "the custom model", "Model: " + MODEL_NAME + ": " + FAKE_SPEC);
        spinner(first, R.id.accelerator).setSelection(SuperResolver.Accelerator.GPU.ordinal());
        spinner(first, R.id.threads).setSelection(0);
        spinner(first, R.id.format).setSelection(GalleryStore.Format.WEBP.ordinal());
        ShadowLooper.idleMainLooper();
        models.blockFirstTile = true;
        button(first, R.id.run).performClick();
        awaitFirstTile(first);

        Bundle saved = new Bundle();
        controller.pause().stop().saveInstanceState(saved).destroy();
        models.release.countDown();
        awaitAllModelsClosed();   // the old process's job is gone
        // A new process: no retained ScreenState, the Bundle as the system hands it back.
        controller = Robolectric.buildActivity(MainActivity.class).setup(throughParcel(saved));
        MainActivity second = controller.get();
        assertNotSame(first, second);
        waitFor(second, "the image reopened from its URI", "IMG_1234.png: 40×30");
        assertTrue(status(second), status(second).contains("\nAndroid closed the app in the background while "
                + "upscaling; that run was lost: press Upscale to run it again."));
        assertEquals("GPU", spinner(second, R.id.accelerator).getSelectedItem());
        assertEquals(0, spinner(second, R.id.threads).getSelectedItemPosition());
        assertEquals(GalleryStore.Format.WEBP.label, spinner(second, R.id.format).getSelectedItem());
        assertEquals("Model: " + MODEL_NAME, spinner(second, R.id.model).getSelectedItem());
        assertIdle(second, false);

        models.blockFirstTile = false;
        button(second, R.id.run).performClick();
        waitFor(second, "the re-run", "80x60 -> IMG_1234_x2.png");
        String done = status(second);
        assertTrue(done, done.startsWith("GPU: "));
        assertTrue(done, done.contains("\n" + MODEL_NAME + ": " + FAKE_SPEC));
        assertNotNull("the custom model ran", models.lastModelFile);
    }

    @Test
    public void processDeathMidBatchOffersTheImagesNotYetSaved() throws Exception {
        MainActivity first = start();
        Uri a = documents.add("a.png", png(20, 10));
        Uri b = documents.add("b.png", png(20, 10));
        Uri c = documents.add("c.png", png(20, 10));
        pick(first, a, b, c);
        waitFor(first, "the batch", "3 images selected");
        models.blockFirstTile = true;
        button(first, R.id.run).performClick();
        awaitFirstTile(first);
        assertTrue(status(first), status(first).startsWith("Image 1 of 3: Running on"));

        Bundle saved = new Bundle();
        controller.pause().stop().saveInstanceState(saved).destroy();
        models.release.countDown();
        awaitAllModelsClosed();
        controller = Robolectric.buildActivity(MainActivity.class).setup(throughParcel(saved));
        MainActivity second = controller.get();
        waitFor(second, "the batch reselected", "3 images selected");
        assertTrue(status(second), status(second).startsWith("a.png: 20×10"));
        assertTrue(status(second), status(second).contains("\nAndroid closed the app in the background during the "
                + "batch; the images not yet saved are selected again: press Upscale to run them."));
        assertTrue(button(second, R.id.run).isEnabled());
        assertTrue("nothing was saved", media.rows.isEmpty());
    }

    @Test
    public void aCustomModelIsCopiedRememberedAcrossLaunchesAndARefusedOneLeavesNothing() throws Exception {
        MainActivity activity = start();
        File dir = new File(activity.getFilesDir(), ModelStore.DIR);
        SharedPreferences prefs = activity.getSharedPreferences(ModelStore.PREFS, Context.MODE_PRIVATE);

        loadModel(activity, documents.add("plain.tflite", TestModels.withoutMetadata()));
        waitFor(activity, "the refusal", "plain.tflite has no keras_sr metadata");
        assertEquals("nothing kept of a refused model", 0, fileCount(dir));
        assertTrue("nothing remembered", prefs.getAll().isEmpty());

        byte[] model = TestModels.withMetadata(TestModels.X2_RGB);
        loadModel(activity, documents.add(MODEL_NAME, model));
        waitFor(activity, "the custom model", "Model: " + MODEL_NAME + ": " + FAKE_SPEC);
        File[] files = dir.listFiles();
        assertEquals("one file: no .part, no candidate", 1, files.length);
        File stored = files[0];
        assertTrue(stored.getName(), stored.getName().matches("custom-\\d+\\.tflite"));
        assertArrayEquals(model, Files.readAllBytes(stored.toPath()));
        assertEquals(stored.getName(), prefs.getString(ModelStore.KEY_FILE, null));
        assertEquals(MODEL_NAME, prefs.getString(ModelStore.KEY_NAME, null));
        assertTrue(prefs.getBoolean(ModelStore.KEY_ACTIVE, false));

        loadModel(activity, documents.add("photo.tflite", png(8, 8)));   // not TFLite at all
        waitFor(activity, "the second refusal", "photo.tflite is not a TFLite model");
        loadModel(activity, documents.add("plain2.tflite", TestModels.withoutMetadata()));
        waitFor(activity, "the third refusal", "plain2.tflite has no keras_sr metadata");
        assertTrue(status(activity), status(activity).endsWith("Still using " + MODEL_NAME + "."));
        assertArrayEquals("the refused files left the stored model as it was", new File[] {stored}, dir.listFiles());
        assertEquals(stored.getName(), prefs.getString(ModelStore.KEY_FILE, null));

        // A later launch (new Activity, ScreenState and session): the model is offered and selected.
        File stray = new File(dir, "candidate-1.tflite.part");   // as an interrupted copy leaves it
        new FileOutputStream(stray).close();
        MainActivity relaunched = relaunch();
        assertFalse("leftovers are cleaned up", stray.exists());
        Spinner menu = spinner(relaunched, R.id.model);
        assertEquals("built-in, custom, load", 3, menu.getCount());
        assertEquals("Model: " + MODEL_NAME, menu.getSelectedItem());
        button(relaunched, R.id.run).performClick();
        waitFor(relaunched, "the result", "astronaut_x2.png");
        assertTrue(status(relaunched), status(relaunched).contains("\n" + MODEL_NAME + ": " + FAKE_SPEC));
        assertEquals(stored, models.lastModelFile);

        // Choosing the built-in model is remembered too; the custom one stays on offer.
        menu.setSelection(0);
        waitFor(relaunched, "the built-in model", "Model: built-in");
        relaunched = relaunch();
        menu = spinner(relaunched, R.id.model);
        assertEquals(3, menu.getCount());
        assertEquals(0, menu.getSelectedItemPosition());
        button(relaunched, R.id.run).performClick();
        waitFor(relaunched, "the result", "astronaut_x2.png");
        assertTrue(status(relaunched), status(relaunched).contains("\nbuilt-in model: " + FAKE_SPEC));
        assertNull(models.lastModelFile);

        // Another model replaces the stored one: still one file, the record points at it.
        byte[] other = TestModels.withMetadata(TestModels.X2_RGB.replace("\"receptive_radius\": 2", "\"receptive_radius\": 3"));
        loadModel(relaunched, documents.add("other_x2.tflite", other));
        waitFor(relaunched, "the second custom model", "Model: other_x2.tflite: ");
        files = dir.listFiles();
        assertEquals("the previous model was deleted", 1, files.length);
        assertFalse(files[0].equals(stored));
        assertArrayEquals(other, Files.readAllBytes(files[0].toPath()));
        assertEquals(files[0].getName(), prefs.getString(ModelStore.KEY_FILE, null));
        assertEquals("other_x2.tflite", prefs.getString(ModelStore.KEY_NAME, null));
    }

    // --- helpers ---------------------------------------------------------------------------------

    /** Everything that would change a running job is disabled; Cancel is shown. */
    private static void assertControlsDisabled(MainActivity activity) {
        int[] ids = {R.id.open, R.id.samples, R.id.accelerator, R.id.threads, R.id.format, R.id.model, R.id.run,
            R.id.save, R.id.share, R.id.compare};
        for (int id : ids) {
            assertFalse(activity.getResources().getResourceEntryName(id) + " is disabled during a job",
                    activity.findViewById(id).isEnabled());
        }
        assertEquals(View.VISIBLE, activity.findViewById(R.id.progress_row).getVisibility());
        assertTrue(activity.findViewById(R.id.cancel).isEnabled());
    }

    /** No job: the progress row is gone and the controls are back (Save/Share only with a result). */
    private static void assertIdle(MainActivity activity, boolean hasResult) {
        assertEquals(View.GONE, activity.findViewById(R.id.progress_row).getVisibility());
        int[] ids = {R.id.open, R.id.samples, R.id.accelerator, R.id.threads, R.id.format, R.id.model, R.id.run};
        for (int id : ids) {
            assertTrue(activity.getResources().getResourceEntryName(id) + " is enabled again",
                    activity.findViewById(id).isEnabled());
        }
        assertEquals(hasResult, button(activity, R.id.save).isEnabled());
        assertEquals(hasResult, button(activity, R.id.share).isEnabled());
    }

    private static void assertNoResultFile(MainActivity activity) {
        File[] results = new File(activity.getCacheDir(), "results").listFiles();
        assertEquals("no result file, not even a .part", 0, results == null ? 0 : results.length);
    }

    /** Open image…, then the picker returns {@code uris} (several as ClipData, as real pickers do). */
    private static void pick(MainActivity activity, Uri... uris) {
        button(activity, R.id.open).performClick();
        ShadowActivity.IntentForResult request = shadowOf(activity).getNextStartedActivityForResult();
        assertEquals(Intent.ACTION_OPEN_DOCUMENT, request.intent.getAction());
        Intent data = new Intent();
        if (uris.length == 1) {
            data.setData(uris[0]);
        } else {
            ClipData clip = ClipData.newRawUri("images", uris[0]);
            for (int i = 1; i < uris.length; i++) {
                clip.addItem(new ClipData.Item(uris[i]));
            }
            data.setClipData(clip);
        }
        shadowOf(activity).receiveResult(request.intent, Activity.RESULT_OK, data);
    }

    /** The model menu's last item (Load…), then the picker returns {@code uri}. */
    private static void loadModel(MainActivity activity, Uri uri) {
        Spinner menu = spinner(activity, R.id.model);
        menu.setSelection(menu.getCount() - 1);
        ShadowLooper.idleMainLooper();
        ShadowActivity.IntentForResult request = shadowOf(activity).getNextStartedActivityForResult();
        assertNotNull("the model picker was started", request);
        assertEquals(Intent.ACTION_OPEN_DOCUMENT, request.intent.getAction());
        shadowOf(activity).receiveResult(request.intent, Activity.RESULT_OK, new Intent().setData(uri));
    }

    /** The ACTION_SEND inside the chooser the Activity started last. */
    private static Intent sent(MainActivity activity) {
        Intent chooser = shadowOf(activity).getNextStartedActivity();
        assertNotNull("an activity was started", chooser);
        assertEquals(Intent.ACTION_CHOOSER, chooser.getAction());
        Intent send = chooser.getParcelableExtra(Intent.EXTRA_INTENT);
        assertNotNull(send);
        return send;
    }

    /** Finishes the Activity (not a configuration change) and launches the app again. */
    private MainActivity relaunch() {
        controller.pause().stop().destroy();
        controller = null;
        return start();
    }

    private void awaitAllModelsClosed() {
        long deadline = System.currentTimeMillis() + TIMEOUT_MS;
        while (models.closed.get() < models.opened.get()) {
            ShadowLooper.idleMainLooper();
            if (System.currentTimeMillis() > deadline) {
                fail("the old job never closed its models");
            }
            sleep();
        }
    }

    /** The Bundle as a new process gets it back: written to a Parcel and read again. */
    private static Bundle throughParcel(Bundle bundle) {
        Parcel parcel = Parcel.obtain();
        try {
            bundle.writeToParcel(parcel, 0);
            parcel.setDataPosition(0);
            Bundle copy = parcel.readBundle(MainActivityTest.class.getClassLoader());
            return copy;
        } finally {
            parcel.recycle();
        }
    }

    /**
     * Robolectric's ShadowActivity. (Shadows.shadowOf does not compile here: its overloads name
     * classes newer than the API 29 android-all jar this build compiles against.)
     */
    private static ShadowActivity shadowOf(Activity activity) {
        return (ShadowActivity) Shadow.extract(activity);
    }

    private static int fileCount(File dir) {
        File[] files = dir.listFiles();
        return files == null ? 0 : files.length;
    }

    /** A real PNG of {@code w x h} (ImageIO), with a gradient. */
    private static byte[] png(int w, int h) throws IOException {
        BufferedImage img = new BufferedImage(w, h, BufferedImage.TYPE_INT_RGB);
        for (int y = 0; y < h; y++) {
            for (int x = 0; x < w; x++) {
                img.setRGB(x, y, (x * 255 / w) << 16 | (y * 255 / h) << 8 | 0x40);
            }
        }
        ByteArrayOutputStream out = new ByteArrayOutputStream();
        ImageIO.write(img, "png", out);
        return out.toByteArray();
    }

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
        /** Opening a model on this accelerator blocks until {@link #release} (delegate creation). */
        volatile SuperResolver.Accelerator blockOpenOf;
        final CountDownLatch openStarted = new CountDownLatch(1);
        final AtomicInteger opened = new AtomicInteger();
        final AtomicInteger closed = new AtomicInteger();
        /** The model file of the last open: null for the bundled model. */
        volatile File lastModelFile;
        volatile SuperResolver.Accelerator lastAccelerator;

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
            lastModelFile = modelFile;
            lastAccelerator = accelerator;
            if (accelerator == blockOpenOf) {
                openStarted.countDown();
                try {
                    if (!release.await(TIMEOUT_MS, TimeUnit.MILLISECONDS)) {
                        throw new IllegalStateException("the test never released the model creation");
                    }
                } catch (InterruptedException e) {
                    Thread.currentThread().interrupt();
                    throw new IllegalStateException(e);
                }
            }
            opened.incrementAndGet();
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
                    closed.incrementAndGet();
                }
            };
        }
    }
}

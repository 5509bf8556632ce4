package org.keras_sr.demo;

import android.content.Context;
import android.content.SharedPreferences;
import java.io.File;
import java.io.IOException;
import java.util.Locale;

/**
 * The custom model the user loaded, kept across launches: its bytes in the app's private files
 * ({@code files/models/custom-<n>.tflite}) and, in SharedPreferences, which file is current, its
 * display name and whether it is selected. The preferences are the single record of what is
 * installed: a new model is renamed into place under a fresh name, then the preferences are
 * committed to point at it, then the previous file is deleted. A crash at any point leaves either
 * the old model or the new one, never a half-written one; files the record does not name
 * (an interrupted copy or install) are deleted the next time the store is opened.
 */
final class ModelStore {
    static final String PREFS = "custom_model";
    static final String KEY_FILE = "file";
    static final String KEY_NAME = "name";
    static final String KEY_ACTIVE = "active";
    static final String DIR = "models";
    private static final String PREFIX = "custom-";
    private static final String CANDIDATE_PREFIX = "candidate-";
    static final String SUFFIX = ".tflite";

    /** What the store holds. */
    static final class Remembered {
        final File file;
        final String name;
        final boolean active;

        Remembered(File file, String name, boolean active) {
            this.file = file;
            this.name = name;
            this.active = active;
        }
    }

    private final File dir;
    private final SharedPreferences prefs;

    ModelStore(Context context) {
        this.dir = new File(context.getFilesDir(), DIR);
        this.prefs = context.getSharedPreferences(PREFS, Context.MODE_PRIVATE);
    }

    /**
     * The remembered model, or null (also when its file has gone, which is then forgotten).
     * Deletes every other file in the models folder: leftovers of an interrupted copy or install.
     */
    Remembered open() {
        String fileName = prefs.getString(KEY_FILE, null);
        String name = prefs.getString(KEY_NAME, null);
        File file = fileName == null ? null : new File(dir, fileName);
        Remembered remembered = null;
        if (file != null && name != null && file.isFile()) {
            remembered = new Remembered(file, name, prefs.getBoolean(KEY_ACTIVE, false));
        } else if (fileName != null || name != null) {
            prefs.edit().clear().commit();
        }
        File[] files = dir.listFiles();
        if (files != null) {
            for (File f : files) {
                if (remembered == null || !f.equals(remembered.file)) {
                    delete(f);
                }
            }
        }
        return remembered;
    }

    /** Where a model being copied and checked goes first (a fresh name in the models folder). */
    File newCandidate() throws IOException {
        ensureDir();
        return unused(CANDIDATE_PREFIX);
    }

    /**
     * Makes the checked {@code candidate} the remembered, selected model named {@code name};
     * returns its new place. On failure the previous model stays as it was.
     */
    File install(File candidate, String name) throws IOException {
        ensureDir();
        File previous = null;
        String previousName = prefs.getString(KEY_FILE, null);
        if (previousName != null) {
            previous = new File(dir, previousName);
        }
        File target = unused(PREFIX);
        if (!candidate.renameTo(target)) {
            throw new IOException("cannot store the model in " + dir);
        }
        boolean recorded = prefs.edit().putString(KEY_FILE, target.getName()).putString(KEY_NAME, name)
                .putBoolean(KEY_ACTIVE, true).commit();
        if (!recorded) {
            delete(target);
            throw new IOException("cannot record the model in the app's settings");
        }
        if (previous != null && !previous.equals(target)) {
            delete(previous);
        }
        return target;
    }

    /** Remembers whether the custom model (if any) is selected. */
    void setActive(boolean active) {
        if (prefs.contains(KEY_FILE)) {
            prefs.edit().putBoolean(KEY_ACTIVE, active).commit();
        }
    }

    private void ensureDir() throws IOException {
        if (!dir.isDirectory() && !dir.mkdirs()) {
            throw new IOException("cannot create " + dir);
        }
    }

    private File unused(String prefix) {
        long n = System.currentTimeMillis();
        File f;
        do {
            f = new File(dir, String.format(Locale.US, "%s%d%s", prefix, n++, SUFFIX));
        } while (f.exists() || new File(f.getPath() + ".part").exists());
        return f;
    }

    static void delete(File f) {
        if (f.exists() && !f.delete()) {
            f.deleteOnExit();
        }
    }
}

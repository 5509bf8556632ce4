package org.keras_sr.demo.core;

import java.util.ArrayList;
import java.util.List;
import java.util.Locale;

/**
 * Bookkeeping for several images processed one after another: which one is next, the unique
 * output names, what was saved and what failed (one failure does not stop the others; a cancel
 * does), and the lines the screen shows. The items are whatever the app uses to reopen an image
 * (content URIs); this class never touches them. Not thread-safe: the main thread drives it.
 *
 * @param <T> the item type
 */
public final class Batch<T> {
    private final List<T> items;
    private final OutputNames names = new OutputNames();
    private final List<String> saved = new ArrayList<>();
    private final List<String> failed = new ArrayList<>();
    private int next;
    private boolean cancelled;

    public Batch(List<T> items) {
        if (items.isEmpty()) {
            throw new IllegalArgumentException("empty batch");
        }
        this.items = new ArrayList<>(items);
    }

    public int size() {
        return items.size();
    }

    /** True while there is an item left and the batch was not cancelled. */
    public boolean hasNext() {
        return !cancelled && next < items.size();
    }

    /** The next item; {@link #position()} is then its 1-based number. */
    public T next() {
        if (!hasNext()) {
            throw new IllegalStateException("batch finished");
        }
        return items.get(next++);
    }

    /** 1-based number of the item last returned by {@link #next()}. */
    public int position() {
        return next;
    }

    /** A unique base name for the current item's result (see {@link OutputNames#claim}). */
    public String claimName(String baseName) {
        return names.claim(baseName);
    }

    public void saved(String fileName) {
        saved.add(fileName);
    }

    /** Records that {@code what} (a display name, or a placeholder when it never opened) failed. */
    public void failed(String what, String reason) {
        failed.add(what + ": " + reason);
    }

    /** Stops after the current item; the remaining ones are counted as not processed. */
    public void cancel() {
        cancelled = true;
    }

    public boolean cancelled() {
        return cancelled;
    }

    public int savedCount() {
        return saved.size();
    }

    public int failedCount() {
        return failed.size();
    }

    /**
     * The items not finished yet: the one in progress (the last {@link #next()} returned; on the
     * main thread an item is always in progress between steps) and those after it. What a
     * restarted app offers to run again after Android ended the process mid-batch.
     */
    public List<T> unfinished() {
        return new ArrayList<>(items.subList(Math.max(0, next - 1), items.size()));
    }

    /** "Image 2 of 5: " prefix for the status line while the batch runs. */
    public String progressPrefix() {
        return String.format(Locale.US, "Image %d of %d: ", position(), size());
    }

    /** What the screen says when the batch is over (finished or cancelled). */
    public String summary(String album) {
        StringBuilder sb = new StringBuilder();
        sb.append(String.format(Locale.US, "Batch %s: %d of %d saved to Pictures/%s", cancelled ? "cancelled" : "done",
                saved.size(), items.size(), album));
        if (!saved.isEmpty()) {
            sb.append(" (").append(join(saved)).append(')');
        }
        sb.append('.');
        int skipped = items.size() - saved.size() - failed.size();
        if (skipped > 0) {
            sb.append(String.format(Locale.US, " %d not processed.", skipped));
        }
        for (String f : failed) {
            sb.append("\nFailed: ").append(f);
        }
        return sb.toString();
    }

    private static String join(List<String> parts) {
        StringBuilder sb = new StringBuilder();
        for (String p : parts) {
            if (sb.length() > 0) {
                sb.append(", ");
            }
            sb.append(p);
        }
        return sb.toString();
    }
}

package org.keras_sr.demo.core;

import java.io.BufferedOutputStream;
import java.io.File;
import java.io.FileOutputStream;
import java.io.IOException;
import java.io.OutputStream;

/**
 * A file that appears only when complete: bytes go to {@code target + ".part"}, which is renamed
 * onto {@code target} by {@link #commit}; {@link #abort} (or a failed commit) deletes it. A crash,
 * a cancel or a full disk therefore never leaves a truncated image behind under the real name.
 */
public final class AtomicOutput {
    private static final int BUFFER = 1 << 16;
    private final File target;
    private final File partial;
    private OutputStream stream;

    public AtomicOutput(File target) {
        this.target = target;
        this.partial = new File(target.getPath() + ".part");
    }

    public OutputStream open() throws IOException {
        stream = new BufferedOutputStream(new FileOutputStream(partial), BUFFER);
        return stream;
    }

    /** Closes the stream and renames the partial file onto the target (replacing it). */
    public File commit() throws IOException {
        try {
            stream.close();
        } catch (IOException e) {
            abort();
            throw e;
        }
        if (target.exists() && !target.delete()) {
            abort();
            throw new IOException("cannot replace " + target);
        }
        if (!partial.renameTo(target)) {
            abort();
            throw new IOException("cannot rename " + partial + " to " + target);
        }
        return target;
    }

    /** Closes and deletes the partial file; never throws. */
    public void abort() {
        if (stream != null) {
            try {
                stream.close();
            } catch (IOException ignored) {
                // the file is deleted anyway
            }
        }
        if (partial.exists() && !partial.delete()) {
            partial.deleteOnExit();
        }
    }
}

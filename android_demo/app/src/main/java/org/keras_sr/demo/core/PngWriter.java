package org.keras_sr.demo.core;

import java.io.IOException;
import java.io.OutputStream;
import java.util.zip.CRC32;
import java.util.zip.Deflater;

/**
 * A streaming PNG encoder (8-bit RGB or RGBA, non-interlaced): rows go in as they are produced
 * and leave compressed, so an image of any size is written with memory for one row plus the
 * deflater's window. Pure Java ({@code java.util.zip}), so it is tested on the JVM and decoded
 * there with javax.imageio.
 *
 * <p>One fixed filter per image (the default, Paeth, is the usual best single choice for
 * photographs); IDAT chunks are at most {@link #IDAT_SIZE} bytes.
 */
public final class PngWriter implements RowSink {
    /** PNG row filters (ISO/IEC 15948, 9.2). */
    public enum Filter {
        NONE(0), SUB(1), UP(2), AVERAGE(3), PAETH(4);

        final int code;

        Filter(int code) {
            this.code = code;
        }
    }

    static final int IDAT_SIZE = 1 << 16;
    private static final byte[] SIGNATURE = {(byte) 0x89, 'P', 'N', 'G', '\r', '\n', 0x1A, '\n'};
    private static final int COLOR_RGB = 2;
    private static final int COLOR_RGBA = 6;
    private static final int BIT_DEPTH = 8;

    private final OutputStream out;
    private final int width;
    private final int height;
    private final int channels;
    private final Filter filter;
    private final Deflater deflater;
    private final byte[] previous;   // unfiltered bytes of the row above (zeros above the first row)
    private final byte[] current;
    private final byte[] filtered;   // filter byte + filtered row
    private final byte[] chunk;
    private int chunkFill;
    private int rowsWritten;
    private boolean finished;

    /**
     * Writes the signature and header at once; then call {@link #writeRows} until all
     * {@code height} rows are in, then {@link #finish}. The stream is not closed here.
     *
     * @param level a {@link Deflater} level (1 fastest .. 9 smallest)
     */
    public PngWriter(OutputStream out, int width, int height, boolean alpha, Filter filter, int level)
            throws IOException {
        if (width <= 0 || height <= 0) {
            throw new IllegalArgumentException("bad PNG size " + width + "x" + height);
        }
        this.channels = alpha ? 4 : 3;
        long rowBytes = (long) width * channels + 1;
        if (rowBytes > Integer.MAX_VALUE - 16) {
            throw new IllegalArgumentException("PNG rows of " + width + " pixels are too wide");
        }
        this.out = out;
        this.width = width;
        this.height = height;
        this.filter = filter;
        this.deflater = new Deflater(level);
        this.previous = new byte[width * channels];
        this.current = new byte[width * channels];
        this.filtered = new byte[width * channels + 1];
        this.chunk = new byte[IDAT_SIZE];
        out.write(SIGNATURE);
        byte[] ihdr = new byte[13];
        putInt(ihdr, 0, width);
        putInt(ihdr, 4, height);
        ihdr[8] = BIT_DEPTH;
        ihdr[9] = (byte) (alpha ? COLOR_RGBA : COLOR_RGB);
        // compression 0 (deflate), filter method 0, interlace 0: already zero.
        writeChunk("IHDR", ihdr, ihdr.length);
    }

    /** Convenience: RGB or RGBA, Paeth, deflate level 6. */
    public PngWriter(OutputStream out, int width, int height, boolean alpha) throws IOException {
        this(out, width, height, alpha, Filter.PAETH, Deflater.DEFAULT_COMPRESSION);
    }

    @Override
    public void writeRows(int[] argb, int rows) throws IOException {
        if (finished) {
            throw new IllegalStateException("PNG already finished");
        }
        if (rowsWritten + rows > height) {
            throw new IllegalStateException("more than " + height + " rows written");
        }
        for (int r = 0; r < rows; r++) {
            pack(argb, r * width);
            filterRow();
            deflater.setInput(filtered, 0, filtered.length);
            drain();
            System.arraycopy(current, 0, previous, 0, current.length);
        }
        rowsWritten += rows;
    }

    /** Ends the image stream; fails if fewer than {@code height} rows were written. */
    public void finish() throws IOException {
        if (rowsWritten != height) {
            throw new IllegalStateException("only " + rowsWritten + " of " + height + " rows written");
        }
        deflater.finish();
        while (!deflater.finished()) {
            fill();
        }
        flushIdat();
        deflater.end();
        writeChunk("IEND", new byte[0], 0);
        out.flush();
        finished = true;
    }

    /** Releases the deflater without completing the file (after a failure or cancel). */
    public void abandon() {
        deflater.end();
        finished = true;
    }

    private void pack(int[] argb, int offset) {
        if (channels == 4) {
            for (int x = 0, j = 0; x < width; x++, j += 4) {
                int p = argb[offset + x];
                current[j] = (byte) (p >> 16);
                current[j + 1] = (byte) (p >> 8);
                current[j + 2] = (byte) p;
                current[j + 3] = (byte) (p >>> 24);
            }
        } else {
            for (int x = 0, j = 0; x < width; x++, j += 3) {
                int p = argb[offset + x];
                current[j] = (byte) (p >> 16);
                current[j + 1] = (byte) (p >> 8);
                current[j + 2] = (byte) p;
            }
        }
    }

    private void filterRow() {
        filtered[0] = (byte) filter.code;
        int n = current.length;
        int bpp = channels;
        switch (filter) {
            case NONE:
                System.arraycopy(current, 0, filtered, 1, n);
                break;
            case SUB:
                for (int i = 0; i < n; i++) {
                    int left = i >= bpp ? current[i - bpp] & 0xFF : 0;
                    filtered[i + 1] = (byte) (current[i] - left);
                }
                break;
            case UP:
                for (int i = 0; i < n; i++) {
                    filtered[i + 1] = (byte) (current[i] - previous[i]);
                }
                break;
            case AVERAGE:
                for (int i = 0; i < n; i++) {
                    int left = i >= bpp ? current[i - bpp] & 0xFF : 0;
                    filtered[i + 1] = (byte) (current[i] - ((left + (previous[i] & 0xFF)) >> 1));
                }
                break;
            case PAETH:
            default:
                for (int i = 0; i < n; i++) {
                    int a = i >= bpp ? current[i - bpp] & 0xFF : 0;
                    int b = previous[i] & 0xFF;
                    int c = i >= bpp ? previous[i - bpp] & 0xFF : 0;
                    filtered[i + 1] = (byte) (current[i] - paeth(a, b, c));
                }
                break;
        }
    }

    static int paeth(int a, int b, int c) {
        int p = a + b - c;
        int pa = Math.abs(p - a);
        int pb = Math.abs(p - b);
        int pc = Math.abs(p - c);
        if (pa <= pb && pa <= pc) {
            return a;
        }
        return pb <= pc ? b : c;
    }

    private void drain() throws IOException {
        while (!deflater.needsInput()) {
            fill();
        }
    }

    private void fill() throws IOException {
        int n = deflater.deflate(chunk, chunkFill, chunk.length - chunkFill);
        chunkFill += n;
        if (chunkFill == chunk.length) {
            flushIdat();
        }
    }

    private void flushIdat() throws IOException {
        if (chunkFill > 0) {
            writeChunk("IDAT", chunk, chunkFill);
            chunkFill = 0;
        }
    }

    private void writeChunk(String type, byte[] data, int length) throws IOException {
        byte[] header = new byte[8];
        putInt(header, 0, length);
        for (int i = 0; i < 4; i++) {
            header[4 + i] = (byte) type.charAt(i);
        }
        CRC32 crc = new CRC32();
        crc.update(header, 4, 4);
        crc.update(data, 0, length);
        out.write(header);
        out.write(data, 0, length);
        byte[] tail = new byte[4];
        putInt(tail, 0, (int) crc.getValue());
        out.write(tail);
    }

    private static void putInt(byte[] b, int at, int v) {
        b[at] = (byte) (v >>> 24);
        b[at + 1] = (byte) (v >>> 16);
        b[at + 2] = (byte) (v >>> 8);
        b[at + 3] = (byte) v;
    }
}

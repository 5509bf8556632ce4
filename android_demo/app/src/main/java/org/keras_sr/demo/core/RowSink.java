package org.keras_sr.demo.core;

import java.io.IOException;

/**
 * Receives an image top to bottom, a band of complete rows at a time. This is how a result is
 * written without ever holding all of it: {@link SrPipeline#runBands} hands over each row of
 * tiles as soon as it is finished, and {@link PngWriter} encodes and forgets it.
 */
public interface RowSink {
    /**
     * @param argb {@code rows} full rows of 0xAARRGGBB pixels, row-major from index 0 (the array
     *     may be longer and is reused by the caller after this returns)
     */
    void writeRows(int[] argb, int rows) throws IOException;
}

package org.keras_sr.demo.core;

/** A super-resolution network run on one window; implemented by the TFLite wrapper and by test stubs. */
public interface TileModel {
    /**
     * @param input uint8 pixels 0..255, NHWC {@code [1, height, width, colors]}, packed row-major
     * @param output receives uint8 {@code [1, height * scale, width * scale, colors]}
     */
    void run(byte[] input, int height, int width, byte[] output) throws Exception;
}

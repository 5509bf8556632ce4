package org.keras_sr.demo.core;

import java.nio.ByteBuffer;

/** .tflite-shaped files for tests outside this package (the Activity tests' custom models). */
public final class TestModels {
    /** keras_sr metadata as sr-tool tflite --int8 writes it: x2, RGB, radius 2. */
    public static final String X2_RGB = "{\"format\": \"keras_sr\", \"scale\": 2, \"colors\": 3, "
            + "\"receptive_radius\": 2, \"quantization\": \"int8\", \"input_dtype\": \"uint8\"}";

    private TestModels() {
    }

    /** A TFLite flatbuffer (identifier TFL3) carrying {@code json} as its keras_sr metadata. */
    public static byte[] withMetadata(String json) {
        return bytes(ModelMetadataTest.model(json, false, "min_runtime_version", ModelMetadata.ENTRY_NAME));
    }

    /** A TFLite flatbuffer with no keras_sr metadata (what a plain TFLite export gives). */
    public static byte[] withoutMetadata() {
        return bytes(ModelMetadataTest.model("{}", false, "min_runtime_version"));
    }

    private static byte[] bytes(ByteBuffer buf) {
        ByteBuffer b = buf.duplicate();
        b.rewind();
        byte[] out = new byte[b.remaining()];
        b.get(out);
        return out;
    }
}

package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.channels.FileChannel;
import org.junit.Assume;
import org.junit.Test;

/** Which user-supplied .tflite files are accepted, and what the screen says about the others. */
public class ModelContractTest {
    private static final String GOOD = "{\"format\": \"keras_sr\", \"scale\": 3, \"colors\": 3, "
            + "\"receptive_radius\": 6, \"quantization\": \"int8\", \"input_dtype\": \"uint8\"}";

    private static ByteBuffer withMetadata(String json) {
        return ModelMetadataTest.model(json, false, "min_runtime_version", ModelMetadata.ENTRY_NAME);
    }

    private static String refusal(ByteBuffer model) {
        try {
            ModelContract.check("my.tflite", model);
        } catch (ModelContract.Refused e) {
            return e.getMessage();
        }
        fail("my.tflite was accepted");
        return null;
    }

    private static String refusalFor(String field, String value) {
        String json = GOOD.replaceFirst("\"" + field + "\": [^,}]+", "\"" + field + "\": " + value);
        assertFalse("the test must change " + field, json.equals(GOOD));
        return refusal(withMetadata(json));
    }

    @Test
    public void acceptsAnInt8KerasSrModel() throws Exception {
        ModelMetadata meta = ModelContract.check("my.tflite", withMetadata(GOOD));
        assertEquals(3, meta.scale);
        assertEquals(3, meta.colors);
        assertEquals(6, meta.receptiveRadius);
    }

    @Test
    public void refusesFilesThatAreNotTflite() {
        ByteBuffer png = ByteBuffer.wrap(new byte[] {(byte) 0x89, 'P', 'N', 'G', 13, 10, 26, 10, 0, 0, 0, 0});
        String message = refusal(png);
        assertTrue(message, message.startsWith("my.tflite cannot be used: not a TFLite model"));
    }

    @Test
    public void refusesModelsWithoutMetadata() {
        String message = refusal(ModelMetadataTest.model(GOOD, false, "min_runtime_version"));
        assertTrue(message, message.contains("my.tflite has no keras_sr metadata"));
        assertTrue(message, message.contains("sr-tool tflite --int8"));
    }

    @Test
    public void refusesDamagedMetadataJson() {
        String message = refusal(withMetadata("{\"format\": \"keras_sr\", \"scale\": "));
        assertTrue(message, message.startsWith("my.tflite cannot be used: "));
    }

    @Test
    public void refusesUnsupportedValuesNamingTheField() {
        assertEquals("my.tflite cannot be used: scale must be an integer from 2 to 4, is 8.",
                refusalFor("scale", "8"));
        assertEquals("my.tflite cannot be used: scale must be an integer from 2 to 4, is 2.5.",
                refusalFor("scale", "2.5"));
        assertEquals("my.tflite cannot be used: scale must be an integer from 2 to 4, is \"2\".",
                refusalFor("scale", "\"2\""));
        assertEquals("my.tflite cannot be used: colors must be 1 (Y channel) or 3 (RGB), is 4.",
                refusalFor("colors", "4"));
        assertEquals("my.tflite cannot be used: receptive_radius must be an integer from 1 to 128, is 0.",
                refusalFor("receptive_radius", "0"));
        assertEquals("my.tflite cannot be used: its metadata format is \"other\", not \"keras_sr\".",
                refusalFor("format", "\"other\""));
    }

    @Test
    public void refusesMissingFields() {
        String message = refusal(withMetadata("{\"format\": \"keras_sr\", \"colors\": 1, \"receptive_radius\": 6, "
                + "\"quantization\": \"int8\"}"));
        assertEquals("my.tflite cannot be used: scale must be an integer from 2 to 4, is missing.", message);
    }

    @Test
    public void refusesFloatModels() {
        String message = refusalFor("quantization", "\"fp16\"");
        assertTrue(message, message.contains("it is a fp16 model; this app runs full-integer models only"));
    }

    /** The model the build packages (-Dkeras_sr.testModel) is what sr-tool exports: it must pass. */
    @Test
    public void acceptsTheRealExportedModel() throws Exception {
        String path = System.getProperty("keras_sr.testModel", "");
        Assume.assumeTrue("no -Dkeras_sr.testModel given", !path.isEmpty());
        RandomAccessFile file = new RandomAccessFile(new File(path), "r");
        try {
            ModelMetadata meta = ModelContract.check(new File(path).getName(),
                    file.getChannel().map(FileChannel.MapMode.READ_ONLY, 0, file.length()));
            assertTrue(meta.scale >= ModelContract.MIN_SCALE && meta.scale <= ModelContract.MAX_SCALE);
        } finally {
            file.close();
        }
    }
}

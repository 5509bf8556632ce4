package org.keras_sr.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertNotNull;
import static org.junit.Assert.assertNull;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.io.File;
import java.io.RandomAccessFile;
import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.MappedByteBuffer;
import java.nio.channels.FileChannel;
import java.nio.charset.Charset;
import java.util.List;
import java.util.Map;
import org.junit.Assume;
import org.junit.Test;

public class ModelMetadataTest {
    private static final Charset UTF8 = Charset.forName("UTF-8");
    static final String JSON = "{\"format\": \"keras_sr\", \"scale\": 2, \"colors\": 1, \"input_range\": [0, 255],"
            + " \"input_dtype\": \"uint8\", \"receptive_radius\": 6,"
            + " \"config\": {\"num_blocks\": 4, \"channels\": 16, \"act_type\": \"relu\", \"with_idt\": false},"
            + " \"version\": \"0.1.0\"}";

    /**
     * Lays out a flatbuffer front to back (children after parents, offsets patched in), which is
     * all these tests need: a Model table (fields 0 version, 4 buffers, 6 metadata), Buffer tables
     * and Metadata tables, per the TFLite schema.
     */
    static final class Builder {
        final ByteBuffer buf = ByteBuffer.allocate(1 << 16).order(ByteOrder.LITTLE_ENDIAN);

        Builder() {
            buf.position(8);
        }

        private void align(int n) {
            while (buf.position() % n != 0) {
                buf.put((byte) 0);
            }
        }

        /** A table whose fields {@code ids} are 4 bytes each (or 8 when listed in {@code wide}). */
        int table(int[] ids, int... wide) {
            int slots = 0;
            for (int id : ids) {
                slots = Math.max(slots, id + 1);
            }
            align(4);
            int vtable = buf.position();
            int[] fieldOffsets = new int[ids.length];
            int size = 4;
            for (int i = 0; i < ids.length; i++) {
                boolean isWide = false;
                for (int w : wide) {
                    isWide |= w == ids[i];
                }
                if (isWide && size % 8 != 0) {
                    size += 4;
                }
                fieldOffsets[i] = size;
                size += isWide ? 8 : 4;
            }
            buf.putShort((short) (4 + 2 * slots));
            buf.putShort((short) size);
            for (int s = 0; s < slots; s++) {
                int off = 0;
                for (int i = 0; i < ids.length; i++) {
                    if (ids[i] == s) {
                        off = fieldOffsets[i];
                    }
                }
                buf.putShort((short) off);
            }
            align(8);  // so that 8-byte fields, at 8-aligned offsets, are aligned
            int table = buf.position();
            buf.putInt(table - vtable);
            for (int i = 4; i < size; i++) {
                buf.put((byte) 0);
            }
            return table;
        }

        int vector(int count) {
            align(4);
            int v = buf.position();
            buf.putInt(count);
            for (int i = 0; i < count; i++) {
                buf.putInt(0);
            }
            return v;
        }

        int bytes(byte[] data) {
            align(4);
            int v = buf.position();
            buf.putInt(data.length);
            buf.put(data);
            buf.put((byte) 0);
            return v;
        }

        void offset(int at, int target) {
            assertTrue("uoffsets point forward", target > at);
            buf.putInt(at, target - at);
        }

        ByteBuffer finish(int root, String identifier) {
            buf.putInt(0, root);
            byte[] id = identifier.getBytes(UTF8);
            for (int i = 0; i < 4; i++) {
                buf.put(4 + i, id[i]);
            }
            buf.flip();
            ByteBuffer out = ByteBuffer.allocate(buf.limit());
            out.put(buf);
            out.flip();
            return out;  // big-endian by default, like a fresh mapped buffer
        }
    }

    /** A model with buffers [empty, "1.5.0", json] and metadata entries for each name given. */
    static ByteBuffer model(String json, boolean externalData, String... names) {
        Builder b = new Builder();
        int model = b.table(new int[] {0, 4, 6});
        b.buf.putInt(model + 4, 3);  // version
        int buffers = b.vector(3);
        b.offset(model + 8, buffers);
        int metadata = b.vector(names.length);
        b.offset(model + 12, metadata);
        int empty = b.table(new int[] {});
        b.offset(buffers + 4, empty);
        int runtime = b.table(new int[] {0});
        b.offset(buffers + 8, runtime);
        b.offset(runtime + 4, b.bytes("1.5.0".getBytes(UTF8)));
        int jsonBuffer;
        int dataOffsetField = 0;
        if (externalData) {
            jsonBuffer = b.table(new int[] {1, 2}, 1, 2);
            dataOffsetField = jsonBuffer + 8;
            b.buf.putLong(jsonBuffer + 16, json.getBytes(UTF8).length);
        } else {
            jsonBuffer = b.table(new int[] {0});
            b.offset(jsonBuffer + 4, b.bytes(json.getBytes(UTF8)));
        }
        b.offset(buffers + 12, jsonBuffer);
        for (int i = 0; i < names.length; i++) {
            int entry = b.table(new int[] {0, 1});
            b.offset(metadata + 4 + 4 * i, entry);
            b.buf.putInt(entry + 8, names[i].equals(ModelMetadata.ENTRY_NAME) ? 2 : 1);
            b.offset(entry + 4, b.bytes(names[i].getBytes(UTF8)));
        }
        if (externalData) {
            // Large models keep buffer data after the flatbuffer, addressed from the file start.
            b.buf.putLong(dataOffsetField, b.buf.position());
            b.buf.put(json.getBytes(UTF8));
        }
        return b.finish(model, "TFL3");
    }

    @Test
    public void readsTheKerasSrEntry() {
        ByteBuffer buf = model(JSON, false, "min_runtime_version", "keras_sr");
        buf.position(3);
        ModelMetadata meta = ModelMetadata.read(buf);
        assertNotNull(meta);
        assertEquals(2, meta.scale);
        assertEquals(1, meta.colors);
        assertEquals(6, meta.receptiveRadius);
        assertEquals("keras_sr", meta.format);
        assertEquals("0.1.0", meta.version);
        assertArrayEquals(new int[] {0, 255}, meta.intList("input_range"));
        assertEquals(16.0, ((Map<?, ?>) meta.fields.get("config")).get("channels"));
        assertEquals("position untouched", 3, buf.position());
        assertEquals("byte order untouched", ByteOrder.BIG_ENDIAN, buf.order());
    }

    @Test
    public void readsExternallyStoredBufferData() {
        ModelMetadata meta = ModelMetadata.read(model(JSON, true, "keras_sr"));
        assertNotNull(meta);
        assertEquals(6, meta.receptiveRadius);
    }

    @Test
    public void missingEntryGivesNull() {
        assertNull(ModelMetadata.read(model(JSON, false, "min_runtime_version")));
        assertNull(ModelMetadata.read(model(JSON, false)));
    }

    @Test
    public void missingFieldsGetDefaults() {
        ModelMetadata meta = ModelMetadata.read(model("{\"format\": \"keras_sr\"}", false, "keras_sr"));
        assertEquals(0, meta.scale);
        assertEquals(0, meta.colors);
        assertEquals(ModelMetadata.DEFAULT_RECEPTIVE_RADIUS, meta.receptiveRadius);
        assertNull(meta.intList("input_range"));
    }

    @Test
    public void rejectsNonTflite() {
        try {
            ModelMetadata.read(model(JSON, false, "keras_sr").put(4, (byte) 'X'));
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("TFL3"));
        }
    }

    @Test
    public void corruptOffsetsFailCleanly() {
        ByteBuffer buf = model(JSON, false, "keras_sr");
        ByteBuffer truncated = ByteBuffer.allocate(buf.limit() / 2);
        for (int i = 0; i < truncated.limit(); i++) {
            truncated.put(i, buf.get(i));
        }
        try {
            ModelMetadata.read(truncated);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage(), expected.getMessage().contains("corrupt"));
        }
    }

    @Test
    public void jsonParsesNestedValuesAndEscapes() {
        Object v = Json.parse(" {\"a\": [1, -2.5e1, true, null, \"x\\\"\\u00e9\\n\"], \"b\": {}} ");
        Map<?, ?> m = (Map<?, ?>) v;
        List<?> a = (List<?>) m.get("a");
        assertEquals(1.0, a.get(0));
        assertEquals(-25.0, a.get(1));
        assertEquals(Boolean.TRUE, a.get(2));
        assertNull(a.get(3));
        assertEquals("x\"\u00e9\n", a.get(4));
        assertTrue(((Map<?, ?>) m.get("b")).isEmpty());
        for (String bad : new String[] {"{", "{\"a\" 1}", "[1,]", "\"open", "{} x", "tru"}) {
            try {
                Json.parse(bad);
                fail("accepted " + bad);
            } catch (IllegalArgumentException expected) {
                assertTrue(expected.getMessage().startsWith("JSON"));
            }
        }
    }

    @Test
    public void specFromMetadata() {
        ModelMetadata meta = ModelMetadata.parse(JSON);
        ModelSpec spec = ModelSpec.resolve(meta, new int[] {1, -1, -1, 1}, 0, 0, 256);
        assertEquals(2, spec.scale);
        assertEquals(1, spec.colors);
        assertEquals(6, spec.halo);
        assertEquals(256, spec.tileHeight);
        assertFalse(spec.fixedSize);
        assertTrue(spec.fromMetadata);
    }

    @Test
    public void specInferredWithoutMetadata() {
        ModelSpec spec = ModelSpec.resolve(null, new int[] {1, 64, 48, 3}, 64, 192, 256);
        assertEquals(3, spec.scale);
        assertEquals(3, spec.colors);
        assertEquals(ModelMetadata.DEFAULT_RECEPTIVE_RADIUS, spec.halo);
        assertEquals(64, spec.tileHeight);
        assertEquals(48, spec.tileWidth);
        assertTrue(spec.fixedSize);
        assertFalse(spec.fromMetadata);
    }

    @Test
    public void specRejectsTooSmallFixedInputs() {
        try {
            ModelSpec.resolve(ModelMetadata.parse(JSON), new int[] {1, 12, 12, 1}, 0, 0, 256);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("too small"));
        }
    }

    /** Runs when the build passes a real model: -Dkeras_sr.testModel=path/to/model.tflite. */
    @Test
    public void readsARealTfliteFile() throws Exception {
        String path = System.getProperty("keras_sr.testModel", "");
        Assume.assumeTrue("no -Dkeras_sr.testModel given", !path.isEmpty());
        RandomAccessFile file = new RandomAccessFile(new File(path), "r");
        try {
            MappedByteBuffer mapped = file.getChannel().map(FileChannel.MapMode.READ_ONLY, 0, file.length());
            ModelMetadata meta = ModelMetadata.read(mapped);
            assertNotNull("no keras_sr metadata in " + path, meta);
            assertEquals("keras_sr", meta.format);
            assertTrue(meta.scale >= 1);
            assertTrue(meta.colors == 1 || meta.colors == 3);
            assertTrue(meta.receptiveRadius >= 1);
        } finally {
            file.close();
        }
    }
}

package org.keras_sr.demo.core;

import java.nio.ByteBuffer;
import java.nio.ByteOrder;
import java.nio.charset.Charset;
import java.util.List;
import java.util.Map;

/**
 * The "keras_sr" metadata entry of a .tflite file, read straight from the flatbuffer.
 *
 * <p>TFLite schema: {@code Model.buffers} is field 4 (vector of {@code Buffer} tables whose field 0
 * is {@code data: [ubyte]}, or fields 1/2 {@code offset}/{@code size} for data stored after the
 * flatbuffer), {@code Model.metadata} is field 6 (vector of {@code Metadata} tables:
 * {@code name: string} field 0, {@code buffer: uint} field 1). The entry's buffer holds UTF-8 JSON
 * such as {@code {"format": "keras_sr", "scale": 2, "colors": 1, "receptive_radius": 6, ...}}.
 */
public final class ModelMetadata {
    /** Name of the metadata entry written by {@code sr-tool tflite}. */
    public static final String ENTRY_NAME = "keras_sr";
    /** Used when the metadata does not say (the largest network the tool builds). */
    public static final int DEFAULT_RECEPTIVE_RADIUS = 16;

    static final String FILE_IDENTIFIER = "TFL3";
    static final int MODEL_BUFFERS = 4;
    static final int MODEL_METADATA = 6;
    static final int METADATA_NAME = 0;
    static final int METADATA_BUFFER = 1;
    static final int BUFFER_DATA = 0;
    static final int BUFFER_OFFSET = 1;
    static final int BUFFER_SIZE = 2;

    private static final Charset UTF8 = Charset.forName("UTF-8");
    private static final int IDENTIFIER_POSITION = 4;
    private static final int VTABLE_HEADER_BYTES = 4;
    private static final int VOFFSET_BYTES = 2;
    private static final int UOFFSET_BYTES = 4;
    private static final long UINT_MASK = 0xFFFFFFFFL;
    private static final int USHORT_MASK = 0xFFFF;

    /** Upscaling factor, or 0 when the metadata does not give it. */
    public final int scale;
    /** 1 (Y channel) or 3 (RGB), or 0 when not given. */
    public final int colors;
    /** Number of 3x3 convolutions, i.e. the halo tiles need; {@link #DEFAULT_RECEPTIVE_RADIUS} if not given. */
    public final int receptiveRadius;
    public final String format;
    public final String version;
    /** The whole parsed JSON object. */
    public final Map<String, Object> fields;

    private ModelMetadata(Map<String, Object> fields) {
        this.fields = fields;
        this.scale = intField(fields, "scale", 0);
        this.colors = intField(fields, "colors", 0);
        this.receptiveRadius = intField(fields, "receptive_radius", DEFAULT_RECEPTIVE_RADIUS);
        this.format = stringField(fields, "format");
        this.version = stringField(fields, "version");
    }

    /** Parses the metadata JSON text. */
    @SuppressWarnings("unchecked")
    public static ModelMetadata parse(String json) {
        Object value = Json.parse(json);
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException("keras_sr metadata is not a JSON object");
        }
        return new ModelMetadata((Map<String, Object>) value);
    }

    /**
     * Reads the metadata of a .tflite model held in {@code model} (e.g. a memory-mapped asset).
     * The buffer's position, limit and byte order are left untouched.
     *
     * @return the metadata, or null when the model has no "keras_sr" entry
     * @throws IllegalArgumentException if the bytes are not a TFLite flatbuffer or the JSON is bad
     */
    public static ModelMetadata read(ByteBuffer model) {
        String json = findJson(model);
        return json == null ? null : parse(json);
    }

    /** The raw JSON text of the "keras_sr" entry, or null. */
    public static String findJson(ByteBuffer model) {
        Reader r = new Reader(model);
        r.checkIdentifier();
        int root = r.indirect(0);
        int metadata = r.field(root, MODEL_METADATA);
        if (metadata == 0) {
            return null;
        }
        int vector = r.indirect(metadata);
        int count = r.length(vector);
        for (int i = 0; i < count; i++) {
            int entry = r.indirect(vector + UOFFSET_BYTES + i * UOFFSET_BYTES);
            int nameField = r.field(entry, METADATA_NAME);
            if (nameField == 0 || !ENTRY_NAME.equals(r.string(r.indirect(nameField)))) {
                continue;
            }
            int bufferField = r.field(entry, METADATA_BUFFER);
            long bufferIndex = bufferField == 0 ? 0 : r.uint(bufferField);
            return new String(r.bufferData(root, bufferIndex), UTF8);
        }
        return null;
    }

    private static int intField(Map<String, Object> fields, String key, int fallback) {
        Object v = fields.get(key);
        return v instanceof Number ? ((Number) v).intValue() : fallback;
    }

    private static String stringField(Map<String, Object> fields, String key) {
        Object v = fields.get(key);
        return v instanceof String ? (String) v : null;
    }

    /** The list under {@code key} as ints, or null (e.g. "input_range"). */
    public int[] intList(String key) {
        Object v = fields.get(key);
        if (!(v instanceof List)) {
            return null;
        }
        List<?> list = (List<?>) v;
        int[] out = new int[list.size()];
        for (int i = 0; i < out.length; i++) {
            out[i] = ((Number) list.get(i)).intValue();
        }
        return out;
    }

    /** Bounds-checked little-endian flatbuffer access with absolute positions. */
    private static final class Reader {
        private final ByteBuffer buf;

        Reader(ByteBuffer model) {
            buf = model.duplicate().order(ByteOrder.LITTLE_ENDIAN);
            buf.position(0);
        }

        void checkIdentifier() {
            byte[] id = bytes(IDENTIFIER_POSITION, FILE_IDENTIFIER.length());
            if (!FILE_IDENTIFIER.equals(new String(id, UTF8))) {
                throw new IllegalArgumentException("not a TFLite model (no TFL3 identifier)");
            }
        }

        private void check(long pos, long size) {
            if (pos < 0 || size < 0 || pos + size > buf.limit()) {
                throw new IllegalArgumentException("corrupt flatbuffer: offset " + pos + " out of range");
            }
        }

        int int32(int pos) {
            check(pos, 4);
            return buf.getInt(pos);
        }

        long uint(int pos) {
            return int32(pos) & UINT_MASK;
        }

        long uint64(int pos) {
            check(pos, 8);
            return buf.getLong(pos);
        }

        /** Follows the uoffset stored at {@code pos}. */
        int indirect(int pos) {
            long target = pos + uint(pos);
            check(target, 0);
            return (int) target;
        }

        /** Position of field {@code id} of the table at {@code table}, or 0 if absent. */
        int field(int table, int id) {
            int vtable = table - int32(table);
            check(vtable, VTABLE_HEADER_BYTES);
            int vtableSize = buf.getShort(vtable) & USHORT_MASK;
            int slot = VTABLE_HEADER_BYTES + id * VOFFSET_BYTES;
            if (slot + VOFFSET_BYTES > vtableSize) {
                return 0;
            }
            check(vtable + slot, VOFFSET_BYTES);
            int offset = buf.getShort(vtable + slot) & USHORT_MASK;
            return offset == 0 ? 0 : table + offset;
        }

        int length(int vector) {
            long n = uint(vector);
            check(vector + UOFFSET_BYTES, n);
            return (int) n;
        }

        String string(int pos) {
            return new String(bytes(pos + UOFFSET_BYTES, length(pos)), UTF8);
        }

        byte[] bytes(long pos, long count) {
            check(pos, count);
            byte[] out = new byte[(int) count];
            for (int i = 0; i < out.length; i++) {
                out[i] = buf.get((int) pos + i);
            }
            return out;
        }

        byte[] bufferData(int root, long index) {
            int buffersField = field(root, MODEL_BUFFERS);
            if (buffersField == 0) {
                throw new IllegalArgumentException("corrupt model: metadata without buffers");
            }
            int vector = indirect(buffersField);
            if (index >= length(vector)) {
                throw new IllegalArgumentException("corrupt model: metadata buffer " + index + " missing");
            }
            int buffer = indirect(vector + UOFFSET_BYTES + (int) index * UOFFSET_BYTES);
            int data = field(buffer, BUFFER_DATA);
            if (data != 0) {
                int vec = indirect(data);
                return bytes(vec + UOFFSET_BYTES, length(vec));
            }
            int offset = field(buffer, BUFFER_OFFSET);
            int size = field(buffer, BUFFER_SIZE);
            if (offset != 0 && size != 0) {
                return bytes(uint64(offset), uint64(size));
            }
            return new byte[0];
        }
    }
}

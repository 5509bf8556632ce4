package org.keras_sr.demo.core;

import java.nio.ByteBuffer;
import java.util.Locale;

/**
 * Decides whether a user-supplied .tflite can run in this app, and if not, says why in words a
 * user can act on. The bundled model is trusted (and may lack metadata: scale and colors are then
 * inferred); a model loaded from storage must carry the {@code keras_sr} metadata that
 * {@code sr-tool tflite --int8} writes, because without it the tiling halo is a guess and the
 * stitched result could show seams.
 *
 * <p>The accepted values are those {@code keras_sr.runtime.read_metadata} accepts
 * ({@code METADATA_FIELDS}: scale 2-4, colors 1 or 3, receptive_radius 1-128), plus what this
 * app's int8 pipeline needs: uint8 input ({@code quantization} "int8").
 */
public final class ModelContract {
    public static final int MIN_SCALE = 2;
    public static final int MAX_SCALE = 4;
    public static final int MAX_RECEPTIVE_RADIUS = 128;
    static final String QUANTIZATION_INT8 = "int8";
    private static final String EXPORT_HINT = "export it with sr-tool tflite --int8";

    private ModelContract() {
    }

    /** Thrown with a message meant for the screen. */
    public static final class Refused extends Exception {
        Refused(String message) {
            super(message);
        }
    }

    /**
     * Reads and checks the metadata of the model in {@code model} (position and order untouched).
     *
     * @param name the file's display name, used in the messages
     * @return the metadata, every field the app uses valid
     * @throws Refused when the file is not a TFLite model, has no or damaged keras_sr metadata, or
     *     values this app cannot run
     */
    public static ModelMetadata check(String name, ByteBuffer model) throws Refused {
        ModelMetadata meta;
        try {
            meta = ModelMetadata.read(model);
        } catch (IllegalArgumentException e) {
            // ModelMetadata says "not a TFLite model" or "corrupt flatbuffer: ..."; both are the file's fault.
            throw new Refused(name + " cannot be used: " + e.getMessage() + ".");
        }
        if (meta == null) {
            throw new Refused(name + " has no keras_sr metadata, so its scale and receptive radius are unknown; "
                    + EXPORT_HINT + ".");
        }
        String problem = problem(meta);
        if (problem != null) {
            throw new Refused(name + " cannot be used: " + problem + ".");
        }
        return meta;
    }

    /** What is wrong with {@code meta} for this app, or null when it can run. */
    static String problem(ModelMetadata meta) {
        if (!ModelMetadata.ENTRY_NAME.equals(meta.format)) {
            return "its metadata format is " + quoted(meta.fields.get("format")) + ", not \"keras_sr\"";
        }
        String bad = integerIn(meta, "scale", MIN_SCALE, MAX_SCALE);
        if (bad == null) {
            Object colors = meta.fields.get("colors");
            if (!isInteger(colors) || (meta.colors != 1 && meta.colors != 3)) {
                bad = "colors must be 1 (Y channel) or 3 (RGB), is " + quoted(colors);
            }
        }
        if (bad == null) {
            bad = integerIn(meta, "receptive_radius", 1, MAX_RECEPTIVE_RADIUS);
        }
        if (bad != null) {
            return bad;
        }
        Object quantization = meta.fields.get("quantization");
        if (!QUANTIZATION_INT8.equals(quantization)) {
            return "it is a " + (quantization instanceof String ? (String) quantization : "non-int8")
                    + " model; this app runs full-integer models only (" + EXPORT_HINT + ")";
        }
        return null;
    }

    private static String integerIn(ModelMetadata meta, String key, int min, int max) {
        Object v = meta.fields.get(key);
        if (!isInteger(v) || ((Number) v).doubleValue() < min || ((Number) v).doubleValue() > max) {
            return String.format(Locale.US, "%s must be an integer from %d to %d, is %s", key, min, max, quoted(v));
        }
        return null;
    }

    /** Json reads every number as a Double; 2.0 is an integer, 2.5 and "2" are not. */
    private static boolean isInteger(Object v) {
        if (!(v instanceof Number)) {
            return false;
        }
        double d = ((Number) v).doubleValue();
        return d == Math.rint(d) && !Double.isInfinite(d);
    }

    private static String quoted(Object v) {
        if (v == null) {
            return "missing";
        }
        if (v instanceof String) {
            return "\"" + v + "\"";
        }
        if (isInteger(v)) {
            return Long.toString(((Number) v).longValue());
        }
        return String.valueOf(v);
    }
}

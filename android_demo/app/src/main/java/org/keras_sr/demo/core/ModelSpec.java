package org.keras_sr.demo.core;

/**
 * What the app needs to know to tile and run a model: scale, colors, halo and window size.
 * Taken from the "keras_sr" metadata when present, otherwise inferred from tensor shapes.
 */
public final class ModelSpec {
    /** Window size (LR pixels) for models with a dynamic input size. */
    public static final int DEFAULT_TILE = 256;
    private static final int RANK = 4;
    private static final int HEIGHT_DIM = 1;
    private static final int WIDTH_DIM = 2;
    private static final int CHANNEL_DIM = 3;

    public final int scale;
    public final int colors;
    /** Receptive radius in LR pixels (the tiling halo). */
    public final int halo;
    public final int tileHeight;
    public final int tileWidth;
    /** True when the model was exported with a fixed input size; smaller windows are edge-padded to it. */
    public final boolean fixedSize;
    /** True when scale/colors/halo came from the metadata rather than inferred. */
    public final boolean fromMetadata;

    public ModelSpec(int scale, int colors, int halo, int tileHeight, int tileWidth, boolean fixedSize,
            boolean fromMetadata) {
        if (scale < 1) {
            throw new IllegalArgumentException("bad scale " + scale);
        }
        if (colors != 1 && colors != 3) {
            throw new IllegalArgumentException("model must have 1 (Y) or 3 (RGB) channels, has " + colors);
        }
        if (tileHeight <= 2 * halo || tileWidth <= 2 * halo) {
            throw new IllegalArgumentException("input size " + tileHeight + "x" + tileWidth
                    + " is too small for receptive radius " + halo + " (needs more than " + 2 * halo + ")");
        }
        this.scale = scale;
        this.colors = colors;
        this.halo = halo;
        this.tileHeight = tileHeight;
        this.tileWidth = tileWidth;
        this.fixedSize = fixedSize;
        this.fromMetadata = fromMetadata;
    }

    /**
     * @param meta parsed metadata, or null
     * @param inputSignature the input's shape signature (-1 for dynamic dimensions), NHWC
     * @param probeIn input height used to probe the output shape (only read without metadata)
     * @param probeOutHeight output height for that input height (only read without metadata)
     * @param dynamicTile window size to use for dynamic inputs
     */
    public static ModelSpec resolve(ModelMetadata meta, int[] inputSignature, int probeIn, int probeOutHeight,
            int dynamicTile) {
        if (inputSignature.length != RANK) {
            throw new IllegalArgumentException("model input must be NHWC (rank 4), has rank " + inputSignature.length);
        }
        int colors = meta != null && meta.colors > 0 ? meta.colors : inputSignature[CHANNEL_DIM];
        int scale;
        if (meta != null && meta.scale > 0) {
            scale = meta.scale;
        } else {
            if (probeIn <= 0 || probeOutHeight % probeIn != 0) {
                throw new IllegalArgumentException("cannot infer the scale from output height "
                        + probeOutHeight + " for input height " + probeIn);
            }
            scale = probeOutHeight / probeIn;
        }
        int halo = meta != null ? meta.receptiveRadius : ModelMetadata.DEFAULT_RECEPTIVE_RADIUS;
        int h = inputSignature[HEIGHT_DIM];
        int w = inputSignature[WIDTH_DIM];
        boolean fixed = h > 0 && w > 0;
        return new ModelSpec(scale, colors, halo, fixed ? h : dynamicTile, fixed ? w : dynamicTile, fixed,
                meta != null);
    }

    @Override
    public String toString() {
        return "x" + scale + ", " + (colors == 1 ? "Y channel" : "RGB") + ", halo " + halo + ", tiles "
                + tileHeight + "x" + tileWidth + (fixedSize ? " (fixed input)" : "")
                + (fromMetadata ? "" : " [no keras_sr metadata: inferred]");
    }
}

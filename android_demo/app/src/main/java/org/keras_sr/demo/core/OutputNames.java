package org.keras_sr.demo.core;

import java.util.HashSet;
import java.util.Locale;
import java.util.Set;

/**
 * File names for results: "IMG_1234.HEIC" at x2 becomes "IMG_1234_x2", and within one batch no
 * two results get the same name (two pictures called "image.jpg" from different folders become
 * "image_x2" and "image_x2_2"), so the summary names each saved file unambiguously. The gallery
 * itself also avoids clobbering ({@code GalleryStore}), which covers names taken by earlier runs.
 */
public final class OutputNames {
    /** The name used when the display name has nothing usable left. */
    static final String FALLBACK = "image";
    private final Set<String> used = new HashSet<>();

    /**
     * The result's base name (no extension): the display name without its extension, characters
     * that file systems or MediaStore refuse replaced by '_', then "_x" and the scale.
     */
    public static String baseName(String displayName, int scale) {
        String base = displayName == null ? "" : displayName.trim();
        base = base.replaceAll("\\.[A-Za-z0-9]{1,5}$", "").replaceAll("[\\\\/:*?\"<>|\\x00-\\x1f]", "_");
        if (base.isEmpty() || base.matches("\\.+")) {
            base = FALLBACK;
        }
        return base + "_x" + scale;
    }

    /**
     * {@code base} if this object has not handed it out yet, else {@code base_2}, {@code base_3}...
     * Names differing only in case count as the same (FAT/exFAT SD cards and some providers
     * ignore case).
     */
    public String claim(String base) {
        String name = base;
        for (int i = 2; !used.add(name.toLowerCase(Locale.ROOT)); i++) {
            name = base + "_" + i;
        }
        return name;
    }
}

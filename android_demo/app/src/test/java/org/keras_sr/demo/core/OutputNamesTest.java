package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class OutputNamesTest {
    @Test
    public void baseNameDropsTheExtensionAndAddsTheScale() {
        assertEquals("IMG_1234_x2", OutputNames.baseName("IMG_1234.HEIC", 2));
        assertEquals("holiday.2023_x4", OutputNames.baseName("holiday.2023.jpeg", 4));
        assertEquals("a_b_c_x3", OutputNames.baseName("a/b:c.png", 3));
        assertEquals("noext_x2", OutputNames.baseName("noext", 2));
    }

    @Test
    public void emptyOrMissingNamesFallBack() {
        assertEquals("image_x2", OutputNames.baseName("", 2));
        assertEquals("image_x2", OutputNames.baseName(null, 2));
        assertEquals("image_x2", OutputNames.baseName(".png", 2));
        assertEquals("image_x2", OutputNames.baseName("..", 2));
    }

    @Test
    public void claimNumbersRepeatsIgnoringCase() {
        OutputNames names = new OutputNames();
        assertEquals("image_x2", names.claim("image_x2"));
        assertEquals("other_x2", names.claim("other_x2"));
        assertEquals("image_x2_2", names.claim("image_x2"));
        assertEquals("IMAGE_x2_3", names.claim("IMAGE_x2"));
        // A later picture literally called "image_x2_2" must not collide with the generated one.
        assertEquals("image_x2_2_2", names.claim("image_x2_2"));
    }
}

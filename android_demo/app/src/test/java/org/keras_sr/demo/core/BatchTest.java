package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertFalse;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.Arrays;
import java.util.Collections;
import org.junit.Test;

public class BatchTest {
    @Test
    public void walksTheItemsInOrderWithUniqueNames() {
        Batch<String> batch = new Batch<>(Arrays.asList("content://a", "content://b", "content://c"));
        assertEquals("content://a", batch.next());
        assertEquals("Image 1 of 3: ", batch.progressPrefix());
        assertEquals("IMG_1_x2", batch.claimName("IMG_1_x2"));
        batch.saved("IMG_1_x2.png");
        assertEquals("content://b", batch.next());
        assertEquals("IMG_1_x2_2", batch.claimName("IMG_1_x2"));
        batch.saved("IMG_1_x2_2.png");
        assertEquals("content://c", batch.next());
        batch.failed("anim.gif", "Cannot open the image: unsupported");
        assertFalse(batch.hasNext());
        assertEquals(2, batch.savedCount());
        assertEquals(1, batch.failedCount());
        assertEquals("Batch done: 2 of 3 saved to Pictures/KerasSR (IMG_1_x2.png, IMG_1_x2_2.png).\n"
                + "Failed: anim.gif: Cannot open the image: unsupported", batch.summary("KerasSR"));
    }

    @Test
    public void unfinishedIsTheCurrentItemAndTheRest() {
        Batch<String> batch = new Batch<>(Arrays.asList("a", "b", "c"));
        assertEquals("nothing started: all of them", Arrays.asList("a", "b", "c"), batch.unfinished());
        batch.next();
        assertEquals("a in progress", Arrays.asList("a", "b", "c"), batch.unfinished());
        batch.saved("a_x2.png");
        batch.next();
        assertEquals(Arrays.asList("b", "c"), batch.unfinished());
        batch.next();
        assertEquals(Collections.singletonList("c"), batch.unfinished());
    }

    @Test
    public void cancelStopsAndCountsTheRestAsNotProcessed() {
        Batch<Integer> batch = new Batch<>(Arrays.asList(1, 2, 3, 4));
        batch.next();
        batch.saved("a_x2.png");
        batch.next();
        batch.cancel();
        assertTrue(batch.cancelled());
        assertFalse(batch.hasNext());
        assertEquals("Batch cancelled: 1 of 4 saved to Pictures/X (a_x2.png). 3 not processed.", batch.summary("X"));
        try {
            batch.next();
            fail("next() after cancel");
        } catch (IllegalStateException expected) {
            assertTrue(expected.getMessage().contains("finished"));
        }
    }

    @Test
    public void nothingSaved() {
        Batch<Integer> batch = new Batch<>(Arrays.asList(1, 2));
        batch.next();
        batch.failed("a.jpg", "too big");
        batch.next();
        batch.failed("b.jpg", "too big");
        assertEquals("Batch done: 0 of 2 saved to Pictures/X.\nFailed: a.jpg: too big\nFailed: b.jpg: too big",
                batch.summary("X"));
    }

    @Test(expected = IllegalArgumentException.class)
    public void emptyBatchIsABug() {
        new Batch<>(Collections.<String>emptyList());
    }
}

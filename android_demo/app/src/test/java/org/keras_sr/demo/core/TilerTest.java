package org.keras_sr.demo.core;

import static org.junit.Assert.assertEquals;
import static org.junit.Assert.assertTrue;
import static org.junit.Assert.fail;

import java.util.List;
import org.junit.Test;

public class TilerTest {

    @Test
    public void shortAxisIsOneWindow() {
        List<Tiler.Span> spans = Tiler.spans(7, 8, 2);
        assertEquals(1, spans.size());
        Tiler.Span s = spans.get(0);
        assertEquals(0, s.start);
        assertEquals(7, s.size);
        assertEquals(0, s.keepStart);
        assertEquals(7, s.keepEnd);
    }

    @Test
    public void handWorkedExample() {
        // L=10, T=6, R=1: step 4, n = 1 + ceil(4/4) = 2, p = {0, 4}, keep [0,5) and [5,10).
        List<Tiler.Span> spans = Tiler.spans(10, 6, 1);
        assertEquals(2, spans.size());
        assertEquals(0, spans.get(0).start);
        assertEquals(5, spans.get(0).keepEnd);
        assertEquals(4, spans.get(1).start);
        assertEquals(5, spans.get(1).keepStart);
        assertEquals(10, spans.get(1).keepEnd);
    }

    @Test
    public void lastWindowIsFlushWithTheEnd() {
        // L=23, T=8, R=2: step 4, n = 1 + ceil(15/4) = 5, p = {0,4,8,12,15}.
        List<Tiler.Span> spans = Tiler.spans(23, 8, 2);
        int[] starts = {0, 4, 8, 12, 15};
        assertEquals(starts.length, spans.size());
        for (int i = 0; i < starts.length; i++) {
            assertEquals(starts[i], spans.get(i).start);
        }
    }

    @Test
    public void keptRangesPartitionTheAxisAndStayAwayFromInnerEdges() {
        for (int length = 1; length <= 80; length++) {
            for (int halo = 0; halo <= 4; halo++) {
                for (int tile = 2 * halo + 1; tile <= 2 * halo + 12; tile++) {
                    List<Tiler.Span> spans = Tiler.spans(length, tile, halo);
                    int expected = length <= tile ? 1 : 1 + Tiler.ceilDiv(length - tile, tile - 2 * halo);
                    assertEquals(expected, spans.size());
                    int next = 0;
                    for (Tiler.Span s : spans) {
                        assertEquals("contiguous", next, s.keepStart);
                        assertTrue("non-empty", s.keepEnd > s.keepStart);
                        assertTrue(s.start >= 0 && s.start + s.size <= length);
                        assertEquals(Math.min(tile, length), s.size);
                        assertTrue(s.keepStart >= s.start && s.keepEnd <= s.start + s.size);
                        if (s.start > 0) {
                            assertTrue("left halo", s.keepStart - s.start >= halo);
                        }
                        if (s.start + s.size < length) {
                            assertTrue("right halo", s.start + s.size - s.keepEnd >= halo);
                        }
                        next = s.keepEnd;
                    }
                    assertEquals(length, next);
                }
            }
        }
    }

    @Test
    public void tileMustExceedTwiceTheHalo() {
        try {
            Tiler.spans(100, 8, 4);
            fail("expected IllegalArgumentException");
        } catch (IllegalArgumentException expected) {
            assertTrue(expected.getMessage().contains("twice the receptive radius"));
        }
    }
}

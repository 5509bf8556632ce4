package org.keras_sr.demo.core;

import static org.junit.Assert.assertArrayEquals;
import static org.junit.Assert.assertEquals;

import org.junit.Test;

public class Uint8Test {

    @Test
    public void roundClipIsHalfAwayFromZeroAndClipped() {
        assertEquals(0, Uint8.roundClip(-3.7));
        assertEquals(0, Uint8.roundClip(Double.NaN));
        assertEquals(1, Uint8.roundClip(0.5));
        assertEquals(3, Uint8.roundClip(2.5));   // numpy's np.round would give 2
        assertEquals(2, Uint8.roundClip(2.4999));
        assertEquals(255, Uint8.roundClip(254.5));
        assertEquals(255, Uint8.roundClip(1e9));
    }

    @Test
    public void argbRgbRoundTrip() {
        int[] argb = {0xFF000000, 0xFFFFFFFF, 0x80123456, 0xFFA0B0C0};
        byte[] rgb = new byte[12];
        Uint8.argbToRgb(argb, 4, rgb);
        assertArrayEquals(new byte[] {0, 0, 0, (byte) 255, (byte) 255, (byte) 255, 0x12, 0x34, 0x56,
            (byte) 0xA0, (byte) 0xB0, (byte) 0xC0}, rgb);
        int[] back = new int[4];
        Uint8.rgbToArgb(rgb, 4, back);
        // Alpha is dropped: everything comes back opaque.
        assertArrayEquals(new int[] {0xFF000000, 0xFFFFFFFF, 0xFF123456, 0xFFA0B0C0}, back);
    }

    @Test
    public void unsignedValues() {
        assertEquals(255, Uint8.value((byte) -1));
        assertEquals(128, Uint8.value((byte) 0x80));
        assertEquals(0x12, Uint8.red(0xFF123456));
        assertEquals(0x34, Uint8.green(0xFF123456));
        assertEquals(0x56, Uint8.blue(0xFF123456));
    }

    @Test
    public void lumaIsRoundedMatlabY() {
        // Y of (12, 200, 77) is 127.446... and of (255, 0, 0) 81.481 (numpy, see YCbCrTest).
        int[] argb = {Uint8.argb(12, 200, 77), Uint8.argb(255, 0, 0), Uint8.argb(0, 0, 0), Uint8.argb(255, 255, 255)};
        byte[] y = new byte[4];
        Uint8.argbToY(argb, 4, y);
        assertEquals(127, Uint8.value(y[0]));
        assertEquals(81, Uint8.value(y[1]));
        assertEquals(16, Uint8.value(y[2]));
        assertEquals(235, Uint8.value(y[3]));
    }
}

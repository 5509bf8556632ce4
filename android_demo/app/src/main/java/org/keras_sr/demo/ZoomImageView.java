package org.keras_sr.demo;

import android.content.Context;
import android.graphics.Bitmap;
import android.graphics.Matrix;
import android.graphics.RectF;
import android.graphics.drawable.BitmapDrawable;
import android.util.AttributeSet;
import android.view.GestureDetector;
import android.view.MotionEvent;
import android.view.ScaleGestureDetector;
import android.widget.ImageView;

/**
 * An ImageView with pinch zoom, drag and double-tap to fit. Pixels are drawn unfiltered, so
 * zooming in shows the actual pixels of the bicubic and super-resolved images; swapping between
 * two images of the same size keeps the view, so they can be compared in place.
 */
public final class ZoomImageView extends ImageView {
    private static final float MAX_ZOOM_PIXELS = 16f;   // screen pixels per image pixel
    private static final float DOUBLE_TAP_ZOOM = 4f;

    private final Matrix matrix = new Matrix();
    private final float[] values = new float[9];
    private final ScaleGestureDetector scaleDetector;
    private final GestureDetector gestureDetector;
    private int imageWidth;
    private int imageHeight;

    public ZoomImageView(Context context) {
        this(context, null);
    }

    public ZoomImageView(Context context, AttributeSet attrs) {
        super(context, attrs);
        setScaleType(ScaleType.MATRIX);
        scaleDetector = new ScaleGestureDetector(context, new ScaleGestureDetector.SimpleOnScaleGestureListener() {
            @Override
            public boolean onScale(ScaleGestureDetector detector) {
                zoomBy(detector.getScaleFactor(), detector.getFocusX(), detector.getFocusY());
                return true;
            }
        });
        gestureDetector = new GestureDetector(context, new GestureDetector.SimpleOnGestureListener() {
            @Override
            public boolean onScroll(MotionEvent e1, MotionEvent e2, float dx, float dy) {
                matrix.postTranslate(-dx, -dy);
                applyMatrix();
                return true;
            }

            @Override
            public boolean onDoubleTap(MotionEvent e) {
                if (currentScale() > fitScale() * 1.01f) {
                    fit();
                } else {
                    zoomBy(DOUBLE_TAP_ZOOM, e.getX(), e.getY());
                }
                return true;
            }
        });
    }

    /**
     * Shows {@code bitmap}; keeps the current zoom and position if it has the same size as the
     * image shown before (for the bicubic / super-resolved toggle), else fits it to the view.
     */
    public void showBitmap(Bitmap bitmap) {
        boolean sameSize = bitmap != null && bitmap.getWidth() == imageWidth && bitmap.getHeight() == imageHeight;
        if (bitmap == null) {
            setImageDrawable(null);
            imageWidth = 0;
            imageHeight = 0;
            return;
        }
        BitmapDrawable drawable = new BitmapDrawable(getResources(), bitmap);
        drawable.setFilterBitmap(false);
        setImageDrawable(drawable);
        imageWidth = bitmap.getWidth();
        imageHeight = bitmap.getHeight();
        if (!sameSize) {
            fit();
        } else {
            applyMatrix();
        }
    }

    @Override
    protected void onSizeChanged(int w, int h, int oldw, int oldh) {
        super.onSizeChanged(w, h, oldw, oldh);
        fit();
    }

    @Override
    public boolean onTouchEvent(MotionEvent event) {
        scaleDetector.onTouchEvent(event);
        if (!scaleDetector.isInProgress()) {
            gestureDetector.onTouchEvent(event);
        }
        return true;
    }

    private float fitScale() {
        if (imageWidth == 0 || getWidth() == 0) {
            return 1f;
        }
        return Math.min(getWidth() / (float) imageWidth, getHeight() / (float) imageHeight);
    }

    private float currentScale() {
        matrix.getValues(values);
        return values[Matrix.MSCALE_X];
    }

    private void fit() {
        if (imageWidth == 0 || getWidth() == 0) {
            return;
        }
        float s = fitScale();
        matrix.setScale(s, s);
        matrix.postTranslate((getWidth() - imageWidth * s) / 2f, (getHeight() - imageHeight * s) / 2f);
        applyMatrix();
    }

    private void zoomBy(float factor, float focusX, float focusY) {
        float target = Math.max(fitScale(), Math.min(MAX_ZOOM_PIXELS, currentScale() * factor));
        float f = target / currentScale();
        matrix.postScale(f, f, focusX, focusY);
        applyMatrix();
    }

    /** Keeps the image on screen (centred when smaller than the view) and applies the matrix. */
    private void applyMatrix() {
        if (imageWidth > 0) {
            RectF r = new RectF(0, 0, imageWidth, imageHeight);
            matrix.mapRect(r);
            float dx = 0;
            float dy = 0;
            if (r.width() <= getWidth()) {
                dx = (getWidth() - r.width()) / 2f - r.left;
            } else if (r.left > 0) {
                dx = -r.left;
            } else if (r.right < getWidth()) {
                dx = getWidth() - r.right;
            }
            if (r.height() <= getHeight()) {
                dy = (getHeight() - r.height()) / 2f - r.top;
            } else if (r.top > 0) {
                dy = -r.top;
            } else if (r.bottom < getHeight()) {
                dy = getHeight() - r.bottom;
            }
            matrix.postTranslate(dx, dy);
        }
        setImageMatrix(matrix);
    }
}

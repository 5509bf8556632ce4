package org.keras_sr.demo;

import android.Manifest;
import android.app.Activity;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.net.Uri;
import android.os.Build;
import android.os.Bundle;
import android.util.DisplayMetrics;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.CompoundButton;
import android.widget.ProgressBar;
import android.widget.Spinner;
import android.widget.Switch;
import android.widget.TextView;

/**
 * The single screen: pick an image, choose the accelerator and output format, run, compare
 * bicubic and super-resolved, save and share. UI only: state and work live in
 * {@link ScreenState}, which survives configuration changes; this class draws it.
 */
public final class MainActivity extends Activity implements ScreenState.View {
    private static final int REQUEST_OPEN_IMAGE = 1;
    private static final int REQUEST_STORAGE_PERMISSION = 2;
    private static final String[] SAMPLES = {"astronaut.png", "coffee.png", "chelsea.png"};
    private static final String MIME_IMAGES = "image/*";

    private ScreenState state;
    private boolean shareAfterPermission;
    private ZoomImageView imageView;
    private TextView statusView;
    private ProgressBar progressBar;
    private View progressRow;
    private Spinner acceleratorSpinner;
    private Spinner threadSpinner;
    private Spinner formatSpinner;
    private Spinner sampleSpinner;
    private Switch compareSwitch;
    private Button openButton;
    private Button runButton;
    private Button saveButton;
    private Button shareButton;
    private Object shownBitmap;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        imageView = (ZoomImageView) findViewById(R.id.image);
        statusView = (TextView) findViewById(R.id.status);
        progressBar = (ProgressBar) findViewById(R.id.progress);
        progressRow = findViewById(R.id.progress_row);
        acceleratorSpinner = (Spinner) findViewById(R.id.accelerator);
        threadSpinner = (Spinner) findViewById(R.id.threads);
        formatSpinner = (Spinner) findViewById(R.id.format);
        sampleSpinner = (Spinner) findViewById(R.id.samples);
        compareSwitch = (Switch) findViewById(R.id.compare);
        openButton = (Button) findViewById(R.id.open);
        runButton = (Button) findViewById(R.id.run);
        saveButton = (Button) findViewById(R.id.save);
        shareButton = (Button) findViewById(R.id.share);

        boolean fresh = false;
        state = (ScreenState) getLastNonConfigurationInstance();
        if (state == null) {
            DisplayMetrics dm = getResources().getDisplayMetrics();
            int side = Math.max(dm.widthPixels, dm.heightPixels);
            state = new ScreenState(getApplicationContext(), side, side);   // fits either orientation
            fresh = true;
        }
        setUpControls();
        state.attach(this);
        if (fresh) {
            state.open(null, ScreenState.SAMPLES_DIR + "/" + SAMPLES[0]);
        }
    }

    private void setUpControls() {
        SuperResolver.Accelerator[] all = SuperResolver.Accelerator.values();
        String[] accelerators = new String[all.length];
        for (int i = 0; i < all.length; i++) {
            accelerators[i] = all[i].menuLabel();
        }
        acceleratorSpinner.setAdapter(adapter(accelerators));
        String[] threads = new String[ScreenState.THREAD_CHOICES.length];
        for (int i = 0; i < threads.length; i++) {
            threads[i] = getString(R.string.threads_format, ScreenState.THREAD_CHOICES[i]);
        }
        threadSpinner.setAdapter(adapter(threads));
        GalleryStore.Format[] formats = GalleryStore.Format.values();
        String[] formatLabels = new String[formats.length];
        for (int i = 0; i < formats.length; i++) {
            formatLabels[i] = formats[i].label;
        }
        formatSpinner.setAdapter(adapter(formatLabels));
        String[] sampleLabels = new String[SAMPLES.length + 1];
        sampleLabels[0] = getString(R.string.pick_sample);
        System.arraycopy(SAMPLES, 0, sampleLabels, 1, SAMPLES.length);
        sampleSpinner.setAdapter(adapter(sampleLabels));

        acceleratorSpinner.setOnItemSelectedListener(new Selection() {
            @Override
            void selected(int position) {
                if (SuperResolver.Accelerator.values()[position] != state.accelerator) {
                    state.accelerator = SuperResolver.Accelerator.values()[position];
                    state.acceleratorChosen = true;
                }
            }
        });
        threadSpinner.setOnItemSelectedListener(new Selection() {
            @Override
            void selected(int position) {
                state.threadIndex = position;
            }
        });
        formatSpinner.setOnItemSelectedListener(new Selection() {
            @Override
            void selected(int position) {
                GalleryStore.Format f = GalleryStore.Format.values()[position];
                if (f != state.format) {
                    state.format = f;
                    state.savedUri = null;   // a new format is a new file
                }
            }
        });
        sampleSpinner.setOnItemSelectedListener(new Selection() {
            @Override
            void selected(int position) {
                if (position > 0) {
                    sampleSpinner.setSelection(0);
                    state.open(null, ScreenState.SAMPLES_DIR + "/" + SAMPLES[position - 1]);
                }
            }
        });
        openButton.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                Intent intent = new Intent(Intent.ACTION_OPEN_DOCUMENT);
                intent.addCategory(Intent.CATEGORY_OPENABLE);
                intent.setType(MIME_IMAGES);
                startActivityForResult(intent, REQUEST_OPEN_IMAGE);
            }
        });
        runButton.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                state.upscale();
            }
        });
        findViewById(R.id.cancel).setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                state.cancel();
            }
        });
        compareSwitch.setOnCheckedChangeListener(new CompoundButton.OnCheckedChangeListener() {
            @Override
            public void onCheckedChanged(CompoundButton button, boolean showSr) {
                if (state.showSr != showSr) {
                    state.showSr = showSr;
                    render();
                }
            }
        });
        saveButton.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                shareAfterPermission = false;
                state.save(false);
            }
        });
        shareButton.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                shareAfterPermission = true;
                state.save(true);
            }
        });
    }

    /** OnItemSelectedListener without the empty method, and ignoring programmatic echoes of no change. */
    private abstract static class Selection implements AdapterView.OnItemSelectedListener {
        abstract void selected(int position);

        @Override
        public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
            selected(position);
        }

        @Override
        public void onNothingSelected(AdapterView<?> parent) {
        }
    }

    private ArrayAdapter<String> adapter(String[] items) {
        ArrayAdapter<String> a = new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, items);
        a.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        return a;
    }

    /** Draws {@link #state}; called by it after every change. */
    @Override
    public void render() {
        boolean busy = state.busy();
        statusView.setText(state.status);
        progressRow.setVisibility(busy ? View.VISIBLE : View.GONE);
        progressBar.setIndeterminate(state.progressTotal == 0);
        progressBar.setMax(Math.max(1, state.progressTotal));
        progressBar.setProgress(state.progressDone);
        // Nothing that would change the running job or its input is enabled while it runs.
        openButton.setEnabled(!busy);
        sampleSpinner.setEnabled(!busy);
        acceleratorSpinner.setEnabled(!busy);
        threadSpinner.setEnabled(!busy);
        formatSpinner.setEnabled(!busy);
        runButton.setEnabled(!busy && state.input != null);
        boolean hasResult = !busy && state.result != null;
        saveButton.setEnabled(hasResult);
        shareButton.setEnabled(hasResult);
        compareSwitch.setEnabled(hasResult);
        compareSwitch.setChecked(state.showSr);
        acceleratorSpinner.setSelection(state.accelerator.ordinal());
        threadSpinner.setSelection(state.threadIndex);
        formatSpinner.setSelection(state.format.ordinal());
        Object want = state.result != null
                ? (state.showSr ? state.result.shownSr : state.result.shownBicubic)
                : (state.input != null ? state.input.preview : null);
        if (want != shownBitmap) {
            shownBitmap = want;
            imageView.showBitmap((android.graphics.Bitmap) want);
        }
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        super.onActivityResult(requestCode, resultCode, data);
        if (requestCode == REQUEST_OPEN_IMAGE && resultCode == RESULT_OK && data != null && data.getData() != null) {
            state.open(data.getData(), null);
        }
    }

    @Override
    public boolean ensureStoragePermission() {
        if (Build.VERSION.SDK_INT >= Build.VERSION_CODES.Q
                || checkSelfPermission(Manifest.permission.WRITE_EXTERNAL_STORAGE) == PackageManager.PERMISSION_GRANTED) {
            return true;
        }
        requestPermissions(new String[] {Manifest.permission.WRITE_EXTERNAL_STORAGE}, REQUEST_STORAGE_PERMISSION);
        return false;
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) {
        if (requestCode == REQUEST_STORAGE_PERMISSION) {
            if (grantResults.length > 0 && grantResults[0] == PackageManager.PERMISSION_GRANTED) {
                state.save(shareAfterPermission);
            } else {
                state.setStatus(getString(R.string.permission_denied));
            }
        }
    }

    @Override
    public void share(Uri uri) {
        Intent send = new Intent(Intent.ACTION_SEND);
        send.setType(state.format.mime);
        send.putExtra(Intent.EXTRA_STREAM, uri);
        send.addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION);
        startActivity(Intent.createChooser(send, getString(R.string.share)));
    }

    /** Hands the state (with a running job, the input and the result) to the recreated Activity. */
    @Override
    public Object onRetainNonConfigurationInstance() {
        return state;
    }

    @Override
    protected void onDestroy() {
        state.detach(this);
        if (!isChangingConfigurations()) {
            state.close();
        }
        super.onDestroy();
    }
}

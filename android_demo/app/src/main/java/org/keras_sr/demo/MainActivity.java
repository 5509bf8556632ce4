package org.keras_sr.demo;

import android.Manifest;
import android.app.Activity;
import android.content.ClipData;
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
import java.util.ArrayList;
import java.util.List;

/**
 * The single screen: pick an image, choose the accelerator and output format, run, compare
 * bicubic and super-resolved, save and share. UI only: state and work live in
 * {@link ScreenState}, which survives configuration changes; this class draws it.
 */
public final class MainActivity extends Activity implements ScreenState.View {
    private static final int REQUEST_OPEN_IMAGE = 1;
    private static final int REQUEST_STORAGE_PERMISSION = 2;
    private static final int REQUEST_OPEN_MODEL = 3;
    private static final String[] SAMPLES = {"astronaut.png", "coffee.png", "chelsea.png"};
    private static final String MIME_IMAGES = "image/*";
    /** .tflite has no registered MIME type; providers report application/octet-stream or nothing. */
    private static final String MIME_ANY = "*/*";

    private ScreenState state;
    private ZoomImageView imageView;
    private TextView statusView;
    private ProgressBar progressBar;
    private View progressRow;
    private Spinner acceleratorSpinner;
    private Spinner threadSpinner;
    private Spinner formatSpinner;
    private Spinner sampleSpinner;
    private Spinner modelSpinner;
    /** The custom model name the model menu was built for (it changes when one loads). */
    private String modelMenuFor = "";
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
        modelSpinner = (Spinner) findViewById(R.id.model);
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
        // A shared image is opened once, when the app starts for it; a recreated Activity
        // (savedInstanceState set) must not open or batch it again. A fresh state with a saved
        // Bundle is a restart after process death: the Bundle says what to reopen.
        if (fresh) {
            boolean opened = savedInstanceState != null ? state.restoreFrom(savedInstanceState)
                    : openShared(getIntent());
            if (!opened) {
                state.open(null, ScreenState.SAMPLES_DIR + "/" + SAMPLES[0]);
            }
        }
    }

    /** What process death loses and the restarted app can bring back (see ScreenState.restoreFrom). */
    @Override
    protected void onSaveInstanceState(Bundle outState) {
        super.onSaveInstanceState(outState);
        state.saveTo(outState);
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
                intent.putExtra(Intent.EXTRA_ALLOW_MULTIPLE, true);   // several: a batch
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
                state.save(false);
            }
        });
        shareButton.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                state.save(true);
            }
        });
        modelSpinner.setOnItemSelectedListener(new Selection() {
            @Override
            void selected(int position) {
                if (position == modelSpinner.getCount() - 1) {
                    modelSpinner.setSelection(state.customModelActive ? 1 : 0);
                    Intent intent = new Intent(Intent.ACTION_OPEN_DOCUMENT);
                    intent.addCategory(Intent.CATEGORY_OPENABLE);
                    intent.setType(MIME_ANY);
                    startActivityForResult(intent, REQUEST_OPEN_MODEL);
                } else {
                    state.useCustomModel(position == 1);
                }
            }
        });
        updateModelMenu();
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
        runButton.setEnabled(state.canUpscale());
        modelSpinner.setEnabled(!busy);
        updateModelMenu();
        modelSpinner.setSelection(state.customModelActive ? 1 : 0);
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
        if (resultCode != RESULT_OK || data == null) {
            return;
        }
        if (requestCode == REQUEST_OPEN_IMAGE) {
            List<Uri> uris = uris(data.getClipData());
            if (uris.isEmpty() && data.getData() != null) {
                uris.add(data.getData());
            }
            keepReadAccess(uris, data.getFlags());
            state.openBatch(uris);
        } else if (requestCode == REQUEST_OPEN_MODEL && data.getData() != null) {
            state.loadModel(data.getData());
        }
    }

    /**
     * Opens what another app shared (ACTION_SEND: one image; ACTION_SEND_MULTIPLE: a batch).
     * Returns false when the intent is not a share (the launcher) so the caller shows a sample.
     */
    private boolean openShared(Intent intent) {
        String action = intent == null ? null : intent.getAction();
        if (!Intent.ACTION_SEND.equals(action) && !Intent.ACTION_SEND_MULTIPLE.equals(action)) {
            return false;
        }
        // The framework copies EXTRA_STREAM into the ClipData (which carries the read grant);
        // read both, the ClipData first, for senders that set only one of them.
        List<Uri> uris = uris(intent.getClipData());
        if (uris.isEmpty()) {
            if (Intent.ACTION_SEND.equals(action)) {
                Uri one = intent.getParcelableExtra(Intent.EXTRA_STREAM);
                if (one != null) {
                    uris.add(one);
                }
            } else {
                ArrayList<Uri> many = intent.getParcelableArrayListExtra(Intent.EXTRA_STREAM);
                if (many != null) {
                    uris.addAll(many);
                }
            }
        }
        if (uris.isEmpty()) {
            state.setStatus(getString(R.string.nothing_shared));
            return true;
        }
        state.openBatch(uris);
        return true;
    }

    /**
     * A picked document's read grant ends with this process; a persisted one lets the app reopen
     * it after process death (the URIs go into the saved Bundle). Best effort: a provider that
     * offers no persistable grant still works until then.
     */
    private void keepReadAccess(List<Uri> uris, int flags) {
        if ((flags & Intent.FLAG_GRANT_PERSISTABLE_URI_PERMISSION) == 0) {
            return;
        }
        for (Uri uri : uris) {
            try {
                getContentResolver().takePersistableUriPermission(uri, Intent.FLAG_GRANT_READ_URI_PERMISSION);
            } catch (SecurityException e) {
                // not persistable: readable for as long as this process lives
            }
        }
    }

    private static List<Uri> uris(ClipData clip) {
        List<Uri> out = new ArrayList<>();
        for (int i = 0; clip != null && i < clip.getItemCount(); i++) {
            Uri uri = clip.getItemAt(i).getUri();
            if (uri != null) {
                out.add(uri);
            }
        }
        return out;
    }

    /** Model menu: built-in, the loaded custom model (if any), then "Load…". */
    private void updateModelMenu() {
        String custom = state.customModelName == null ? "" : state.customModelName;
        if (modelSpinner.getAdapter() != null && custom.equals(modelMenuFor)) {
            return;
        }
        modelMenuFor = custom;
        List<String> items = new ArrayList<>();
        items.add(getString(R.string.model_builtin));
        if (!custom.isEmpty()) {
            items.add(getString(R.string.model_custom, custom));
        }
        items.add(getString(R.string.model_load));
        modelSpinner.setAdapter(adapter(items.toArray(new String[0])));
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
            state.onStoragePermission(grantResults.length > 0 && grantResults[0] == PackageManager.PERMISSION_GRANTED);
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

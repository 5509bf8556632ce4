package org.keras_sr.demo;

import android.Manifest;
import android.app.Activity;
import android.content.Intent;
import android.content.pm.PackageManager;
import android.graphics.Bitmap;
import android.net.Uri;
import android.os.Build;
import android.os.Bundle;
import android.view.View;
import android.widget.AdapterView;
import android.widget.ArrayAdapter;
import android.widget.Button;
import android.widget.CompoundButton;
import android.widget.ProgressBar;
import android.widget.Spinner;
import android.widget.Switch;
import android.widget.TextView;
import java.util.Locale;
import java.util.concurrent.atomic.AtomicBoolean;

/**
 * The single screen: pick an image, choose the accelerator, run, compare bicubic and
 * super-resolved, save and share. UI only; the work is in {@link SrSession} and
 * {@link SuperResolver}.
 */
public final class MainActivity extends Activity {
    private static final int REQUEST_OPEN_IMAGE = 1;
    private static final int REQUEST_STORAGE_PERMISSION = 2;
    private static final String SAMPLES_DIR = "samples";
    private static final String[] SAMPLES = {"astronaut.png", "coffee.png", "chelsea.png"};
    private static final int[] THREAD_CHOICES = {1, 2, 4, 6, 8};
    private static final int DEFAULT_MAX_THREADS = 4;
    private static final String MIME_IMAGES = "image/*";

    private SrSession session;
    private ZoomImageView imageView;
    private TextView statusView;
    private ProgressBar progressBar;
    private View progressRow;
    private Spinner acceleratorSpinner;
    private Spinner threadSpinner;
    private Switch compareSwitch;
    private Button runButton;
    private Button saveButton;
    private Button shareButton;

    private Bitmap input;
    private String inputName;
    private SrSession.Result result;
    private Uri savedUri;
    private AtomicBoolean cancelFlag;
    private boolean shareAfterSave;

    @Override
    protected void onCreate(Bundle savedInstanceState) {
        super.onCreate(savedInstanceState);
        setContentView(R.layout.activity_main);
        session = new SrSession(this);
        imageView = (ZoomImageView) findViewById(R.id.image);
        statusView = (TextView) findViewById(R.id.status);
        progressBar = (ProgressBar) findViewById(R.id.progress);
        progressRow = findViewById(R.id.progress_row);
        acceleratorSpinner = (Spinner) findViewById(R.id.accelerator);
        threadSpinner = (Spinner) findViewById(R.id.threads);
        compareSwitch = (Switch) findViewById(R.id.compare);
        runButton = (Button) findViewById(R.id.run);
        saveButton = (Button) findViewById(R.id.save);
        shareButton = (Button) findViewById(R.id.share);

        String[] accelerators = new String[SuperResolver.Accelerator.values().length];
        for (int i = 0; i < accelerators.length; i++) {
            accelerators[i] = SuperResolver.Accelerator.values()[i].label;
        }
        acceleratorSpinner.setAdapter(adapter(accelerators));
        acceleratorSpinner.setSelection(SuperResolver.Accelerator.CPU.ordinal());
        String[] threads = new String[THREAD_CHOICES.length];
        int defaultThreads = Math.min(DEFAULT_MAX_THREADS, Runtime.getRuntime().availableProcessors());
        int defaultIndex = 0;
        for (int i = 0; i < THREAD_CHOICES.length; i++) {
            threads[i] = getString(R.string.threads_format, THREAD_CHOICES[i]);
            if (THREAD_CHOICES[i] <= defaultThreads) {
                defaultIndex = i;
            }
        }
        threadSpinner.setAdapter(adapter(threads));
        threadSpinner.setSelection(defaultIndex);

        Spinner samples = (Spinner) findViewById(R.id.samples);
        String[] sampleLabels = new String[SAMPLES.length + 1];
        sampleLabels[0] = getString(R.string.pick_sample);
        for (int i = 0; i < SAMPLES.length; i++) {
            sampleLabels[i + 1] = SAMPLES[i];
        }
        samples.setAdapter(adapter(sampleLabels));
        samples.setOnItemSelectedListener(new AdapterView.OnItemSelectedListener() {
            @Override
            public void onItemSelected(AdapterView<?> parent, View view, int position, long id) {
                if (position > 0) {
                    loadSample(SAMPLES[position - 1]);
                }
            }

            @Override
            public void onNothingSelected(AdapterView<?> parent) {
            }
        });

        findViewById(R.id.open).setOnClickListener(new View.OnClickListener() {
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
                startUpscale();
            }
        });
        findViewById(R.id.cancel).setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                if (cancelFlag != null) {
                    cancelFlag.set(true);
                }
            }
        });
        compareSwitch.setOnCheckedChangeListener(new CompoundButton.OnCheckedChangeListener() {
            @Override
            public void onCheckedChanged(CompoundButton button, boolean showSr) {
                showResult();
            }
        });
        saveButton.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                shareAfterSave = false;
                saveResult();
            }
        });
        shareButton.setOnClickListener(new View.OnClickListener() {
            @Override
            public void onClick(View v) {
                if (savedUri != null) {
                    share(savedUri);
                } else {
                    shareAfterSave = true;
                    saveResult();
                }
            }
        });
        updateButtons(false);
        loadSample(SAMPLES[0]);
    }

    private ArrayAdapter<String> adapter(String[] items) {
        ArrayAdapter<String> a = new ArrayAdapter<>(this, android.R.layout.simple_spinner_item, items);
        a.setDropDownViewResource(android.R.layout.simple_spinner_dropdown_item);
        return a;
    }

    private void loadSample(final String name) {
        statusView.setText(getString(R.string.loading, name));
        session.loadAsset(SAMPLES_DIR + "/" + name, inputCallback(name));
    }

    @Override
    protected void onActivityResult(int requestCode, int resultCode, Intent data) {
        super.onActivityResult(requestCode, resultCode, data);
        if (requestCode == REQUEST_OPEN_IMAGE && resultCode == RESULT_OK && data != null && data.getData() != null) {
            Uri uri = data.getData();
            String name = uri.getLastPathSegment() == null ? "image" : uri.getLastPathSegment();
            statusView.setText(getString(R.string.loading, name));
            session.loadUri(uri, inputCallback(name));
        }
    }

    private SrSession.Callback<Bitmap> inputCallback(final String name) {
        return new SrSession.Callback<Bitmap>() {
            @Override
            public void onResult(Bitmap bitmap) {
                input = bitmap;
                inputName = name;
                result = null;
                savedUri = null;
                imageView.showBitmap(bitmap);
                statusView.setText(getString(R.string.loaded, name, bitmap.getWidth(), bitmap.getHeight()));
                updateButtons(false);
            }

            @Override
            public void onError(String message) {
                statusView.setText(message);
            }
        };
    }

    private void startUpscale() {
        if (input == null) {
            return;
        }
        SuperResolver.Accelerator accelerator =
                SuperResolver.Accelerator.values()[acceleratorSpinner.getSelectedItemPosition()];
        int threads = THREAD_CHOICES[threadSpinner.getSelectedItemPosition()];
        updateButtons(true);
        progressBar.setProgress(0);
        statusView.setText(getString(R.string.running, accelerator.label));
        cancelFlag = session.upscale(input, accelerator, threads, new SrSession.Progress() {
            @Override
            public void onProgress(int done, int total) {
                progressBar.setMax(total);
                progressBar.setProgress(done);
            }
        }, new SrSession.Callback<SrSession.Result>() {
            @Override
            public void onResult(SrSession.Result r) {
                result = r;
                savedUri = null;
                updateButtons(false);
                compareSwitch.setChecked(true);
                showResult();
                statusView.setText(describe(r));
            }

            @Override
            public void onError(String message) {
                updateButtons(false);
                statusView.setText(message);
            }
        });
    }

    private String describe(SrSession.Result r) {
        StringBuilder sb = new StringBuilder();
        String accelerator = r.accelerator == SuperResolver.Accelerator.CPU
                ? getString(R.string.cpu_threads, r.accelerator.label, r.threads) : r.accelerator.label;
        sb.append(String.format(Locale.US, "%s: %.0f ms (model %.0f ms), %.2f MP/s, %dx%d",
                accelerator, r.totalMillis, r.modelMillis, r.megapixelsPerSecond,
                r.superResolved.getWidth(), r.superResolved.getHeight()));
        if (r.fallbackReason != null) {
            sb.append('\n').append(getString(R.string.fell_back, r.fallbackReason));
        }
        sb.append('\n').append(r.modelDescription);
        if (r.cropped) {
            sb.append('\n').append(getString(R.string.cropped_note));
        }
        return sb.toString();
    }

    private void showResult() {
        if (result == null) {
            return;
        }
        imageView.showBitmap(compareSwitch.isChecked() ? result.shownSr : result.shownBicubic);
    }

    private void updateButtons(boolean running) {
        progressRow.setVisibility(running ? View.VISIBLE : View.GONE);
        runButton.setEnabled(!running && input != null);
        boolean hasResult = !running && result != null;
        saveButton.setEnabled(hasResult);
        shareButton.setEnabled(hasResult);
        compareSwitch.setEnabled(hasResult);
    }

    private void saveResult() {
        if (result == null) {
            return;
        }
        if (Build.VERSION.SDK_INT < Build.VERSION_CODES.Q
                && checkSelfPermission(Manifest.permission.WRITE_EXTERNAL_STORAGE) != PackageManager.PERMISSION_GRANTED) {
            requestPermissions(new String[] {Manifest.permission.WRITE_EXTERNAL_STORAGE}, REQUEST_STORAGE_PERMISSION);
            return;
        }
        statusView.setText(R.string.saving);
        saveButton.setEnabled(false);
        String base = inputName.replaceAll("\\.[A-Za-z0-9]+$", "").replaceAll("[^A-Za-z0-9_-]", "_");
        String name = base + "_x" + (result.superResolved.getWidth() / input.getWidth()) + "_" + System.currentTimeMillis();
        session.save(result.superResolved, name, new SrSession.Callback<Uri>() {
            @Override
            public void onResult(Uri uri) {
                savedUri = uri;
                saveButton.setEnabled(true);
                statusView.setText(getString(R.string.saved, GalleryStore.ALBUM));
                if (shareAfterSave) {
                    share(uri);
                }
            }

            @Override
            public void onError(String message) {
                saveButton.setEnabled(true);
                statusView.setText(message);
            }
        });
    }

    @Override
    public void onRequestPermissionsResult(int requestCode, String[] permissions, int[] grantResults) {
        if (requestCode == REQUEST_STORAGE_PERMISSION) {
            if (grantResults.length > 0 && grantResults[0] == PackageManager.PERMISSION_GRANTED) {
                saveResult();
            } else {
                statusView.setText(R.string.permission_denied);
            }
        }
    }

    private void share(Uri uri) {
        Intent send = new Intent(Intent.ACTION_SEND);
        send.setType(GalleryStore.MIME_PNG);
        send.putExtra(Intent.EXTRA_STREAM, uri);
        send.addFlags(Intent.FLAG_GRANT_READ_URI_PERMISSION);
        startActivity(Intent.createChooser(send, getString(R.string.share)));
    }

    @Override
    protected void onDestroy() {
        if (cancelFlag != null) {
            cancelFlag.set(true);
        }
        session.close();
        super.onDestroy();
    }
}

package org.keras_sr.demo;

import android.os.Build;
import java.util.TreeMap;
import javax.annotation.Priority;
import javax.inject.Inject;
import org.robolectric.internal.dependency.DependencyResolver;
import org.robolectric.pluginapi.Sdk;
import org.robolectric.plugins.DefaultSdkProvider;

/**
 * Makes API 29 the only SDK Robolectric knows. Robolectric reads the framework resources of the
 * newest SDK it knows when it loads the app's resources, which would download a second (API 34)
 * android-all jar; the tests run on API 29 ({@code robolectric.properties}), the level
 * tools/build_apk.sh already compiles against. Registered in
 * {@code META-INF/services/org.robolectric.pluginapi.SdkProvider}; the priority puts it ahead of
 * Robolectric's own provider.
 */
@Priority(1)
public final class Api29SdkProvider extends DefaultSdkProvider {
    @Inject
    public Api29SdkProvider(DependencyResolver dependencyResolver) {
        super(dependencyResolver);
    }

    @Override
    protected void populateSdks(TreeMap<Integer, Sdk> knownSdks) {
        super.populateSdks(knownSdks);
        Sdk q = knownSdks.get(Build.VERSION_CODES.Q);
        knownSdks.clear();
        knownSdks.put(Build.VERSION_CODES.Q, q);
    }
}

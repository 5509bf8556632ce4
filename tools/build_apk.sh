#!/usr/bin/env bash
# Gradle-free build of android_demo's debug APK, its verification, and its JVM unit tests.
#
# Same sources as the Gradle project (android_demo/app/src/...); namespace, SDK levels, version
# and TFLite versions are read from android_demo/app/build.gradle. Steps: aapt2 compile/link
# (against Debian's framework-res.apk) -> javac (Java 8, against Robolectric's android-all jar and
# the TFLite AARs' classes.jar) -> dx -> add classes.dex and lib/<abi>/*.so -> zipalign ->
# apksigner (debug key generated into the cache) -> verification.
#
# Usage: tools/build_apk.sh [options]
#   --install-deps     apt-get install the Android tools this needs (Debian bookworm, as root)
#   --model PATH       .tflite to package as assets/model.tflite
#                      (default: keras_sr/pretrained/ecbsr_x2_m4c16_relu_y_int8.tflite)
#   --abis LIST        comma-separated ABIs to package (default: arm64-v8a,armeabi-v7a,x86_64)
#   --out PATH         where to write the APK (default: android_demo/build/keras_sr_demo-debug.apk)
#   --test             also compile and run the JUnit tests (app/src/test/java), before building:
#                      the pure-Java core, then the Activity under Robolectric
#   --test-only        run the JUnit tests and stop (no model needed; the Robolectric tests
#                      need aapt2 and android-framework-res, as the build does)
#   --verify APK       only verify an existing APK
#   --strict-elf-align also fail verification when a 64-bit library's ELF LOAD segments are
#                      aligned below 16 KB (default: reported; TFLite 2.16.1's are all 4 KB)
#   -h, --help         this text
# Environment: KERAS_SR_ANDROID_CACHE (downloads, Maven repository, debug key;
#   default ~/.cache/keras_sr_android).
set -euo pipefail

REPO_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
DEMO="$REPO_ROOT/android_demo"
APP="$DEMO/app"
GRADLE_FILE="$APP/build.gradle"
BUILD="$DEMO/build"
CACHE="${KERAS_SR_ANDROID_CACHE:-$HOME/.cache/keras_sr_android}"
DEPS="$CACHE/deps"
M2="$CACHE/m2"

DEFAULT_MODEL="keras_sr/pretrained/ecbsr_x2_m4c16_relu_y_int8.tflite"
MODEL_ASSET="model.tflite"
DEFAULT_ABIS="arm64-v8a,armeabi-v7a,x86_64"
REQUIRED_ABI="arm64-v8a"
FRAMEWORK_RES="/usr/share/android-framework-res/framework-res.apk"
# API 29 jar to compile against, matching Debian's framework-res.apk (Android 10).
ANDROID_ALL="org.robolectric:android-all:10-robolectric-5803371"
DX="com.jakewharton.android.repackaged:dalvik-dx:16.0.1"
DX_MIN_SDK=26
JUNIT="junit:junit:4.13.2"
HAMCREST="org.hamcrest:hamcrest-core:1.3"
DEPENDENCY_PLUGIN="org.apache.maven.plugins:maven-dependency-plugin:3.6.1"
APT_PACKAGES=(aapt zipalign apksigner dexdump android-framework-res zip unzip)
KEY_ALIAS="androiddebugkey"
KEY_PASS="android"
ZIP_ALIGNMENT=4
# Android 15+ devices may use 16 KB pages; Play requires that native libraries stored uncompressed
# in the APK start on a 16 KB boundary. Debian's zipalign (10.0) has -p (4 KB) but not -P 16, so
# the libraries stay compressed (extracted at install, where zip alignment does not matter) and
# check_native_alignment fails the build if one is ever stored unaligned.
PAGE_ALIGNMENT=16384

die() { echo "build_apk.sh: error: $*" >&2; exit 1; }
step() { echo "==> $*"; }

usage() { sed -n '2,/^set -euo/p' "${BASH_SOURCE[0]}" | sed -e '$d' -e 's/^# \{0,1\}//'; }

model="$DEFAULT_MODEL"
abis="$DEFAULT_ABIS"
out=""
install_deps=0
run_tests=0
build=1
verify_only=""
strict_elf_align=0
while [[ $# -gt 0 ]]; do
    case "$1" in
        --install-deps) install_deps=1 ;;
        --model) [[ $# -ge 2 ]] || die "--model needs a path"; model="$2"; shift ;;
        --abis) [[ $# -ge 2 ]] || die "--abis needs a list"; abis="$2"; shift ;;
        --out) [[ $# -ge 2 ]] || die "--out needs a path"; out="$2"; shift ;;
        --test) run_tests=1 ;;
        --test-only) run_tests=1; build=0 ;;
        --verify) [[ $# -ge 2 ]] || die "--verify needs an APK"; verify_only="$2"; build=0; shift ;;
        --strict-elf-align) strict_elf_align=1 ;;
        -h|--help) usage; exit 0 ;;
        *) die "unknown option: $1 (see --help)" ;;
    esac
    shift
done
[[ "$model" = /* ]] || model="$REPO_ROOT/$model"
out="${out:-$BUILD/keras_sr_demo-debug.apk}"
[[ "$out" = /* ]] || out="$PWD/$out"

# --- settings shared with Gradle -------------------------------------------------------------

gradle_value() {  # gradle_value KEY: the value of `KEY value` / `KEY 'value'` in app/build.gradle
    local v
    v="$(sed -n -E "s/^[[:space:]]*$1[[:space:]]+'?([^' ]+)'?[[:space:]]*$/\1/p" "$GRADLE_FILE" | head -n1)"
    [[ -n "$v" ]] || die "cannot read '$1' from $GRADLE_FILE"
    echo "$v"
}
gradle_dependency() {  # gradle_dependency GROUP:ARTIFACT -> GROUP:ARTIFACT:VERSION
    local v
    v="$(grep -o -E "'$1:[^']+'" "$GRADLE_FILE" | head -n1 | tr -d "'")"
    [[ -n "$v" ]] || die "no dependency $1 in $GRADLE_FILE"
    echo "$v"
}
PACKAGE="$(gradle_value namespace)"
MIN_SDK="$(gradle_value minSdk)"
TARGET_SDK="$(gradle_value targetSdk)"
VERSION_CODE="$(gradle_value versionCode)"
VERSION_NAME="$(gradle_value versionName)"
TFLITE_AARS=(
    "$(gradle_dependency org.tensorflow:tensorflow-lite)"
    "$(gradle_dependency org.tensorflow:tensorflow-lite-gpu)"
    "$(gradle_dependency org.tensorflow:tensorflow-lite-gpu-api)"
)
# tensorflow-lite's own dependency (its POM): the public API classes.
TFLITE_VERSION="${TFLITE_AARS[0]##*:}"
TFLITE_AARS+=("org.tensorflow:tensorflow-lite-api:$TFLITE_VERSION")
# Runs MainActivity on the JVM (testImplementation in app/build.gradle). Its Android runtime is
# ANDROID_ALL (API 29, also what the app compiles against), instrumented as classes load, rather
# than the matching ~150 MB android-all-instrumented jar: see robolectric.properties (sdk=29) and
# Api29SdkProvider in app/src/test.
ROBOLECTRIC="$(gradle_dependency org.robolectric:robolectric)"
# Excluded as in app/build.gradle: the native graphics/SQLite runtime (154 MB), only for
# GraphicsMode/SQLiteMode NATIVE; the tests use the default legacy modes and never load it.
ROBOLECTRIC_EXCLUDED="org.robolectric:nativeruntime-dist-compat"

# --- tools and downloads ---------------------------------------------------------------------

install_packages() {
    [[ "$(id -u)" = 0 ]] || die "--install-deps needs root (apt-get)"
    step "apt-get install ${APT_PACKAGES[*]}"
    local extra=()
    command -v javac >/dev/null || extra+=(openjdk-17-jdk-headless)
    command -v mvn >/dev/null || extra+=(maven)
    DEBIAN_FRONTEND=noninteractive apt-get update -qq
    DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends \
        "${APT_PACKAGES[@]}" "${extra[@]}" >/dev/null
}

require_tools() {
    local t
    for t in "$@"; do
        command -v "$t" >/dev/null || die "'$t' not found (run with --install-deps, or apt-get install ${APT_PACKAGES[*]})"
    done
}

fetch() {  # fetch GROUP:ARTIFACT:VERSION[:TYPE] -> path of the cached file
    local coords="$1" type="jar"
    local group artifact version
    IFS=: read -r group artifact version type_ <<<"$coords"
    [[ -n "${type_:-}" ]] && type="$type_"
    local file="$DEPS/$artifact-$version.$type"
    if [[ ! -s "$file" ]]; then
        mkdir -p "$DEPS"
        echo "    downloading $group:$artifact:$version:$type" >&2
        if ! mvn -q -B -Dmaven.repo.local="$M2" "$DEPENDENCY_PLUGIN:copy" \
                -Dartifact="$group:$artifact:$version:$type" -DoutputDirectory="$DEPS" \
                -Dmdep.overWriteIfNewer=true >"$CACHE/mvn.log" 2>&1 || [[ ! -s "$file" ]]; then
            die "download of $group:$artifact:$version:$type from Maven Central failed (see $CACHE/mvn.log)"
        fi
    fi
    echo "$file"
}

# Resolves Robolectric and its transitive dependencies into the cached Maven repository and
# prints their jars, colon-separated (AARs replaced by their classes.jar, unpacked under $2).
# The list is cached in $CACHE and re-resolved only if a listed file is missing.
robolectric_classpath() {  # robolectric_classpath POM_DIR AAR_DIR
    local pom_dir="$1" aar_dir="$2" version="${ROBOLECTRIC##*:}"
    local list="$CACHE/robolectric-$version.classpath" entry entries=() missing=0
    if [[ -s "$list" ]]; then
        IFS=: read -r -a entries <"$list" || true   # no final newline
        for entry in "${entries[@]}"; do
            [[ -f "$entry" ]] || missing=1
        done
    fi
    if [[ ! -s "$list" || $missing = 1 ]]; then
        echo "    resolving $ROBOLECTRIC" >&2
        mkdir -p "$pom_dir"
        cat >"$pom_dir/pom.xml" <<POM
<project xmlns="http://maven.apache.org/POM/4.0.0">
  <modelVersion>4.0.0</modelVersion>
  <groupId>org.keras_sr</groupId><artifactId>robolectric-classpath</artifactId><version>1</version>
  <dependencies>
    <dependency>
      <groupId>${ROBOLECTRIC%%:*}</groupId><artifactId>$(cut -d: -f2 <<<"$ROBOLECTRIC")</artifactId><version>$version</version>
      <exclusions><exclusion>
        <groupId>${ROBOLECTRIC_EXCLUDED%%:*}</groupId><artifactId>${ROBOLECTRIC_EXCLUDED##*:}</artifactId>
      </exclusion></exclusions>
    </dependency>
  </dependencies>
</project>
POM
        mvn -q -B -f "$pom_dir/pom.xml" -Dmaven.repo.local="$M2" "$DEPENDENCY_PLUGIN:build-classpath" \
                -Dmdep.outputFile="$list.tmp" >"$CACHE/mvn.log" 2>&1 && [[ -s "$list.tmp" ]] \
            || die "resolving $ROBOLECTRIC from Maven Central failed (see $CACHE/mvn.log)"
        mv "$list.tmp" "$list"
        IFS=: read -r -a entries <"$list" || true   # no final newline
    fi
    local jars=()
    mkdir -p "$aar_dir"
    for entry in "${entries[@]}"; do
        if [[ "$entry" = *.aar ]]; then   # androidx.test's monitor and idling resource
            mkdir -p "$aar_dir/$(basename "$entry" .aar)"
            unzip -q -o "$entry" classes.jar -d "$aar_dir/$(basename "$entry" .aar)"
            jars+=("$aar_dir/$(basename "$entry" .aar)/classes.jar")
        else
            jars+=("$entry")
        fi
    done
    (IFS=:; echo "${jars[*]}")
}

# Downloads the TFLite AARs and unpacks each one's classes.jar and jni/ under DIR; sets tflite_jars.
unpack_tflite() {  # unpack_tflite DIR
    local dir="$1" coords aar name
    tflite_jars=()
    rm -rf "$dir" && mkdir -p "$dir"
    for coords in "${TFLITE_AARS[@]}"; do
        aar="$(fetch "$coords:aar")"
        name="$(basename "$aar" .aar)"
        mkdir -p "$dir/$name"
        unzip -q -o "$aar" -d "$dir/$name" 'classes.jar' 'jni/*' 2>/dev/null || unzip -q -o "$aar" -d "$dir/$name" 'classes.jar'
        tflite_jars+=("$dir/$name/classes.jar")
    done
}

# aapt2 compile + link of the app's resources, manifest (with the package added) and assets
# (without the model) into APK; R.java goes to DIR/gen. Used for the APK and for Robolectric.
link_resources() {  # link_resources DIR APK
    local dir="$1" apk="$2"
    rm -rf "$dir/gen" "$dir/assets" && mkdir -p "$dir/gen" "$dir/assets" "$(dirname "$apk")"
    aapt2 compile --dir "$APP/src/main/res" -o "$dir/res.zip"
    # The source manifest leaves the package to the build (Gradle's namespace); add it here.
    sed "s|<manifest |<manifest package=\"$PACKAGE\" |" "$APP/src/main/AndroidManifest.xml" >"$dir/AndroidManifest.xml"
    cp -r "$APP/src/main/assets/." "$dir/assets/"
    rm -f "$dir/assets/$MODEL_ASSET"
    aapt2 link -o "$apk" -I "$FRAMEWORK_RES" --manifest "$dir/AndroidManifest.xml" \
        --java "$dir/gen" --min-sdk-version "$MIN_SDK" --target-sdk-version "$TARGET_SDK" \
        --version-code "$VERSION_CODE" --version-name "$VERSION_NAME" --debug-mode \
        -A "$dir/assets" "$dir/res.zip" \
        --warn-manifest-validation 2>&1 | grep -v "uses-native-library" >&2 || true
    # <uses-native-library> (API 31, for the GPU delegate's OpenCL) is newer than this aapt2: it
    # warns and keeps the element, which is what the device needs.
    [[ -s "$apk" ]] || die "aapt2 link failed"
}

# --- JVM unit tests --------------------------------------------------------------------------

run_unit_tests() {
    step "JUnit tests (pure-Java classes, app/src/test/java/.../core)"
    require_tools java javac mvn
    local junit hamcrest dir="$BUILD/test-classes" core="${PACKAGE//.//}/core"
    junit="$(fetch "$JUNIT")"
    hamcrest="$(fetch "$HAMCREST")"
    rm -rf "$dir" && mkdir -p "$dir"
    # Only the android-free package and its tests are compiled: they must not need Android.
    mapfile -t sources < <(find "$APP/src/main/java/$core" "$APP/src/test/java/$core" -name '*.java' | sort)
    javac -encoding UTF-8 -source 8 -target 8 -Xlint:-options -d "$dir" -cp "$junit" "${sources[@]}"
    mapfile -t classes < <(cd "$APP/src/test/java" && find "$core" -name '*Test.java' | sed -e 's|\.java$||' -e 's|/|.|g' | sort)
    local model_prop=""
    [[ -f "$model" ]] && model_prop="$model"
    # src/test/resources (the golden files from tools/make_android_golden.py) is on the classpath,
    # as Gradle puts it.
    java -Dkeras_sr.testModel="$model_prop" -cp "$dir:$APP/src/test/resources:$junit:$hamcrest" \
        org.junit.runner.JUnitCore "${classes[@]}" \
        || die "JUnit tests failed"
    [[ -n "$model_prop" ]] || echo "    (no model at $model: the real-.tflite metadata test was skipped)"
    run_robolectric_tests "$dir" "$junit:$hamcrest"
}

# The Android-side tests (app/src/test/java outside core/): the real Activity on Robolectric, in
# binary resources mode, reading the resources and assets aapt2 links here.
run_robolectric_tests() {  # run_robolectric_tests CORE_CLASSES JUNIT_CLASSPATH
    local core_classes="$1" junit_cp="$2" dir="$BUILD/robolectric" core="${PACKAGE//.//}/core"
    step "Robolectric tests (MainActivity with a fake model, app/src/test/java outside core/)"
    require_tools aapt2 unzip
    [[ -f "$FRAMEWORK_RES" ]] || die "$FRAMEWORK_RES not found (apt-get install android-framework-res, or --install-deps)"
    local android_jar robolectric_cp
    android_jar="$(fetch "$ANDROID_ALL")"
    rm -rf "$dir/classes" "$dir/config" && mkdir -p "$dir/classes" "$dir/config/com/android/tools"
    robolectric_cp="$(robolectric_classpath "$dir/pom" "$dir/robolectric-aars")"
    unpack_tflite "$dir/aars"
    link_resources "$dir" "$dir/resources.apk"
    # What the Android Gradle plugin writes for includeAndroidResources; Robolectric reads it from
    # the classpath.
    cat >"$dir/config/com/android/tools/test_config.properties" <<PROPS
android_resource_apk=$dir/resources.apk
android_merged_manifest=$dir/AndroidManifest.xml
android_merged_assets=$dir/assets
android_custom_package=$PACKAGE
PROPS
    # The app (but core/, compiled above) and its Android-side tests, for the JVM: not --release
    # 8, as Robolectric's jars are Java 11 class files (android-all supplies no java.*).
    mapfile -t sources < <(find "$APP/src/main/java" "$dir/gen" "$APP/src/test/java" -name '*.java' \
        -not -path "*/$core/*" | sort)
    local cp_str
    cp_str="$(IFS=:; echo "$core_classes:$android_jar:${tflite_jars[*]}:$robolectric_cp:$junit_cp")"
    javac -encoding UTF-8 -nowarn -d "$dir/classes" -cp "$cp_str" "${sources[@]}"
    mapfile -t classes < <(cd "$APP/src/test/java" && find . -name '*Test.java' -not -path "./$core/*" \
        | sed -e 's|^\./||' -e 's|\.java$||' -e 's|/|.|g' | sort)
    # offline + dependency.dir: the SDK jar comes from $DEPS, nothing is downloaded at run time.
    # C1 only: most of the time is Robolectric instrumenting and loading android-all once, which
    # the optimising JIT does not pay back (about half the time on 2 cores).
    java -XX:TieredStopAtLevel=1 -Drobolectric.offline=true -Drobolectric.dependency.dir="$DEPS" \
        -Drobolectric.usePreinstrumentedJars=false \
        -cp "$dir/classes:$dir/config:$APP/src/test/resources:$cp_str" \
        org.junit.runner.JUnitCore "${classes[@]}" \
        || die "Robolectric tests failed"
}

# --- build -----------------------------------------------------------------------------------

build_apk() {
    require_tools java javac keytool mvn aapt2 zipalign apksigner zip unzip
    [[ -f "$FRAMEWORK_RES" ]] || die "$FRAMEWORK_RES not found (apt-get install android-framework-res, or --install-deps)"
    [[ -f "$model" ]] || die "model not found: $model (make it with 'sr-tool tflite --int8', or pass --model PATH)"
    IFS=, read -r -a abi_list <<<"$abis"
    [[ " ${abi_list[*]} " = *" $REQUIRED_ABI "* ]] || die "--abis must include $REQUIRED_ABI"

    step "dependencies (cache: $CACHE)"
    local android_jar dx_jar
    android_jar="$(fetch "$ANDROID_ALL")"
    dx_jar="$(fetch "$DX")"
    local aar_dir="$BUILD/aars" classpath=()
    rm -rf "$BUILD/apk" "$BUILD/classes" "$BUILD/model"
    mkdir -p "$BUILD/apk" "$BUILD/classes"
    unpack_tflite "$aar_dir"
    classpath=("${tflite_jars[@]}")

    step "aapt2 compile + link (package $PACKAGE, minSdk $MIN_SDK, targetSdk $TARGET_SDK)"
    link_resources "$BUILD" "$BUILD/apk/base.apk"

    step "javac (Java 8 bytecode, against $(basename "$android_jar"))"
    mapfile -t sources < <(find "$APP/src/main/java" "$BUILD/gen" -name '*.java' | sort)
    local cp_str
    cp_str="$(IFS=:; echo "$android_jar:${classpath[*]}")"
    # android-all has no java.* (Robolectric runs on a JVM): those come from --release 8.
    javac -encoding UTF-8 --release 8 -Xlint:-options -cp "$cp_str" -d "$BUILD/classes" "${sources[@]}"
    # dx does not desugar: a lambda or method reference would build but crash on the device.
    if javap -c -p -cp "$BUILD/classes" $(cd "$BUILD/classes" && find . -name '*.class' | sed -e 's|^\./||' -e 's|\.class$||' -e 's|/|.|g') \
            | grep -q invokedynamic; then
        die "app classes use invokedynamic (lambdas / method references); dx cannot desugar them, use anonymous classes"
    fi

    step "dx (min-sdk $DX_MIN_SDK)"
    java -cp "$dx_jar" com.android.dx.command.Main --dex --min-sdk-version="$DX_MIN_SDK" \
        --output="$BUILD/apk/classes.dex" "$BUILD/classes" "${classpath[@]}"

    step "package (ABIs: ${abi_list[*]})"
    local abi so found
    for abi in "${abi_list[@]}"; do
        found=0
        mkdir -p "$BUILD/apk/lib/$abi"
        for so in "$aar_dir"/*/jni/"$abi"/*.so; do
            [[ -f "$so" ]] || continue
            cp "$so" "$BUILD/apk/lib/$abi/"
            found=1
        done
        [[ $found = 1 ]] || die "no TFLite native libraries for ABI $abi in the AARs"
    done
    (cd "$BUILD/apk" && zip -q -r base.apk classes.dex lib)
    # The model is added STORED here rather than through aapt2 (whose -0 does not reach -A assets
    # in this version): AssetManager.openFd, and so memory-mapping, needs it uncompressed.
    mkdir -p "$BUILD/model/assets"
    cp "$model" "$BUILD/model/assets/$MODEL_ASSET"
    (cd "$BUILD/model" && zip -q -0 ../apk/base.apk "assets/$MODEL_ASSET")

    step "zipalign + apksigner"
    local keystore="$CACHE/debug.keystore"
    if [[ ! -f "$keystore" ]]; then
        mkdir -p "$CACHE"
        keytool -genkeypair -keystore "$keystore" -storepass "$KEY_PASS" -keypass "$KEY_PASS" \
            -alias "$KEY_ALIAS" -keyalg RSA -keysize 2048 -validity 10000 \
            -dname "CN=Android Debug,O=Android,C=US" >/dev/null 2>&1 || die "keytool could not create $keystore"
    fi
    zipalign -f -p "$ZIP_ALIGNMENT" "$BUILD/apk/base.apk" "$BUILD/apk/aligned.apk"
    mkdir -p "$(dirname "$out")"
    apksigner sign --ks "$keystore" --ks-pass "pass:$KEY_PASS" --key-pass "pass:$KEY_PASS" \
        --ks-key-alias "$KEY_ALIAS" --out "$out" "$BUILD/apk/aligned.apk"
    echo "    built $out ($(du -h "$out" | cut -f1))"
}

# --- verification ----------------------------------------------------------------------------

# Reads the zip's central directory and local headers (python3, standard library only): every
# lib/*.so must be deflated (extracted at install) or stored with its data at a multiple of
# PAGE_ALIGNMENT. It also prints each library's ELF LOAD segment alignment (p_align, the largest
# page size the library can be mapped with), which is fixed when the library is linked, not by
# packaging. 16 KB pages exist only on 64-bit devices (arm64-v8a, x86_64). TFLite 2.16.1's
# libraries are all 4 KB (and no newer org.tensorflow:tensorflow-lite on Maven Central ships any:
# 2.17.0 is a relocation to com.google.ai.edge.litert, which only Google's Maven serves), so they
# rely on Android's 16 KB compatibility mode; MODE "elf" fails on that (--strict-elf-align), the
# default verification only reports it.
check_native_alignment() {  # check_native_alignment APK MODE: MODE zip | elf | report (exit 0)
    python3 - "$1" "$PAGE_ALIGNMENT" "$2" <<'PY'
import struct, sys, zipfile
apk, page, mode = sys.argv[1], int(sys.argv[2]), sys.argv[3]
SIXTY_FOUR_BIT_ABIS = ("arm64-v8a", "x86_64")
bad_zip = 0
low = []   # 64-bit libraries whose LOAD p_align is below the page size
def load_aligns(blob):
    """The p_align of each PT_LOAD program header (ELF32 or ELF64, either byte order)."""
    if blob[:4] != b"\x7fELF":
        raise ValueError("not an ELF file")
    end = "<" if blob[5] == 1 else ">"
    if blob[4] == 2:   # ELFCLASS64
        phoff, = struct.unpack(end + "Q", blob[32:40])
        phentsize, phnum = struct.unpack(end + "HH", blob[54:58])
        fmt, align_at = "Q", 48
    else:              # ELFCLASS32
        phoff, = struct.unpack(end + "I", blob[28:32])
        phentsize, phnum = struct.unpack(end + "HH", blob[42:46])
        fmt, align_at = "I", 28
    out = []
    for i in range(phnum):
        h = phoff + i * phentsize
        if struct.unpack(end + "I", blob[h:h + 4])[0] == 1:   # PT_LOAD
            out.append(struct.unpack(end + fmt, blob[h + align_at:h + align_at + struct.calcsize(fmt)])[0])
    return out
with zipfile.ZipFile(apk) as z, open(apk, "rb") as f:
    for info in z.infolist():
        if not (info.filename.startswith("lib/") and info.filename.endswith(".so")):
            continue
        f.seek(info.header_offset)
        header = f.read(30)
        if header[:4] != b"PK\x03\x04":
            print(f"{info.filename}: bad local header"); bad_zip = 1; continue
        name_len, extra_len = struct.unpack("<HH", header[26:30])
        data = info.header_offset + 30 + name_len + extra_len
        stored = info.compress_type == zipfile.ZIP_STORED
        ok = not stored or data % page == 0
        bad_zip |= not ok
        abi = info.filename.split("/")[1]
        try:
            align = min(load_aligns(z.read(info)))
            elf = f", ELF LOAD p_align {align} ({align // 1024} KB)"
        except (ValueError, struct.error) as e:
            align, elf = 0, f", ELF unreadable ({e})"
        if abi in SIXTY_FOUR_BIT_ABIS and align < page:
            low.append(info.filename)
            elf += " < 16 KB: needs the compatibility mode on 16 KB-page devices"
        print(f"{info.filename}: {'stored at ' + str(data) if stored else 'deflated'}"
              f"{'' if ok else ' NOT ' + str(page) + '-aligned'}{elf}")
if low:
    print(f"{len(low)} 64-bit libraries have ELF LOAD p_align below {page} bytes"
          + (" (failing: --strict-elf-align)" if mode == "elf" else " (reported, not failed; --strict-elf-align fails on it)"))
sys.exit(bad_zip if mode == "zip" else (1 if low else 0) if mode == "elf" else 0)
PY
}

verify_apk() {
    local apk="$1" fail=0
    step "verify $apk"
    require_tools apksigner aapt2 unzip zipalign
    [[ -f "$apk" ]] || die "no APK at $apk"
    check() {  # check DESCRIPTION COMMAND...
        local what="$1"; shift
        if "$@" >/dev/null 2>&1; then echo "    ok    $what"; else echo "    FAIL  $what"; fail=1; fi
    }
    local badging listing dex_classes
    badging="$(aapt2 dump badging "$apk" 2>/dev/null || true)"
    listing="$(unzip -v "$apk")"
    check "apksigner verify" apksigner verify "$apk"
    echo "          $(apksigner verify --verbose "$apk" 2>/dev/null | grep -E 'v2 scheme|v3 scheme' | tr '\n' ' ')"
    check "zipalign -c -p $ZIP_ALIGNMENT" zipalign -c -p "$ZIP_ALIGNMENT" "$apk"
    check "package name $PACKAGE" grep -q "^package: name='$PACKAGE'" <<<"$badging"
    check "minSdk $MIN_SDK" grep -q "^sdkVersion:'$MIN_SDK'" <<<"$badging"
    check "targetSdk $TARGET_SDK" grep -q "^targetSdkVersion:'$TARGET_SDK'" <<<"$badging"
    check "launchable activity $PACKAGE.MainActivity" grep -q "^launchable-activity: name='$PACKAGE.MainActivity'" <<<"$badging"
    grep -E "^(package|sdkVersion|targetSdkVersion|launchable-activity|native-code)" <<<"$badging" | sed 's/^/          /'
    check "assets/$MODEL_ASSET present and Stored (uncompressed)" \
        grep -q -E "^ +[0-9]+ +Stored +.* assets/$MODEL_ASSET$" <<<"$listing"
    if [[ -z "$verify_only" && -f "$model" ]]; then
        check "assets/$MODEL_ASSET is $(basename "$model")" cmp -s <(unzip -p "$apk" "assets/$MODEL_ASSET") "$model"
    fi
    check "sample images in assets/samples" grep -q "assets/samples/.*\.png$" <<<"$listing"
    check "lib/$REQUIRED_ABI/libtensorflowlite_jni.so" grep -q " lib/$REQUIRED_ABI/libtensorflowlite_jni.so$" <<<"$listing"
    check "lib/$REQUIRED_ABI/libtensorflowlite_gpu_jni.so" grep -q " lib/$REQUIRED_ABI/libtensorflowlite_gpu_jni.so$" <<<"$listing"
    check "lib/*.so compressed, or stored $PAGE_ALIGNMENT-byte aligned" check_native_alignment "$apk" zip
    if [[ $strict_elf_align = 1 ]]; then
        check "64-bit lib/*.so ELF LOAD p_align >= $PAGE_ALIGNMENT (--strict-elf-align)" check_native_alignment "$apk" elf
    fi
    check_native_alignment "$apk" report 2>&1 | sed 's/^/          /'
    local tmp
    tmp="$(mktemp -d)"
    unzip -q -o "$apk" classes.dex -d "$tmp"
    if command -v dexdump >/dev/null; then
        dex_classes="$(dexdump "$tmp/classes.dex" 2>/dev/null | sed -n -E "s/^ *Class descriptor *: *'(.*)'$/\1/p")"
        check "classes.dex is valid (dexdump)" test -n "$dex_classes"
    else
        dex_classes="$(grep -a -o -E 'L(org/keras_sr|org/tensorflow)/[A-Za-z0-9_/$]+;' "$tmp/classes.dex" | sort -u)"
    fi
    rm -rf "$tmp"
    local cls
    for cls in "L${PACKAGE//.//}/MainActivity;" "L${PACKAGE//.//}/SuperResolver;" "L${PACKAGE//.//}/core/Tiler;" \
            'Lorg/tensorflow/lite/Interpreter;' 'Lorg/tensorflow/lite/nnapi/NnApiDelegate;' \
            'Lorg/tensorflow/lite/gpu/GpuDelegate;' 'Lorg/tensorflow/lite/gpu/GpuDelegateFactory$Options;' \
            'Lorg/tensorflow/lite/gpu/CompatibilityList;'; do
        check "classes.dex has $cls" grep -q -x -F "$cls" <<<"$dex_classes"
    done
    [[ $fail = 0 ]] || die "APK verification failed: $apk"
    echo "    all checks passed"
}

# --- main ------------------------------------------------------------------------------------

[[ $install_deps = 1 ]] && install_packages
if [[ -n "$verify_only" ]]; then
    verify_apk "$verify_only"
    exit 0
fi
mkdir -p "$BUILD" "$CACHE"
[[ $run_tests = 1 ]] && run_unit_tests
if [[ $build = 1 ]]; then
    build_apk
    verify_apk "$out"
fi
echo "==> done"

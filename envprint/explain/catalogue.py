"""The catalogue of finding kinds: for each, a title, why it matters for skew, and its remedy template."""

from __future__ import annotations

from collections.abc import Mapping

from envprint._base import Record, record

__all__ = ["CATALOGUE", "ENTRIES", "KINDS", "PROBE_GROUPS", "PROBE_REMEDIES", "Explanation"]


@record
class Explanation(Record):
    """What one kind of finding means: a short title, why it matters for skew, and how to fix it."""

    kind: str
    title: str
    why: str
    remedy: str  # a template: {name}, {old}, {new}, {set_old}


_REBUILD = "build the serving image from the training image's lock file (same wheels, same base image)"

ENTRIES: tuple[Explanation, ...] = (
    # ----------------------------------------------------------------------------------- general
    Explanation(
        "descriptive",
        "Descriptive field differs",
        "Hostnames, labels, paths, UUIDs and similar fields describe a capture; they never change a "
        "model's numbers and are shown for orientation only.",
        "Nothing to do.",
    ),
    Explanation(
        "measured.unavailable",
        "Measured on one side, unavailable on the other",
        "One side could not measure this field (no driver, no /proc access, a collector error, an older "
        "envprint), so envprint cannot tell whether it matches. Unknown is not absent: a difference may "
        "hide here, so a value measured in the reference and unmeasurable here refuses.",
        "Fix what the reason shown names on the side that could not measure it (install the driver, "
        "grant /proc access, import the framework), then capture again.",
    ),
    Explanation(
        "measured.pending",
        "Not measured yet in this process",
        "The serving process can measure this value only later in its life (a framework runtime "
        "that starts with the first prediction, a BLAS or OpenMP library that loads when the model's "
        "library is imported). It is not known to differ; it is reported so the gap is visible.",
        "import the model's libraries and run one prediction before envprint.guard()",
    ),
    Explanation(
        "meta.schema",
        "Fingerprint schema version differs",
        "The two files were written by envprint versions with different schemas; fields added "
        "later read as unavailable on the older side.",
        "Capture both sides with the same envprint version.",
    ),
    Explanation(
        "field.differs",
        "Other field differs",
        "A field this envprint has no specific rule for differs; it is part of the environment's "
        "identity, so it is reported rather than ignored.",
        "Make {name} the same on both sides ({old} on side a), or waive it in the policy with a reason.",
    ),
    # ------------------------------------------------------------------------------------ python
    Explanation(
        "python.version",
        "Python version differs",
        "Minor versions change numerics-relevant builtins: sum() of floats is compensated from 3.12, "
        "str/bytes hashing changed in 3.11, and the Unicode database moves tokenizers. Patch "
        "releases rarely change numbers but ship different C-extension ABIs and bug fixes.",
        "Use Python {old} in the serving image (the same base image as training).",
    ),
    Explanation(
        "python.implementation",
        "Python implementation differs",
        "CPython and PyPy (or another implementation) differ in float formatting, hashing and the "
        "C libraries they link, and extension wheels are built separately for each.",
        "Serve with the implementation used in training ({old}).",
    ),
    Explanation(
        "python.hash_algorithm",
        "str/bytes hash algorithm differs",
        "Set and dict-of-set iteration order of strings follows the hash function, so vocabulary "
        "ids, category order and `hash(x) % n` feature buckets change even with PYTHONHASHSEED fixed.",
        "Serve with the same Python build as training (hash algorithm {old}).",
    ),
    Explanation(
        "python.unicode",
        "Unicode database version differs",
        "str.isalnum, casefold, NFKC normalisation and regex \\w follow the Unicode database of the "
        "interpreter; tokenizers classify newly assigned characters differently.",
        "Serve with the Python minor version used in training (Unicode {old}).",
    ),
    Explanation(
        "python.build",
        "Python build differs",
        "A different compiler, ABI or float repr style means a differently built interpreter; "
        "float repr style changes how every float prints and therefore what text features contain.",
        "Use the training base image's interpreter ({name}: {old}).",
    ),
    # ---------------------------------------------------------------------------------- packages
    Explanation(
        "package.version",
        "Package version differs",
        "Numerics packages change kernels, defaults and algorithms between releases (numpy 2.3 "
        "changed float32 sums by 6 ULP), so a model can score differently on another version.",
        "pip install '{name}=={old}'",
    ),
    Explanation(
        "package.build",
        "Package build differs",
        "The same version built differently (a +cu121 vs +cpu local label, another wheel tag or "
        "platform) links other BLAS, CUDA or SIMD code, so it computes differently.",
        "pip install --force-reinstall '{name}=={old}'  # the training build, from the index or wheel training used",
    ),
    Explanation(
        "package.added",
        "Package installed only on side b",
        "An extra package rarely changes numbers by being installed, but numerics packages can be "
        "picked up implicitly (a Keras backend, a faster BLAS, a pandas engine).",
        "Remove {name} from the serving image, or add it to the training environment and revalidate.",
    ),
    Explanation(
        "package.removed",
        "Package installed only on side a",
        "A package the training environment had is missing: code paths that used it fall back to "
        "another implementation (or fail at import).",
        "pip install '{name}=={old}'",
    ),
    Explanation(
        "package.unused",
        "Package the reference never used differs",
        "The reference was captured in the model's process, which neither imported this distribution "
        "nor imported anything that depends on it (a test or tooling dependency): it cannot have "
        "shaped the numbers the reference computed, so its change is at most a warning.",
        "Nothing to do for the model; remove {name} from the training image if it is not needed, or "
        "pin it on both sides (pip install '{name}=={old}') if serving code imports it.",
    ),
    Explanation(
        "package.unreadable",
        "Package metadata unreadable",
        "A distribution whose metadata cannot be read has an unknown version and build, so it "
        "cannot be compared: a broken install can hide any difference.",
        "Reinstall {name} on the side where it is unreadable.",
    ),
    Explanation(
        "package.installer",
        "Package installer differs",
        "pip, uv and conda install the same version from different builds (conda links its own "
        "BLAS and OpenMP); the version alone does not show it.",
        "Install {name} with the same installer and channel as training ({old}).",
    ),
    Explanation(
        "package.origin",
        "Package installed from another source",
        "The same version number can be different code: an editable install (pip install -e) runs "
        "its source tree as it is now, a VCS install is whatever commit was checked out, a local "
        "wheel or source tree is whatever was built there (direct_url.json, PEP 610/660).",
        "Install {name} in the serving image the way training did: a released wheel from the index, "
        "or the same VCS commit (`envprint export --format requirements` writes that pin).",
    ),
    Explanation(
        "module.imported",
        "Imported modules differ",
        "A module loaded in one process only can change process-wide state: a native library "
        "compiled with -ffast-math sets FTZ/DAZ, a framework sets thread pools.",
        "Import the same modules in the serving process as in training (or capture in-process, "
        "after the model is loaded).",
    ),
    # ---------------------------------------------------------------------------------- platform
    Explanation(
        "platform.machine",
        "Machine architecture differs",
        "x86-64 and aarch64 use different BLAS kernels, libm and FMA contraction, and convert NaN "
        "or out-of-range floats to integers differently.",
        "Serve on the architecture the model was validated on ({old}), or validate it on {new}.",
    ),
    Explanation(
        "platform.libc",
        "C library differs",
        "math.* and numpy's non-SIMD fallbacks come from libm: glibc rewrites functions between "
        "releases (erfc became correctly rounded) and musl differs from glibc by several ULP.",
        "Use the training base image's C library ({old}).",
    ),
    Explanation(
        "platform.os",
        "Operating system release differs",
        "The OS release rarely changes numbers by itself; its C library and tzdata, compared separately, do.",
        "Nothing to do unless a C library or tzdata finding accompanies it.",
    ),
    Explanation(
        "platform.kernel",
        "Kernel version differs",
        "The kernel does not compute model numbers; it is shown to help identify hosts.",
        "Nothing to do.",
    ),
    # ----------------------------------------------------------------------------------------- cpu
    Explanation(
        "cpu.model",
        "CPU model differs",
        "numpy, OpenBLAS, MKL and oneDNN pick SIMD kernels by CPU, and OpenBLAS picks its core type "
        "and blocking from it: float results move at the ULP level and argsort ties can reorder.",
        "Pin the kernel choice (OPENBLAS_CORETYPE, MKL_CBWR, NPY_DISABLE_CPU_FEATURES) to what "
        "training used, or serve on the training CPU family.",
    ),
    Explanation(
        "cpu.isa",
        "CPU instruction set differs",
        "AVX-512, AVX2, FMA and AMX select different code paths (fused or separate multiply-add, "
        "other polynomial approximations); a hypervisor may also hide flags.",
        "Serve on a CPU with the training ISA ({old}), or cap both sides to the same level "
        "(NPY_DISABLE_CPU_FEATURES, ONEDNN_MAX_CPU_ISA, OPENBLAS_CORETYPE).",
    ),
    Explanation(
        "cpu.numpy_simd",
        "numpy SIMD dispatch differs",
        "numpy picks its ufunc and sort kernels at run time: without AVX-512 (or AVX2) float "
        "transcendental functions move by 1-3 ULP and argsort tie order changes, so top-k features "
        "can change.",
        "Give both sides the same SIMD targets: export NPY_DISABLE_CPU_FEATURES with the targets "
        "one side lacks on the other side, or serve on the training CPU family.",
    ),
    Explanation(
        "cpu.cores",
        "CPU count, affinity or quota differs",
        "Default thread counts of OpenBLAS, OpenMP, TensorFlow and torch follow the CPUs the "
        "process may use; a different thread count splits reductions differently.",
        "Set the thread counts explicitly on both sides (OMP_NUM_THREADS, OPENBLAS_NUM_THREADS, "
        "framework intra-op threads) instead of relying on the CPU count.",
    ),
    Explanation(
        "cpu.hypervisor",
        "Hypervisor presence differs",
        "Virtual machines can mask CPUID flags and report odd cache sizes, which changes OpenBLAS's "
        "core selection and blocking.",
        "Check the BLAS kernel and CPU flag findings; pin OPENBLAS_CORETYPE if they differ.",
    ),
    Explanation(
        "cpu.cache",
        "CPU cache size differs",
        "OpenBLAS and oneDNN block matrices by cache size; on most builds this changes speed only.",
        "Nothing to do unless BLAS probes differ; then pin OPENBLAS_CORETYPE / OPENBLAS_L2_SIZE.",
    ),
    # ----------------------------------------------------------------------------------------- gpu
    Explanation(
        "gpu.model",
        "GPU model differs",
        "cuBLAS and cuDNN choose algorithms by GPU (SM count drives split-K), and TF32 exists only "
        "from Ampere on, so the same model computes differently on another GPU model.",
        "Serve on the GPU model used in validation ({old}), or validate on {new}.",
    ),
    Explanation(
        "gpu.driver",
        "GPU driver differs",
        "A major driver change ships another CUDA user-mode driver and JIT compiler; minor "
        "updates rarely change numbers.",
        "Use driver {old} on the serving nodes (same major version at least).",
    ),
    Explanation(
        "gpu.cuda",
        "CUDA driver API version differs",
        "The driver's CUDA version bounds which CUDA runtime and PTX JIT the frameworks can use.",
        "Use a driver with CUDA {old} on the serving nodes.",
    ),
    Explanation(
        "gpu.nvml",
        "NVML version differs",
        "NVML only reports on GPUs; it follows the driver and does not compute.",
        "Nothing to do.",
    ),
    Explanation(
        "gpu.mig",
        "GPU MIG configuration differs",
        "A MIG slice has fewer SMs than the whole GPU, so cuBLAS picks other algorithms and reduction splits.",
        "Serve on the same MIG profile (or whole GPU) as validation.",
    ),
    Explanation(
        "gpu.ecc",
        "GPU ECC mode differs",
        "ECC does not change computed values (except after memory errors); shown for completeness.",
        "Nothing to do.",
    ),
    Explanation(
        "gpu.memory",
        "GPU memory size differs",
        "Memory size does not change values, but frameworks may pick other algorithms when workspace memory is short.",
        "Nothing to do unless GPU probes differ.",
    ),
    Explanation(
        "gpu.device",
        "GPU devices differ",
        "A GPU present on one side only means the model runs on another device (or on CPU): every "
        "kernel differs. A different device count changes data-parallel reductions.",
        "Serve with the same devices visible as in validation (CUDA_VISIBLE_DEVICES).",
    ),
    # ---------------------------------------------------------------------------------------- blas
    Explanation(
        "blas.kernel",
        "BLAS kernel (core type) differs",
        "OpenBLAS picks a kernel family per CPU (Haswell, SkylakeX, Sandybridge...): matrix products "
        "then differ in 10-90 % of elements at the ULP level, and kernels without FMA differ more.",
        "export OPENBLAS_CORETYPE={old} in the serving image.",
    ),
    Explanation(
        "blas.threads",
        "BLAS thread count differs",
        "BLAS splits dot products and matrix products across threads; 1 thread and 2 threads sum "
        "in different orders (measured: 18 ULP on a dot product, 9 % of SGEMM elements).",
        "export OPENBLAS_NUM_THREADS={old}  # or OMP_NUM_THREADS / MKL_NUM_THREADS, whichever the image sets",
    ),
    Explanation(
        "blas.version",
        "BLAS library version differs",
        "BLAS releases retune kernels and blocking; a numpy or scipy wheel bundles its own OpenBLAS.",
        "Pin the distribution that ships this BLAS (the owner in {name}, e.g. numpy for numpy/openblas) "
        "to its training version.",
    ),
    Explanation(
        "blas.library",
        "BLAS/OpenMP library loaded on one side only",
        "Another BLAS vendor (OpenBLAS, MKL, BLIS, Accelerate) is another set of kernels; an extra "
        "OpenMP runtime changes thread behaviour and can conflict with the first.",
        "Load the same BLAS in serving: install the same numpy/scipy/torch builds as training.",
    ),
    # --------------------------------------------------------------------------------- determinism
    Explanation(
        "determinism.hash_seed",
        "Hash seed differs",
        "PYTHONHASHSEED fixes the iteration order of sets of str, bytes, tuples and dates; another "
        "seed (or a random one) reorders vocabularies and category ids built from sets.",
        "{set_old}",
    ),
    Explanation(
        "determinism.hash_randomization",
        "Hash randomization differs",
        "With PYTHONHASHSEED unset (or 'random') each process hashes str, bytes, tuples and dates with a new "
        "seed, so set iteration order — and vocabularies or category ids built from sets — changes from "
        "run to run; with a fixed seed it is reproducible.",
        "Set PYTHONHASHSEED in the serving image to the value training used (see the PYTHONHASHSEED "
        "finding); hash randomization {old} in training, {new} here.",
    ),
    Explanation(
        "determinism.kernel",
        "Kernel or ISA selection variable differs",
        "Variables like OPENBLAS_CORETYPE, MKL_CBWR, NPY_DISABLE_CPU_FEATURES, TF_ENABLE_ONEDNN_OPTS "
        "and ONEDNN_MAX_CPU_ISA choose which kernels run: float results move at the ULP level, and "
        "numpy's dispatch also changes argsort tie order.",
        "{set_old}",
    ),
    Explanation(
        "determinism.precision",
        "Reduced-precision switch differs",
        "TF32, bf16 or lower matmul precision keeps 10 (or 7) mantissa bits instead of 23: float32 "
        "matmuls and convolutions move by about 1e-3 relative, enough to flip close decisions.",
        "{set_old}",
    ),
    Explanation(
        "determinism.flag",
        "Determinism flag differs",
        "Determinism switches (TF_DETERMINISTIC_OPS, TF_CUDNN_DETERMINISTIC, CUBLAS_WORKSPACE_CONFIG, "
        "XLA flags) select other GPU algorithms or compiled kernels, which changes results and "
        "their run-to-run stability.",
        "{set_old}",
    ),
    Explanation(
        "determinism.backend",
        "Backend or device selection differs",
        "KERAS_BACKEND, JAX_ENABLE_X64, TF_USE_LEGACY_KERAS and CUDA_VISIBLE_DEVICES choose which "
        "framework, dtype or device runs the model: a different one computes differently.",
        "{set_old}",
    ),
    Explanation(
        "determinism.threads",
        "Thread-count variable differs",
        "OPENBLAS_NUM_THREADS, OMP_NUM_THREADS and friends set how reductions are split across "
        "threads; a different split sums in a different order (ULP-level differences).",
        "{set_old}  # better: set it explicitly on both sides",
    ),
    Explanation(
        "determinism.seed",
        "Recorded seed differs",
        "Seeds drive data splits, shuffles, dropout and random augmentation; another seed retrains "
        "a different model and samples differently at inference.",
        "Seed both sides identically with envprint.seed_everything({old}).",
    ),
    # ---------------------------------------------------------------------------------- frameworks
    Explanation(
        "framework.imported",
        "Framework imported on one side only",
        "A framework's numeric state (threads, precision, determinism) and its probes are recorded only "
        "where it was imported: the side that did not import it is a blind spot, not a match.",
        "envprint capture --import {name} (or capture in the serving process, after the model is loaded).",
    ),
    Explanation(
        "framework.version",
        "Framework module version differs",
        "The imported module's version; the package finding for the same change carries its severity.",
        "follow the fix of the {name} package finding",
    ),
    Explanation(
        "framework.determinism",
        "Framework determinism setting differs",
        "Op determinism and cuDNN determinism/benchmark select other (deterministic or autotuned) "
        "algorithms, so results and their run-to-run stability change.",
        "{call}",
    ),
    Explanation(
        "framework.precision",
        "Framework precision setting differs",
        "TF32, float32_matmul_precision, mixed precision and x64 switches change the precision "
        "float32 work is done in: results move by up to 1e-3 relative.",
        "{call}",
    ),
    Explanation(
        "framework.kernel",
        "Framework kernel library setting differs",
        "oneDNN on or off, and the ATen CPU capability, select other kernels (TensorFlow softmax "
        "moved 6 ULP with oneDNN off, and MatMul lost batch invariance).",
        "{call}",
    ),
    Explanation(
        "framework.threads",
        "Framework thread pool differs",
        "Intra-op threads split reductions in torch (2-3 ULP measured) and schedule TensorFlow ops.",
        "{call}",
    ),
    Explanation(
        "framework.cuda",
        "Framework CUDA/cuDNN build differs",
        "Another CUDA or cuDNN version ships other kernels and algorithm heuristics; a CPU build "
        "versus a CUDA build runs on another device entirely.",
        "Install the framework build with the training CUDA/cuDNN ({name} {old}).",
    ),
    Explanation(
        "framework.devices",
        "Framework devices differ",
        "The devices a framework sees decide where the model runs; CPU and GPU kernels differ.",
        "Make the same devices visible to the serving process (CUDA_VISIBLE_DEVICES).",
    ),
    Explanation(
        "framework.setting",
        "Other framework setting differs",
        "A framework setting envprint records but has no specific rule for differs.",
        "{call}",
    ),
    # --------------------------------------------------------------------------------- env, time
    Explanation(
        "env.variable",
        "Allow-listed environment variable differs",
        "An allow-listed numerics variable (NCCL_*, CUDA_*, LD_PRELOAD...) differs; these change "
        "libraries loaded or their configuration.",
        "{set_old}",
    ),
    Explanation(
        "env.placement",
        "Thread placement or logging variable differs",
        "It pins or schedules threads, sets how they wait or how memory is allocated, or sets log "
        "verbosity: speed and messages change, a model's numbers do not.",
        "Nothing to do for the numbers.",
    ),
    Explanation(
        "time.tz_variable",
        "TZ variable differs",
        "TZ selects the local time zone: hour-of-day and weekday features, naive datetime "
        "timestamps and DST handling change with it.",
        "{set_old}",
    ),
    Explanation(
        "time.zone",
        "Local time zone differs",
        "Local-time features (hour of day, weekday, date boundaries) and naive datetime.timestamp() "
        "are computed in the local zone; another zone shifts them by hours and moves DST edges.",
        "export TZ={old}  # or compute local-time features in UTC explicitly",
    ),
    Explanation(
        "time.tzdata",
        "tz database version differs",
        "tzdata releases change UTC offsets of some zones (Mexico, Iran, Paraguay, Greenland, "
        "Kazakhstan between 2022 and 2026) and add or rename zones; zoneinfo uses the tzdata "
        "package when the system database is missing.",
        "Use the tz database training used ({old}): the training base image's system tzdata, or the "
        "tzdata package pinned to the training version.",
    ),
    Explanation(
        "locale.category",
        "Locale category differs",
        "After setlocale, locale.atof, '{:n}' formatting, strxfrm collation and strftime names "
        "follow the locale: under de_DE locale.atof('0.1') returns 1.0.",
        "Set the same locale in the serving process ({name}={old}), or avoid locale-dependent parsing.",
    ),
    Explanation(
        "locale.env",
        "Locale variable differs",
        "LANG and LC_* decide the locale an application gets when it calls setlocale, and LC_CTYPE "
        "the text encoding at startup.",
        "{set_old}",
    ),
    Explanation(
        "locale.encoding",
        "Text encoding differs",
        "open() without an encoding decodes files with the preferred encoding: vocabulary or CSV "
        "files with non-ASCII text read differently (or fail) under another encoding.",
        "Set PYTHONUTF8=1 (or the training LANG) in the serving image, and pass encoding= to open().",
    ),
    # ----------------------------------------------------------------------------- bound metadata
    Explanation(
        "custom.differs",
        "Custom metadata differs",
        "User-supplied metadata recorded with the fingerprint; envprint does not know what it means.",
        "Nothing to do unless your own policy says otherwise.",
    ),
    Explanation(
        "artifact.unbound",
        "Artifact bound on one side only",
        "One fingerprint is bound to model files and the other is not (a serving capture usually "
        "is not); nothing to compare.",
        "Nothing to do; `envprint verify` checks the model files against the training fingerprint.",
    ),
    Explanation(
        "artifact.differs",
        "Model artifact differs",
        "The two fingerprints describe different model files: a difference in outputs may come "
        "from the model, not the environment.",
        "Deploy the artifact the training fingerprint was made for (check with `envprint verify`).",
    ),
    Explanation(
        "policy.differs",
        "Embedded policy differs",
        "The policy training embedded for serving differs; it changes what the guard refuses, not "
        "what the environment computes.",
        "Nothing to do for the environment; review the policy change.",
    ),
    Explanation(
        "freshness.profile",
        "Feature freshness profile differs",
        "The age of feature values at label time, recorded from training data, describes the data a "
        "model learned from, not the environment; serving ages are compared with it by "
        "`envprint freshness --baseline`.",
        "Nothing to do for the environment; compare serving freshness with `envprint freshness LOG --baseline FP`.",
    ),
    Explanation(
        "policy.version",
        "Version outside the policy's range",
        "The policy requires a version range for this package on the serving side.",
        "Install a version of {name} within the policy's range in the serving image.",
    ),
    # -------------------------------------------------------------------------------------- probes
    Explanation(
        "probe.differs",
        "Probe computes differently",
        "The same fixed computation gave other bits on the two sides, so the stacks compute "
        "differently. The magnitude says how far (ULP, relative error) and whether the difference "
        "is categorical (order, text, flags), which no float tolerance absorbs.",
        f"Apply the remedy of the likely cause shown; when no cause is named, {_REBUILD}.",
    ),
    Explanation(
        "probe.unstable",
        "Probe not reproducible within one process",
        "Two runs of the same computation in one process gave different bits: results depend on "
        "thread timing or GPU atomics, so even one host does not reproduce itself.",
        "Enable deterministic algorithms (TF_DETERMINISTIC_OPS=1, "
        "torch.use_deterministic_algorithms(True), CUBLAS_WORKSPACE_CONFIG=:4096:8) or fix the thread counts.",
    ),
    Explanation(
        "probe.missing",
        "Probe recorded on one side only",
        "The probe ran in one capture only (another envprint version, or --probes limited the "
        "groups), so this part of the stack was not compared.",
        "Capture both sides with the same envprint version and the same probe groups.",
    ),
    Explanation(
        "probe.skipped",
        "Probe skipped on one side",
        "The probe did not run on one side (its framework was not imported there, or the time "
        "budget ran out), so this part of the stack was not compared.",
        "Capture with the framework imported (--import) and a larger --probe-budget.",
    ),
    Explanation(
        "probe.failed",
        "Probe failed on one side",
        "The computation raised on one side only: a library is missing or broken there, which the model may hit too.",
        "Read the failure reason shown and repair that library in the failing environment.",
    ),
    Explanation(
        "parity.differs",
        "Transform probe outputs differ",
        "A transform or model that computes differently at serving than at training feeds the model inputs "
        "it was never trained on: training-serving skew in the feature code itself (missing-value fill, "
        "unseen categories, time zones, vocabularies), which no environment pin fixes.",
        "Make serving call the same transform code and artifacts (fill values, vocabularies, encoders) as "
        "training, or record the baseline again after an intended change; `envprint parity BASELINE "
        "--probes-from MODULE` lists every differing row and column.",
    ),
    Explanation(
        "parity.error",
        "Transform probe could not be compared",
        "The registered function raised, or its golden inputs or version changed, so its outputs cannot "
        "be checked against training's: the serving transform is unverified.",
        "Fix the error shown, or restore the golden inputs and version the baseline was recorded with.",
    ),
    Explanation(
        "parity.missing",
        "Transform probe not registered",
        "Training recorded this transform probe but this process did not register it, so the transform "
        "was not re-checked here.",
        "Import the module that registers {name} (envprint capture/parity --probes-from MODULE, or the "
        "envprint.probes entry point) before checking.",
    ),
    Explanation(
        "parity.added",
        "Transform probe recorded only on one side",
        "The second fingerprint records a transform probe the first does not have; nothing to compare.",
        "No action needed; record it on the training side too to have it checked.",
    ),
    Explanation(
        "model.predictions",
        "The model's golden predictions differ",
        "The model, given the very inputs it was validated on, computes other outputs in this "
        "environment: this is the consequence every other finding can only suggest. The differences "
        "listed with it are the candidate causes, most likely first.",
        "Apply the remedy of the first cause named; if none is named, build the serving image from the "
        "training image's lock file and capture again.",
    ),
    Explanation(
        "model.match",
        "The model's golden predictions are reproduced",
        "The model computes the outputs it computed in training on the inputs it was validated on: "
        "differences that act only through the model (versions, kernels, threads, CPU features) did "
        "not change this model's numbers.",
        "Nothing to do.",
    ),
    Explanation(
        "model.unchecked",
        "Golden predictions recorded, not re-run",
        "The fingerprint carries the model's golden predictions, but this check did not run the "
        "model, so the differences found are judged without knowing their consequence.",
        "envprint.guard(..., model=model)  # re-runs the golden predictions",
    ),
    Explanation(
        "golden.inputs",
        "Golden prediction inputs differ",
        "The inputs the model's golden predictions are re-run on differ between the fingerprints; they "
        "describe what is checked, not the environment.",
        "Nothing to do for the environment.",
    ),
    Explanation(
        "probe.incomparable",
        "Probe results not comparable",
        "The probe's definition changed between envprint versions, or its result depends on a "
        "per-process random hash seed on one side, so the bits cannot be compared.",
        "Capture both sides with the same envprint version and a fixed PYTHONHASHSEED.",
    ),
)

#: finding kind -> its explanation
CATALOGUE: Mapping[str, Explanation] = {e.kind: e for e in ENTRIES}

#: every kind of finding, in catalogue order
KINDS: tuple[str, ...] = tuple(CATALOGUE)

#: probe group -> what a difference in it does to a model (added to probe.differs's "why")
PROBE_GROUPS: Mapping[str, str] = {
    "fpenv": "FTZ/DAZ flushes subnormal values to zero, in arithmetic and even in float() parsing and "
    "repr, so tiny features and gradients become exact zeros.",
    "blas": "Matrix products and dot products (dense layers, linear models) round differently, and "
    "a row's result may depend on the batch it is served in.",
    "reductions": "Sums and means (normalisation, pooling, aggregated features) round differently.",
    "ufunc": "exp, log, tanh and other elementwise functions (activations, feature transforms) differ by a few ULP.",
    "libm": "math.* and numpy's scalar fallbacks come from a different C math library.",
    "activations": "softmax, sigmoid, gelu and layernorm outputs differ; argmax and top-5 can change.",
    "sort": "argsort tie order changes, so top-k features and ranked ids can change.",
    "linalg": "Decompositions differ (PCA or eigenvector signs can flip).",
    "fft": "Spectral features differ (and float32 input may give another dtype).",
    "text": "Floats are printed or parsed differently, so features that travel as text change.",
    "locale": "Locale-aware parsing, formatting and collation differ (decimal comma, sort order).",
    "time": "Local-time features (hour, weekday, DST) differ.",
    "hash": "Set and dict iteration order differs, so vocabulary and category ids differ.",
    "rng": "Seeded random streams differ, so seeded splits, shuffles and sampling differ.",
    "casts": "Float-to-integer casts of NaN, infinity or out-of-range values differ (bucketing, ids).",
    "tensorflow": "TensorFlow kernels compute differently (oneDNN, XLA, precision).",
    "torch": "torch kernels compute differently (MKL, ATen dispatch, threads, precision).",
}


#: probe group -> the remedy of a difference no other finding explains better
PROBE_REMEDIES: Mapping[str, str] = {
    "fpenv": "Find the library that turns FTZ/DAZ on and rebuild it without -ffast-math/-Ofast (GCC 13 "
    "and later no longer set FTZ/DAZ from shared libraries), or remove torch.set_flush_denormal(True); "
    "then capture again to confirm.",
}

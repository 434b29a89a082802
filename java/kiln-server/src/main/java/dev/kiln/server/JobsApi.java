package dev.kiln.server;

import com.fasterxml.jackson.core.JsonProcessingException;
import com.fasterxml.jackson.databind.JsonNode;

import java.io.IOException;
import java.io.InputStream;
import java.nio.file.Files;
import java.nio.file.LinkOption;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.security.DigestInputStream;
import java.security.MessageDigest;
import java.time.Instant;
import java.util.ArrayList;
import java.util.HexFormat;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.UUID;
import java.util.stream.Stream;

/**
 * The job routes: submit (POST /v1/jobs), look (GET /v1/jobs/{id}, GET /v1/jobs), fetch results
 * (GET /v1/jobs/{id}/artifacts/{name}) and cancel (DELETE /v1/jobs/{id}). Every route runs as the tenant of the
 * request's bearer token and sees only that tenant's jobs (another tenant's job is a 403).
 */
final class JobsApi {
    private static final Set<String> PARTS = Set.of("model", "model_path", "options", "data", "data_path");
    /** Seconds a client is asked to wait after a 429: about one small job's run. */
    static final int RETRY_AFTER_SECONDS = 30;

    private final ServerConfig config;
    private final DataDir dirs;
    private final JobStore store;
    private final Workers workers;
    private final Metrics metrics;
    private final SafeExtractor extractor;
    private final AllowedRoots allowedRoots;
    private final IdenticalJobs identical;
    private final Object admission = new Object();

    JobsApi(ServerConfig config, DataDir dirs, JobStore store, Workers workers, Metrics metrics) {
        this.config = config;
        this.dirs = dirs;
        this.store = store;
        this.workers = workers;
        this.metrics = metrics;
        this.extractor = new SafeExtractor(config.maxUnpackedBytes(), config.maxArchiveEntries(),
                config.maxArchiveRatio());
        this.allowedRoots = new AllowedRoots(config.allowedRoots(), config.maxUnpackedBytes());
        this.identical = new IdenticalJobs(store, dirs, metrics);
    }

    void register(Router r) {
        r.route("POST", "/v1/jobs", this::submit);
        r.route("GET", "/v1/jobs", this::list);
        r.route("GET", "/v1/jobs/{id}", this::get);
        r.route("DELETE", "/v1/jobs/{id}", this::cancel);
        r.route("GET", "/v1/jobs/{id}/artifacts", this::artifacts);
        r.route("GET", "/v1/jobs/{id}/artifacts/{name*}", this::artifact);
    }

    private String authenticate(Request q) {
        String tenant = config.tokens().authenticate(q.header("Authorization"));
        q.tenant(tenant);
        return tenant;
    }

    private void checkQueue() {
        if (store.countState(JobState.QUEUED) >= config.queueCapacity()) {
            metrics.rejected();
            throw new ApiException(429, "the queue is full (" + config.queueCapacity() + " jobs waiting): retry "
                    + "later", "Retry-After", Integer.toString(RETRY_AFTER_SECONDS));
        }
    }

    private void submit(Request q) throws IOException {
        String tenant = authenticate(q);
        String length = q.header("Content-Length");
        if (length != null && length.matches("\\d{1,18}") && Long.parseLong(length) > config.maxUploadBytes()) {
            throw new ApiException(413, "the upload (" + length + " bytes) is larger than the limit of "
                    + config.maxUploadBytes() / (1024 * 1024) + " MiB (--max-upload-mb)");
        }
        checkQueue(); // before reading the body: a full server should not take the upload first
        String id = UUID.randomUUID().toString();
        Path incoming = dirs.incoming(id);
        try {
            Map<String, Multipart.Part> parts = Multipart.read(q.body(), q.header("Content-Type"),
                    config.maxUploadBytes(), incoming.resolve("upload"), metrics.bytesIn::add);
            Job job = accept(id, tenant, parts, incoming);
            Map<String, Object> body = new LinkedHashMap<>();
            body.put("id", id);
            body.put("state", job.state().wire());
            if (job.state() == JobState.DONE && visibleReusedFrom(job) != null) {
                body.put("reusedFrom", job.reusedFrom());
            }
            q.setHeader("Location", "/v1/jobs/" + id);
            q.sendJson(202, body);
        } finally {
            DataDir.deleteRecursively(incoming);
        }
    }

    /** Checks the parts, unpacks the model, and stores the job (queued, or done from an identical earlier one). */
    private Job accept(String id, String tenant, Map<String, Multipart.Part> parts, Path incoming) throws IOException {
        for (String name : parts.keySet()) {
            if (!PARTS.contains(name)) {
                throw ApiException.badRequest("unknown form field '" + name + "' (known: model, model_path, options, "
                        + "data, data_path)");
            }
        }
        Multipart.Part model = parts.get("model");
        Multipart.Part modelPath = parts.get("model_path");
        if (model != null && modelPath != null) {
            throw ApiException.badRequest("give the model once: a 'model' archive or a 'model_path', not both");
        }
        if ((model == null || model.size() == 0) && modelPath == null) {
            throw ApiException.badRequest("the 'model' part is missing or empty: send the SavedModel as a .tar, "
                    + ".tar.gz or .zip in a form field named 'model'");
        }
        JobOptions options = JobOptions.parse(parts.containsKey("options")
                ? Files.readString(parts.get("options").file()) : null);
        Multipart.Part data = parts.get("data");
        Multipart.Part dataPath = parts.get("data_path");
        if (data != null && dataPath != null) {
            throw ApiException.badRequest("give the calibration data once: a 'data' part or a 'data_path', not both");
        }
        options.checkCalibration(data != null || dataPath != null);
        String dataName = null;
        if (data != null) {
            dataName = dataFileName(data.file());
            Files.move(data.file(), incoming.resolve(dataName));
        } else if (dataPath != null) {
            Path copy = incoming.resolve("data.copy");
            allowedRoots.copyFile(Files.readString(dataPath.file()), copy, "data_path");
            dataName = dataFileName(copy);
            Files.move(copy, incoming.resolve(dataName));
        }
        String modelHash;
        String modelName;
        long modelBytes;
        if (model != null) {
            extractor.extract(model.file(), incoming.resolve("model"));
            modelHash = sha256(model.file());
            modelName = modelName(model.filename());
            modelBytes = model.size();
        } else {
            String path = Files.readString(modelPath.file());
            Path dest = incoming.resolve("model").resolve("saved_model");
            modelHash = "path:" + allowedRoots.copy(path, dest);
            Path fileName = Path.of(path.strip()).getFileName();
            modelName = modelName(fileName == null ? null : fileName.toString());
            modelBytes = dev.kiln.pipeline.OptimizeJob.sizeOf(dest);
        }
        String canonical = options.canonicalJson();
        String cacheKey = Tokens.sha256((modelHash + "\n" + canonical + "\n"
                + (dataName == null ? "" : sha256(incoming.resolve(dataName)))).getBytes(
                java.nio.charset.StandardCharsets.UTF_8));
        DataDir.deleteRecursively(incoming.resolve("upload"));
        long now = System.currentTimeMillis();
        // the cache is per tenant unless the server shares it (a shared one tells a tenant by timing what others sent)
        String scope = config.shareCacheAcrossTenants() ? null : tenant;
        synchronized (admission) {
            Job earlier = store.findDone(scope, cacheKey).orElse(null);
            if (earlier != null && Files.isDirectory(dirs.resolve(earlier.resultDir()))) {
                Job job = new Job(id, tenant, JobState.DONE, now, now, now, "reused", 100, canonical, modelName,
                        modelBytes, cacheKey, earlier.resultDir(), earlier.id(), null, earlier.summary(), 0, false,
                        null);
                store.insert(job);
                metrics.submitted(true);
                return job;
            }
            checkQueue();
            Files.move(incoming, dirs.job(id), StandardCopyOption.ATOMIC_MOVE);
            Job job = new Job(id, tenant, JobState.QUEUED, now, null, null, null, 0, canonical, modelName,
                    modelBytes, cacheKey, null, null, null, null, 0, false, null);
            try {
                // an identical job queued or running: this one waits on it (keeping its upload in case it is cancelled)
                job = store.insertOrAttach(job, scope);
            } catch (RuntimeException e) {
                DataDir.deleteRecursively(dirs.job(id));
                throw e;
            }
            metrics.submitted(job.reusedFrom() != null);
            if (job.reusedFrom() == null) {
                workers.enqueue(id);
            }
            return job;
        }
    }

    /** data.npy or data.npz, by the file's magic bytes. */
    private static String dataFileName(Path file) throws IOException {
        byte[] head = new byte[6];
        try (InputStream in = Files.newInputStream(file)) {
            int n = in.readNBytes(head, 0, 6);
            if (n == 6 && (head[0] & 0xff) == 0x93 && new String(head, 1, 5,
                    java.nio.charset.StandardCharsets.ISO_8859_1).equals("NUMPY")) {
                return "data.npy";
            }
            if (n >= 4 && head[0] == 'P' && head[1] == 'K' && head[2] == 3 && head[3] == 4) {
                return "data.npz";
            }
        }
        throw ApiException.badRequest("the 'data' part is neither .npy nor .npz (NumPy) data");
    }

    /** The uploaded file name without extension and anything but letters, digits, '.', '-', '_'. */
    static String modelName(String filename) {
        if (filename == null || filename.isBlank()) {
            return "model";
        }
        String base = filename.replace('\\', '/');
        base = base.substring(base.lastIndexOf('/') + 1).replaceAll("(\\.tar\\.gz|\\.tgz|\\.tar|\\.zip)$", "");
        String clean = base.replaceAll("[^A-Za-z0-9._-]", "_");
        clean = clean.length() > 100 ? clean.substring(0, 100) : clean;
        return clean.isEmpty() ? "model" : clean;
    }

    private static String sha256(Path file) throws IOException {
        MessageDigest md = Tokens.digest();
        try (InputStream in = new DigestInputStream(Files.newInputStream(file), md)) {
            in.transferTo(java.io.OutputStream.nullOutputStream());
        }
        return HexFormat.of().formatHex(md.digest());
    }

    /** The job {@code id} of the request's tenant: 404 when there is none, 403 when it is another tenant's. */
    private Job owned(Request q) {
        String tenant = authenticate(q);
        String id = q.param("id");
        Job job = store.get(id).orElseThrow(() -> ApiException.notFound("no job " + id));
        if (!job.tenant().equals(tenant)) {
            throw new ApiException(403, "job " + id + " belongs to another tenant");
        }
        return job;
    }

    private void get(Request q) throws IOException {
        q.sendJson(200, view(owned(q)));
    }

    private void list(Request q) throws IOException {
        String tenant = authenticate(q);
        Map<String, String> query = q.query();
        JobState state = query.containsKey("state") ? JobState.parse(query.get("state")) : null;
        int limit = intParam(query, "limit", 50, 1, 200);
        int offset = intParam(query, "offset", 0, 0, Integer.MAX_VALUE);
        List<Map<String, Object>> jobs = new ArrayList<>();
        for (Job j : store.list(tenant, state, limit, offset)) {
            jobs.add(view(j));
        }
        Map<String, Object> body = new LinkedHashMap<>();
        body.put("jobs", jobs);
        body.put("total", store.count(tenant, state));
        body.put("limit", limit);
        body.put("offset", offset);
        q.sendJson(200, body);
    }

    private static int intParam(Map<String, String> query, String name, int dflt, int min, int max) {
        String v = query.get(name);
        if (v == null) {
            return dflt;
        }
        try {
            int n = Integer.parseInt(v);
            if (n < min || n > max) {
                throw ApiException.badRequest("query parameter '" + name + "' must be in [" + min + ", " + max
                        + "], got " + v);
            }
            return n;
        } catch (NumberFormatException e) {
            throw ApiException.badRequest("query parameter '" + name + "' must be a whole number, got '" + v + "'");
        }
    }

    private void cancel(Request q) throws IOException {
        Job job = owned(q);
        if (job.state().finished()) {
            throw new ApiException(409, "job " + job.id() + " is already " + job.state().wire());
        }
        if (store.cancelQueued(job.id(), System.currentTimeMillis())) {
            // it never ran: nothing to stop, nothing of it to keep
            workers.dequeue(job.id());
            DataDir.deleteRecursively(dirs.job(job.id()));
            metrics.finished(JobState.CANCELLED, Map.of());
            String next = identical.settle(job.id()); // identical jobs waiting on it: one now runs itself
            if (next != null) {
                workers.enqueue(next);
            }
        } else {
            store.requestCancel(job.id());
            workers.cancelRunning(job.id());
        }
        q.sendJson(202, view(store.get(job.id()).orElseThrow()));
    }

    private void artifacts(Request q) throws IOException {
        Job job = owned(q);
        q.sendJson(200, Map.of("artifacts", artifactNames(job)));
    }

    private void artifact(Request q) throws IOException {
        Job job = owned(q);
        if (job.state() != JobState.DONE) {
            throw new ApiException(409, "job " + job.id() + " is " + job.state().wire() + ": artifacts exist once it "
                    + "is done");
        }
        if (job.expiredMs() != null) {
            throw new ApiException(410, "the outputs of job " + job.id() + " were removed by the retention limit at "
                    + Instant.ofEpochMilli(job.expiredMs()) + ": submit the model again");
        }
        String name = q.param("name");
        if (name.contains("..") || name.contains("\\") || name.contains("\0") || name.startsWith("/")) {
            throw ApiException.badRequest("artifact names are paths inside the job's output, without '..': " + name);
        }
        Path root = dirs.resolve(job.resultDir());
        Path file = root.resolve(name).normalize();
        if (!file.startsWith(root) || !Files.isRegularFile(file, LinkOption.NOFOLLOW_LINKS)) {
            throw ApiException.notFound("job " + job.id() + " has no artifact '" + name + "' (it has: "
                    + String.join(", ", artifactNames(job)) + ")");
        }
        q.setHeader("Content-Security-Policy", "sandbox allow-scripts");
        q.sendFile(contentType(name), file);
    }

    private List<String> artifactNames(Job job) throws IOException {
        if (job.state() != JobState.DONE || job.resultDir() == null || job.expiredMs() != null) {
            return List.of();
        }
        Path root = dirs.resolve(job.resultDir());
        if (!Files.isDirectory(root)) {
            return List.of();
        }
        try (Stream<Path> s = Files.walk(root)) {
            return s.filter(p -> Files.isRegularFile(p, LinkOption.NOFOLLOW_LINKS))
                    .map(p -> root.relativize(p).toString().replace('\\', '/')).sorted().toList();
        }
    }

    private static String contentType(String name) {
        if (name.endsWith(".html")) {
            return "text/html; charset=utf-8";
        }
        if (name.endsWith(".json")) {
            return "application/json";
        }
        if (name.endsWith(".txt") || name.endsWith(".cache")) {
            return "text/plain; charset=utf-8";
        }
        return "application/octet-stream";
    }

    /** The job whose result {@code j} reuses or waits on, when it is the same tenant's (another's id is not shown). */
    private String visibleReusedFrom(Job j) {
        return j.reusedFrom() != null && store.get(j.reusedFrom()).map(o -> o.tenant().equals(j.tenant()))
                .orElse(false) ? j.reusedFrom() : null;
    }

    /** A job as the API shows it. */
    private Map<String, Object> view(Job j) throws JsonProcessingException {
        Map<String, Object> m = new LinkedHashMap<>();
        m.put("id", j.id());
        m.put("state", j.state().wire());
        m.put("model", Map.of("name", j.modelName(), "bytes", j.modelBytes()));
        m.put("options", Request.JSON.readTree(j.options()));
        Map<String, Object> progress = new LinkedHashMap<>();
        progress.put("step", j.state() != JobState.QUEUED ? j.step()
                : j.reusedFrom() != null ? "waiting for an identical job" : "queued");
        progress.put("percent", j.percent());
        m.put("progress", progress);
        Map<String, Object> t = new LinkedHashMap<>();
        t.put("created", Instant.ofEpochMilli(j.createdMs()).toString());
        t.put("started", j.startedMs() == null ? null : Instant.ofEpochMilli(j.startedMs()).toString());
        t.put("finished", j.finishedMs() == null ? null : Instant.ofEpochMilli(j.finishedMs()).toString());
        long queuedUntil = j.startedMs() != null ? j.startedMs() : j.finishedMs() != null ? j.finishedMs()
                : System.currentTimeMillis();
        t.put("queuedMillis", queuedUntil - j.createdMs());
        t.put("runMillis", j.startedMs() == null ? null
                : (j.finishedMs() != null ? j.finishedMs() : System.currentTimeMillis()) - j.startedMs());
        m.put("timings", t);
        m.put("attempts", j.attempts());
        if (j.cancelRequested() && !j.state().finished()) {
            m.put("cancelRequested", true);
        }
        if (j.expiredMs() != null) {
            m.put("expired", Instant.ofEpochMilli(j.expiredMs()).toString());
        }
        if (visibleReusedFrom(j) != null) {
            m.put("reusedFrom", j.reusedFrom());
        }
        if (j.error() != null) {
            m.put("error", j.error());
        }
        if (j.summary() != null) {
            JsonNode s = Request.JSON.readTree(j.summary());
            m.put("report", s);
            m.put("links", Map.of("report", "/v1/jobs/" + j.id() + "/artifacts/report.html",
                    "reportJson", "/v1/jobs/" + j.id() + "/artifacts/report.json"));
        }
        return m;
    }
}

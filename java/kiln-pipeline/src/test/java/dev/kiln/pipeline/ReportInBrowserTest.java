package dev.kiln.pipeline;

import dev.kiln.onnx.Precision;
import dev.kiln.tensorflow.ExampleData;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.Dimension;
import org.openqa.selenium.JavascriptExecutor;
import org.openqa.selenium.OutputType;
import org.openqa.selenium.TakesScreenshot;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

import java.io.File;
import java.io.IOException;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.Comparator;
import java.util.EnumSet;
import java.util.List;
import java.util.Optional;
import java.util.logging.Level;
import java.util.regex.Matcher;
import java.util.regex.Pattern;
import java.util.stream.Stream;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertFalse;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * Runs the real optimize job (FP32, FP16, INT8 with calibration and evaluation on the shipped MNIST slice) on the
 * trained example CNN, writes report.html, and opens it in headless Chromium through chromedriver: the page renders,
 * has every section, its charts have bars, its tables hold the run's rows, the browser logs no console error, and it
 * loads nothing from anywhere (a self-contained page). The screenshot is kept as
 * {@code target/report-screenshot.png}, the page as {@code target/report-in-browser/out/report.html}.
 *
 * <p>Skipped (not failed) where Chromium or chromedriver is not installed; {@code .ci/run} installs Debian's
 * {@code chromium} and {@code chromium-driver}.
 */
class ReportInBrowserTest {
    private static final Path TARGET = Path.of("target");
    private static final Path WORK = TARGET.resolve("report-in-browser");
    private static final Path SCREENSHOT = TARGET.resolve("report-screenshot.png");

    private static OptimizeReport report;
    private static String html;
    private static Path page;
    private static ChromeDriver driver;

    @BeforeAll
    static void runJob() throws IOException {
        Path model = ExampleModels.trainedMnistCnn(TARGET.resolve("mnist_cnn"),
                s -> System.out.println("trainedMnistCnn: " + s));
        Path out = WORK.resolve("out");
        deleteRecursively(out);
        report = OptimizeJob.builder(model).output(out)
                .precisions(EnumSet.of(Precision.FP32, Precision.FP16, Precision.INT8))
                .calibrationData(ExampleData.data(ExampleData.CALIBRATION, "image", 64))
                .evaluationData(ExampleData.data(ExampleData.EVALUATION, "image", 64))
                .labels(ExampleData.labelsAsLongs(ExampleData.EVALUATION))
                .build().run();
        html = Reports.toHtml(report);
        // As kiln optimize writes them.
        Reports.writeAtomically(out.resolve("report.json"), Reports.toJson(report));
        page = out.resolve("report.html").toAbsolutePath();
        Reports.writeAtomically(page, html);
    }

    @AfterAll
    static void quit() {
        if (driver != null) {
            driver.quit();
        }
    }

    /** Checks on the HTML text that need no browser. */
    @Test
    void htmlShowsNoRawNumbersAndLoadsNothing() {
        // Java's raw doubles must never reach a reader.
        String text = html.replaceAll("(?s)<style>.*?</style>", "");
        Matcher raw = Pattern.compile(">[^<]*\\b(NaN|Infinity)\\b[^<]*<").matcher(text);
        assertFalse(raw.find(), () -> "raw non-finite number in the page: " + raw.group());
        Matcher exp = Pattern.compile(">[^<]*\\d[eE][+-]?\\d[^<]*<").matcher(text);
        assertFalse(exp.find(), () -> "number in Java's exponent form in the page: " + exp.group());
        for (String remote : List.of("<script", "<link", "<img", "<iframe", "url(", "@import", "http://",
                "https://")) {
            assertFalse(html.contains(remote), "self-contained page, yet it holds " + remote);
        }
    }

    @Test
    void rendersInHeadlessChromium() throws IOException {
        ChromeDriver d = browser();
        d.get(page.toUri().toString());

        assertEquals("Kiln report: " + report.model(), d.getTitle());
        List<String> headings = d.findElements(By.tagName("h2")).stream().map(WebElement::getText).toList();
        for (String h : List.of("Pipeline", "Graph passes", "Outputs", "Verification against TensorFlow on the "
                + "original", "Calibration", "Precision per layer", "Accuracy on held-out data",
                "Per-layer quantization error", "Ops")) {
            assertTrue(headings.contains(h), "section '" + h + "' in " + headings);
        }

        // Every chart has bars: the pass chart, the output sizes, the latencies, accuracy/size/latency, per layer.
        for (String chart : List.of("nodes after each pass", "size on disk", "median latency",
                "top-1 accuracy", "median latency per batch", "SQNR")) {
            long bars = d.findElements(By.cssSelector("figure")).stream()
                    .filter(f -> f.findElement(By.tagName("figcaption")).getText().startsWith(chart))
                    .mapToLong(f -> f.findElements(By.cssSelector("svg rect")).size()).max().orElse(-1);
            assertTrue(bars > 0, "chart '" + chart + "' has bars (" + bars + ")");
        }
        assertTrue(d.findElements(By.cssSelector("svg rect")).size() >= 20, "bars on the page");

        // The accuracy table holds the run's rows, with numbers in them.
        String accuracy = textOf(d, "#accuracy table");
        for (String row : List.of("original (FP32)", "onnx fp32", "onnx fp16", "onnx int8-onnxruntime",
                "onnx int8-tensorrt", "savedmodel int8-fakequant-tensorrt")) {
            assertTrue(accuracy.contains(row), "accuracy row '" + row + "' in: " + accuracy);
        }
        List<WebElement> rows = d.findElements(By.cssSelector("#accuracy table tr"));
        assertEquals(report.evaluation().candidates().size() + 2, rows.size(), "header + original + candidates");
        for (WebElement r : rows.subList(1, rows.size())) {
            String top1 = r.findElements(By.tagName("td")).get(3).getText();
            assertTrue(top1.matches("\\d+\\.\\d\\d%"), "top-1 of " + r.getText() + ": " + top1);
        }
        String pipeline = textOf(d, "#pipeline");
        for (String step : report.timingsMillis().keySet()) {
            assertTrue(pipeline.contains(step), "pipeline step " + step + " in: " + pipeline);
        }
        assertTrue(textOf(d, "#layers").contains("dB"), "per-layer error in dB");
        String body = d.findElement(By.tagName("body")).getText();
        assertFalse(body.contains("NaN") || body.contains("Infinity"), "no raw NaN/Infinity in the rendered page");

        // A self-contained page: nothing fetched, from the network or from disk.
        Object resources = d.executeScript("return performance.getEntriesByType('resource').length");
        assertEquals(0L, ((Number) resources).longValue(), "resources the page loaded");

        // No console errors (a CSP violation or a broken element would log one).
        List<LogEntry> logs = d.manage().logs().get(LogType.BROWSER).getAll();
        List<String> errors = logs.stream().filter(e -> e.getLevel().intValue() >= Level.WARNING.intValue())
                .map(LogEntry::toString).toList();
        assertTrue(errors.isEmpty(), "console errors: " + errors);
        // ... and the log channel does see errors, so the empty list above means something.
        d.executeScript("console.error('kiln-probe')");
        assertTrue(d.manage().logs().get(LogType.BROWSER).getAll().stream()
                .anyMatch(e -> e.getMessage().contains("kiln-probe")), "browser log reaches the test");

        // The whole page as one screenshot, kept with the test output.
        long height = ((Number) d.executeScript("return document.documentElement.scrollHeight")).longValue();
        d.manage().window().setSize(new Dimension(1200, (int) Math.min(height + 40, 16000)));
        File png = ((TakesScreenshot) d).getScreenshotAs(OutputType.FILE);
        Files.copy(png.toPath(), SCREENSHOT, java.nio.file.StandardCopyOption.REPLACE_EXISTING);
        assertTrue(Files.size(SCREENSHOT) > 10_000, "screenshot " + SCREENSHOT.toAbsolutePath());
        System.out.println("report " + page + "\nscreenshot " + SCREENSHOT.toAbsolutePath());
    }

    private static String textOf(ChromeDriver d, String css) {
        return (String) d.executeScript("return document.querySelector(arguments[0]).textContent", css);
    }

    /** Chromium through chromedriver, or the test is skipped. */
    private static ChromeDriver browser() {
        if (driver != null) {
            return driver;
        }
        Optional<Path> chromium = onPath("chromium", "chromium-browser", "google-chrome");
        Optional<Path> chromedriver = onPath("chromedriver");
        assumeTrue(chromium.isPresent() && chromedriver.isPresent(), "Chromium and chromedriver are not installed "
                + "(apt-get install chromium chromium-driver): report.html is not checked in a browser");
        ChromeOptions o = new ChromeOptions();
        o.setBinary(chromium.get().toFile());
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900", "--hide-scrollbars");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        o.setCapability("goog:loggingPrefs", logs);
        ChromeDriverService service = new ChromeDriverService.Builder()
                .usingDriverExecutable(chromedriver.get().toFile()).build();
        driver = new ChromeDriver(service, o);
        return driver;
    }

    private static Optional<Path> onPath(String... names) {
        for (String dir : System.getenv().getOrDefault("PATH", "").split(File.pathSeparator)) {
            for (String n : names) {
                Path p = Path.of(dir, n);
                if (Files.isExecutable(p)) {
                    return Optional.of(p);
                }
            }
        }
        return Optional.empty();
    }

    private static void deleteRecursively(Path dir) throws IOException {
        if (!Files.exists(dir)) {
            return;
        }
        try (Stream<Path> s = Files.walk(dir)) {
            for (Path p : s.sorted(Comparator.reverseOrder()).toList()) {
                Files.delete(p);
            }
        }
    }
}

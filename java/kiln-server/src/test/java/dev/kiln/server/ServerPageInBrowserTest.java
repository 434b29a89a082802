package dev.kiln.server;

import com.fasterxml.jackson.databind.JsonNode;
import dev.kiln.tensorflow.ExampleModels;
import org.junit.jupiter.api.AfterAll;
import org.junit.jupiter.api.BeforeAll;
import org.junit.jupiter.api.Test;
import org.openqa.selenium.By;
import org.openqa.selenium.WebElement;
import org.openqa.selenium.chrome.ChromeDriver;
import org.openqa.selenium.chrome.ChromeDriverService;
import org.openqa.selenium.chrome.ChromeOptions;
import org.openqa.selenium.logging.LogEntry;
import org.openqa.selenium.logging.LogType;
import org.openqa.selenium.logging.LoggingPreferences;

import java.io.File;
import java.net.http.HttpResponse;
import java.nio.file.Files;
import java.nio.file.Path;
import java.time.Duration;
import java.util.List;
import java.util.Map;
import java.util.Optional;
import java.util.logging.Level;

import static org.junit.jupiter.api.Assertions.assertEquals;
import static org.junit.jupiter.api.Assertions.assertTrue;
import static org.junit.jupiter.api.Assumptions.assumeTrue;

/**
 * The page at GET / in headless Chromium (through chromedriver): it loads, lists the job the test submitted once a
 * token is typed, shows it done at 100%, opens its report.html in the page's sandboxed frame, and the browser logs no
 * error. Skipped (not failed) where Chromium or chromedriver is not installed.
 */
class ServerPageInBrowserTest {
    private static final String TOKEN = "erin-token-0123456789";
    private static Path work;
    private static KilnServer server;
    private static String jobId;
    private static ChromeDriver driver;

    @BeforeAll
    static void startAndRunAJob() throws Exception {
        work = Files.createTempDirectory("kiln-server-page");
        byte[] tar = TestArchives.tarOf(ExampleModels.twoOutputs(work.resolve("m")), "two_outputs");
        server = KilnServer.start(ServerConfig.builder(work.resolve("data"), Tokens.of(Map.of(TOKEN, "erin")))
                .port(0).workers(1).build());
        ServerClient client = new ServerClient(server.url());
        HttpResponse<String> r = client.submit(TOKEN, ServerClient.model("two_outputs.tar", tar,
                "{\"formats\": [\"onnx\"]}"));
        assertEquals(202, r.statusCode(), r.body());
        jobId = ServerClient.json(r).get("id").asText();
        JsonNode done = client.awaitFinished(jobId, TOKEN, 180);
        assertEquals("done", done.get("state").asText(), done.toString());
    }

    @AfterAll
    static void stop() {
        if (driver != null) {
            driver.quit();
        }
        if (server != null) {
            server.close();
        }
        DataDir.deleteRecursively(work);
    }

    @Test
    void pageListsTheJobAndShowsItsReport() {
        ChromeDriver d = browser();
        d.get(server.url() + "/");
        assertEquals("Kiln jobs", d.getTitle());
        d.findElement(By.id("token")).sendKeys(TOKEN);
        d.findElement(By.cssSelector("#login button")).click();
        WebElement row = waitFor(d, x -> x.findElements(By.cssSelector("#jobs tbody tr")).stream()
                .filter(tr -> jobId.equals(tr.getAttribute("data-id"))).findFirst().orElse(null));
        String text = row.getText();
        assertTrue(text.contains("two_outputs") && text.contains("done") && text.contains("100%"), text);

        row.findElement(By.cssSelector("a.report-link")).click();
        WebElement frame = waitFor(d, x -> {
            WebElement f = x.findElement(By.id("report"));
            return f.isDisplayed() ? f : null;
        });
        assertEquals("allow-scripts", frame.getAttribute("sandbox"));
        d.switchTo().frame(frame);
        // getTitle() is the top-level page's title, even inside a frame
        assertEquals("Kiln report: two_outputs", d.executeScript("return document.title"));
        assertTrue(d.findElements(By.tagName("h2")).stream().anyMatch(h -> h.getText().startsWith("Verification")),
                "the report's verification section is shown");
        d.switchTo().defaultContent();

        List<String> errors = d.manage().logs().get(LogType.BROWSER).getAll().stream()
                .filter(e -> e.getLevel().intValue() >= Level.WARNING.intValue()).map(LogEntry::toString).toList();
        assertTrue(errors.isEmpty(), "console errors: " + errors);
    }

    /** Polls {@code find} until it gives non-null (20 s at most): the page refreshes by itself every 2 s. */
    private static <T> T waitFor(ChromeDriver d, java.util.function.Function<ChromeDriver, T> find) {
        long deadline = System.nanoTime() + Duration.ofSeconds(20).toNanos();
        while (System.nanoTime() < deadline) {
            T t = find.apply(d);
            if (t != null) {
                return t;
            }
            try {
                Thread.sleep(100);
            } catch (InterruptedException e) {
                throw new IllegalStateException(e);
            }
        }
        throw new AssertionError("not found within 20 s in the page: " + d.getPageSource());
    }

    /** Chromium through chromedriver, or the test is skipped. */
    private static ChromeDriver browser() {
        Optional<Path> chromium = onPath("chromium", "chromium-browser", "google-chrome");
        Optional<Path> chromedriver = onPath("chromedriver");
        assumeTrue(chromium.isPresent() && chromedriver.isPresent(), "Chromium and chromedriver are not installed "
                + "(apt-get install chromium chromium-driver): the page is not checked in a browser");
        ChromeOptions o = new ChromeOptions();
        o.setBinary(chromium.get().toFile());
        o.addArguments("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
                "--window-size=1200,900");
        LoggingPreferences logs = new LoggingPreferences();
        logs.enable(LogType.BROWSER, Level.ALL);
        o.setCapability("goog:loggingPrefs", logs);
        driver = new ChromeDriver(new ChromeDriverService.Builder()
                .usingDriverExecutable(chromedriver.get().toFile()).build(), o);
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
}

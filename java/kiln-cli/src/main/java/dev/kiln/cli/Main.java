package dev.kiln.cli;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;
import picocli.CommandLine;
import picocli.CommandLine.Command;

/** The {@code kiln} command: optimize, calibrate, export, bench, compare, inspect, build-engine, doctor, serve. */
@Command(name = "kiln", mixinStandardHelpOptions = true, versionProvider = VersionProvider.class,
        description = "Makes TensorFlow models ready to deploy and fast.",
        subcommands = {OptimizeCommand.class, CalibrateCommand.class, ExportCommand.class, PruneCommand.class,
                FactorizeCommand.class, BenchCommand.class, CompareCommand.class, InspectCommand.class,
                BuildEngineCommand.class, DoctorCommand.class, ServeCommand.class,
                CommandLine.HelpCommand.class})
public final class Main implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        ConsoleLogging.configure();
        System.exit(execute(args));
    }

    /** Runs the CLI and returns the exit status (used by tests, which must not exit the JVM). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new Main());
        cl.setExecutionExceptionHandler(Main::handle);
        cl.setParameterExceptionHandler(Main::badArguments);
        try {
            return cl.execute(args);
        } catch (OutOfMemoryError e) {
            return outOfMemory(e, cl);
        }
    }

    /**
     * The heap ran out: one line saying how large it was and how to give Kiln more, not a stack trace. The
     * launcher passes KILN_JAVA_OPTS to the JVM (default -Xmx4g).
     */
    private static int outOfMemory(OutOfMemoryError e, CommandLine cl) {
        long max = Runtime.getRuntime().maxMemory() >> 20;
        cl.getErr().println("kiln: error: out of memory (" + e.getMessage() + ", Java heap limit " + max + " MB): "
                + "give Kiln more with KILN_JAVA_OPTS=-Xmx<size> (e.g. -Xmx16g) for the kiln launcher, or java "
                + "-Xmx<size>");
        return ErrorCode.RESOURCE_LIMIT.exitStatus();
    }

    /** A bad command line: one line saying what is wrong and where help is, exit 2 (not the whole usage text). */
    private static int badArguments(CommandLine.ParameterException e, String[] args) {
        CommandLine cl = e.getCommandLine();
        String cmd = cl.getCommandSpec().qualifiedName();
        cl.getErr().println("kiln: error: " + e.getMessage() + " (see '" + cmd + " --help')");
        if (System.getenv("KILN_VERBOSE") != null) {
            e.printStackTrace(cl.getErr());
        }
        return ErrorCode.INVALID_ARGUMENT.exitStatus();
    }

    /** Kiln's own errors are one clear line; anything else is a bug, shown with its stack trace. */
    private static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        if (e.getCause() instanceof OutOfMemoryError oom) {   // picocli wraps an Error thrown by a command
            return outOfMemory(oom, cl);
        }
        boolean verbose = Boolean.getBoolean("kiln.verbose") || System.getenv("KILN_VERBOSE") != null;
        if (e instanceof KilnException k) {
            cl.getErr().println("kiln: error: " + k.getMessage());
            if (verbose) {
                k.printStackTrace(cl.getErr());
            }
            return k.code().exitStatus();
        }
        cl.getErr().println("kiln: internal error: " + e);
        e.printStackTrace(cl.getErr());
        return ErrorCode.INTERNAL.exitStatus();
    }
}

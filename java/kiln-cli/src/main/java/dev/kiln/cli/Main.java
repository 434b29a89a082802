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
        return cl.execute(args);
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

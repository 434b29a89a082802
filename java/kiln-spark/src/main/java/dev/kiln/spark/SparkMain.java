package dev.kiln.spark;

import dev.kiln.ErrorCode;
import dev.kiln.KilnException;

import picocli.CommandLine;
import picocli.CommandLine.Command;

/**
 * {@code kiln spark}: Kiln's jobs on Spark. The {@code ./kiln} launcher runs this main for {@code kiln spark ...} with
 * Spark on the classpath (a local master runs in-process); spark-submit runs it on a cluster
 * ({@code --class dev.kiln.spark.SparkMain}).
 */
@Command(name = "kiln spark", mixinStandardHelpOptions = true,
        description = "Kiln on Apache Spark: calibration over data larger than one machine, batch conversion.",
        subcommands = {SparkCalibrateCommand.class, SparkConvertCommand.class, CommandLine.HelpCommand.class})
public final class SparkMain implements Runnable {

    @CommandLine.Spec
    CommandLine.Model.CommandSpec spec;

    @Override
    public void run() {
        spec.commandLine().usage(System.out);
    }

    public static void main(String[] args) {
        int status = execute(args);
        if (status != 0) {
            System.exit(status); // a clean exit status from spark-submit too; success returns (Spark's own shutdown)
        }
    }

    /** Runs the command and returns the exit status (tests call this: it does not exit the JVM). */
    public static int execute(String... args) {
        CommandLine cl = new CommandLine(new SparkMain());
        cl.setExecutionExceptionHandler(SparkMain::handle);
        cl.setParameterExceptionHandler((e, a) -> {
            e.getCommandLine().getErr().println("kiln: error: " + e.getMessage() + " (see '"
                    + e.getCommandLine().getCommandSpec().qualifiedName() + " --help')");
            return ErrorCode.INVALID_ARGUMENT.exitStatus();
        });
        return cl.execute(args);
    }

    /** Kiln's errors are one line; anything else is a bug, shown with its stack trace. */
    private static int handle(Exception e, CommandLine cl, CommandLine.ParseResult parsed) {
        if (e instanceof KilnException k) {
            cl.getErr().println("kiln: error: " + k.getMessage());
            if (System.getenv("KILN_VERBOSE") != null) {
                k.printStackTrace(cl.getErr());
            }
            return k.code().exitStatus();
        }
        cl.getErr().println("kiln: internal error: " + e);
        e.printStackTrace(cl.getErr());
        return ErrorCode.INTERNAL.exitStatus();
    }
}

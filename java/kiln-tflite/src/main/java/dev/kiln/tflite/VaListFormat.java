package dev.kiln.tflite;

import org.bytedeco.javacpp.BytePointer;
import org.bytedeco.javacpp.DoublePointer;
import org.bytedeco.javacpp.IntPointer;
import org.bytedeco.javacpp.LongPointer;
import org.bytedeco.javacpp.Pointer;

/**
 * Formats the printf-style message TFLite's error reporter callback receives as a format and a {@code va_list}, so
 * that Kiln's errors carry the interpreter's own words ("tensor 'x' has type int8, expected float32") rather than
 * "%s has type %s".
 *
 * <p>Reads the {@code va_list} the way the x86-64 System V ABI lays it out (the platform the bundled natives are for):
 * a struct of gp_offset, fp_offset, overflow_arg_area and reg_save_area; integers and pointers from the general
 * register save area then the overflow area, doubles from the vector register area. Anything it does not recognise
 * (another platform, a conversion it does not know, offsets out of range) gives back the format unformatted.
 */
final class VaListFormat {
    private static final boolean SYSV_X86_64 = "amd64".equals(System.getProperty("os.arch"))
            && System.getProperty("os.name", "").toLowerCase().contains("linux");

    private VaListFormat() {
    }

    /** A pointer at a raw address, to read through. */
    private static final class Raw extends Pointer {
        Raw(long address) {
            this.address = address;
        }
    }

    static String format(String fmt, Pointer vaList) {
        if (fmt == null) {
            return "";
        }
        if (!SYSV_X86_64 || vaList == null || vaList.isNull() || !fmt.contains("%")) {
            return fmt;
        }
        Reader r;
        try {
            r = new Reader(vaList);
        } catch (RuntimeException e) {
            // the callback glue may hand over the address of the va_list parameter (itself a pointer to the struct)
            try {
                r = new Reader(new Raw(new LongPointer(vaList).get(0)));
            } catch (RuntimeException again) {
                return fmt;
            }
        }
        try {
            return r.format(fmt);
        } catch (RuntimeException e) {
            return fmt;
        }
    }

    /** Walks one va_list, never writing it. */
    private static final class Reader {
        private int gp;
        private int fp;
        private long overflow;
        private final long saveArea;

        Reader(Pointer vaList) {
            if (vaList.address() == 0) {
                throw new IllegalStateException("null va_list");
            }
            IntPointer offsets = new IntPointer(vaList);
            gp = offsets.get(0);
            fp = offsets.get(1);
            LongPointer areas = new LongPointer(vaList);
            overflow = areas.get(1);
            saveArea = areas.get(2);
            if (gp < 0 || gp > 48 || gp % 8 != 0 || fp < 48 || fp > 176 || overflow == 0 || saveArea == 0) {
                throw new IllegalStateException("not a System V va_list");
            }
        }

        long nextInteger() {
            long addr;
            if (gp < 48) {
                addr = saveArea + gp;
                gp += 8;
            } else {
                addr = overflow;
                overflow += 8;
            }
            return new LongPointer(new Raw(addr)).get(0);
        }

        double nextDouble() {
            long addr;
            if (fp < 176) {
                addr = saveArea + fp;
                fp += 16;
            } else {
                addr = overflow;
                overflow += 8;
            }
            return new DoublePointer(new Raw(addr)).get(0);
        }

        String format(String fmt) {
            StringBuilder out = new StringBuilder();
            int i = 0;
            while (i < fmt.length()) {
                char c = fmt.charAt(i++);
                if (c != '%') {
                    out.append(c);
                    continue;
                }
                int start = i - 1;
                // flags, width, precision, length
                while (i < fmt.length() && "-+ #0123456789.".indexOf(fmt.charAt(i)) >= 0) {
                    i++;
                }
                String length = "";
                while (i < fmt.length() && "hlLqjzt".indexOf(fmt.charAt(i)) >= 0) {
                    length += fmt.charAt(i++);
                }
                if (i >= fmt.length()) {
                    throw new IllegalStateException("dangling %");
                }
                char conv = fmt.charAt(i++);
                switch (conv) {
                    case '%' -> out.append('%');
                    case 'd', 'i' -> {
                        long v = nextInteger();
                        out.append(length.isEmpty() || length.startsWith("h") ? (long) (int) v : v);
                    }
                    case 'u' -> {
                        long v = nextInteger();
                        out.append(length.isEmpty() ? Integer.toUnsignedString((int) v) : Long.toUnsignedString(v));
                    }
                    case 'x', 'X' -> {
                        long v = nextInteger();
                        String h = length.isEmpty() ? Integer.toHexString((int) v) : Long.toHexString(v);
                        out.append(conv == 'X' ? h.toUpperCase() : h);
                    }
                    case 'c' -> out.append((char) (nextInteger() & 0xFF));
                    case 'p' -> out.append("0x").append(Long.toHexString(nextInteger()));
                    case 's' -> {
                        long addr = nextInteger();
                        out.append(addr == 0 ? "(null)" : new BytePointer(new Raw(addr)).getString());
                    }
                    case 'f', 'F', 'g', 'G', 'e', 'E' -> {
                        String spec = fmt.substring(start, i).replace("l", "").replace("L", "");
                        out.append(String.format(java.util.Locale.ROOT, spec, nextDouble()));
                    }
                    default -> throw new IllegalStateException("unknown conversion %" + conv);
                }
            }
            return out.toString();
        }
    }
}

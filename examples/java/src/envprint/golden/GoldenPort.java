package envprint.golden;

import java.io.BufferedReader;
import java.io.BufferedWriter;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.nio.file.StandardCopyOption;
import java.util.ArrayList;
import java.util.EnumSet;
import java.util.List;
import java.util.Map;
import java.util.Set;
import java.util.function.UnaryOperator;

/**
 * A reference serving implementation under a golden bundle: reads {@code NAME.inputs.jsonl} of every probe
 * it implements, writes {@code NAME.outputs.jsonl}, for {@code envprint golden compare BUNDLE OUT}.
 *
 * <pre>
 * javac -d build/java examples/java/src/envprint/golden/*.java
 * java -cp build/java envprint.golden.GoldenPort BUNDLE OUT [--skew zero-fill|drop-unseen|local-day]...
 * java -cp build/java envprint.golden.GoldenPort --echo IN.jsonl OUT.jsonl   (read and write back every row)
 * </pre>
 *
 * <p>Exit status: 0 outputs written, 2 usage error or unreadable input (the file and line named).
 */
public final class GoldenPort {
    private GoldenPort() {
    }

    public static void main(String[] args) {
        try {
            System.exit(run(args));
        } catch (IllegalArgumentException | UncheckedIOException e) {
            System.err.println("error: " + e.getMessage());
            System.exit(2);
        }
    }

    static int run(String[] args) {
        if (args.length == 3 && args[0].equals("--echo")) {
            rewrite(Path.of(args[1]), Path.of(args[2]), row -> row);
            return 0;
        }
        List<String> positional = new ArrayList<>();
        Set<Features.Skew> skews = EnumSet.noneOf(Features.Skew.class);
        for (int i = 0; i < args.length; i++) {
            if (args[i].equals("--skew") && i + 1 < args.length) {
                try {
                    skews.add(Features.Skew.parse(args[++i]));
                } catch (IllegalArgumentException e) {
                    throw new IllegalArgumentException("--skew " + args[i] + ": use zero-fill, drop-unseen or local-day");
                }
            } else {
                positional.add(args[i]);
            }
        }
        if (positional.size() != 2) {
            System.err.println("usage: GoldenPort BUNDLE OUT [--skew zero-fill|drop-unseen|local-day]...");
            return 2;
        }
        Path bundle = Path.of(positional.get(0));
        Path out = Path.of(positional.get(1));
        Features features = new Features(skews);
        Map<String, Object> probes = probes(bundle.resolve("manifest.json"));
        try {
            Files.createDirectories(out);
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": cannot create the outputs directory: " + e, e);
        }
        for (Map.Entry<String, Object> probe : probes.entrySet()) {
            String name = probe.getKey();
            if (!Features.PROBES.contains(name)) {
                System.err.println("skipped " + name + ": not implemented by this port");
                continue;
            }
            @SuppressWarnings("unchecked")
            String inputs = (String) ((Map<String, Object>) probe.getValue()).get("inputs");
            Path target = out.resolve(name + ".outputs.jsonl");
            int rows = rewrite(bundle.resolve(inputs), target, row -> features.apply(name, row));
            System.err.println(name + ": " + rows + " row(s) -> " + target + (skews.isEmpty() ? "" : " (skews " + skews + ")"));
        }
        return 0;
    }

    @SuppressWarnings("unchecked")
    private static Map<String, Object> probes(Path manifest) {
        try {
            Map<String, Object> doc = Json.parseObject(Files.readString(manifest, StandardCharsets.UTF_8));
            if (!"envprint-golden".equals(doc.get("format")) || !Long.valueOf(1).equals(doc.get("version"))) {
                throw new IllegalArgumentException(manifest + ": not a version 1 golden bundle manifest");
            }
            return (Map<String, Object>) doc.get("probes");
        } catch (IOException e) {
            throw new UncheckedIOException(manifest + ": " + e, e);
        } catch (IllegalArgumentException e) {
            throw new IllegalArgumentException(manifest + ": " + e.getMessage(), e);
        }
    }

    /** Returns the rows written: each line of {@code in} parsed, transformed (null drops it), written to {@code out}. */
    private static int rewrite(Path in, Path out, UnaryOperator<Map<String, Object>> transform) {
        Path partial = out.resolveSibling("." + out.getFileName() + ".partial");
        int written = 0;
        int number = 0;
        try (BufferedReader reader = Files.newBufferedReader(in, StandardCharsets.UTF_8);
             BufferedWriter writer = Files.newBufferedWriter(partial, StandardCharsets.UTF_8)) {
            for (String line = reader.readLine(); line != null; line = reader.readLine()) {
                number++;
                Map<String, Object> row;
                try {
                    row = transform.apply(Json.parseObject(line));
                } catch (RuntimeException e) {
                    throw new IllegalArgumentException(in + " line " + number + ": " + e.getMessage(), e);
                }
                if (row != null) {
                    writer.write(Json.write(row));
                    writer.write('\n');
                    written++;
                }
            }
        } catch (IOException e) {
            throw new UncheckedIOException(in + " -> " + out + ": " + e, e);
        }
        try {  // whole files only: a reader never sees half the outputs
            Files.move(partial, out, StandardCopyOption.REPLACE_EXISTING, StandardCopyOption.ATOMIC_MOVE);
        } catch (IOException e) {
            throw new UncheckedIOException(out + ": " + e, e);
        }
        return written;
    }
}

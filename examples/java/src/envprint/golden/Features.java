package envprint.golden;

import java.time.Instant;
import java.time.LocalDateTime;
import java.time.OffsetDateTime;
import java.time.ZoneId;
import java.time.ZoneOffset;
import java.time.format.DateTimeFormatter;
import java.time.temporal.TemporalAccessor;
import java.util.EnumSet;
import java.util.LinkedHashMap;
import java.util.Map;
import java.util.Set;

/**
 * The feature transforms of docs/golden.md (examples/golden_transforms.py), ported to Java as a serving
 * path would port them, one input row at a time.
 *
 * <p>A {@link Skew} makes the port wrong the way real serving rewrites go wrong: a zero fill instead of
 * the training mean, rows with an unseen category dropped, days bucketed in the JVM's local time zone
 * instead of UTC. The golden compare must catch each, naming the row and column.
 */
final class Features {
    static final double MEAN_AGE = 37.5;
    static final Map<String, Long> VOCAB = Map.of("red", 1L, "green", 2L, "blue", 3L);
    static final long UNSEEN_ID = 0L;
    static final long MISSING_DAY = -1L;
    private static final long SECONDS_PER_DAY = 86_400L;

    /** The serving skews a port can be run with (command-line flag: {@code --skew zero-fill}, ...). */
    enum Skew {
        ZERO_FILL, DROP_UNSEEN, LOCAL_DAY;

        static Skew parse(String flag) {
            return Skew.valueOf(flag.toUpperCase().replace('-', '_'));
        }
    }

    /** The probe names this port implements, in the order of the docs example. */
    static final Set<String> PROBES = Set.of("fill_age", "encode_color", "signup_day");

    private final Set<Skew> skews;

    Features(Set<Skew> skews) {
        this.skews = skews.isEmpty() ? EnumSet.noneOf(Skew.class) : EnumSet.copyOf(skews);
    }

    /** Returns the output row of probe {@code name} for one input row, or null when the port drops the row. */
    Map<String, Object> apply(String name, Map<String, Object> row) {
        return switch (name) {
            case "fill_age" -> fillAge(row);
            case "encode_color" -> encodeColor(row);
            case "signup_day" -> signupDay(row);
            default -> throw new IllegalArgumentException("no transform named " + name);
        };
    }

    /** A missing age (null, absent, NaN or "") becomes the training mean. */
    private Map<String, Object> fillAge(Map<String, Object> row) {
        Object age = row.get("age");
        double value;
        if (missing(age)) {
            value = skews.contains(Skew.ZERO_FILL) ? 0.0 : MEAN_AGE;
        } else if (age instanceof Number number) {
            value = number.doubleValue();  // a Long or BigInteger rounds to nearest, as Python's float(int) does
        } else {
            throw new IllegalArgumentException("age " + age + " is not a number");
        }
        return one("age", value);
    }

    private static boolean missing(Object value) {
        return value == null || "".equals(value) || (value instanceof Double d && d.isNaN());
    }

    /** A colour becomes its vocabulary id; anything else (unseen, null, NaN, " red ") the out-of-vocabulary id. */
    private Map<String, Object> encodeColor(Map<String, Object> row) {
        Object color = row.get("color");
        if (color instanceof String s && VOCAB.containsKey(s)) {
            return one("color_id", VOCAB.get(s));
        }
        if (skews.contains(Skew.DROP_UNSEEN)) {
            return null;
        }
        return one("color_id", UNSEEN_ID);
    }

    /** A timestamp becomes its day number in UTC (a naive one is UTC); a missing one MISSING_DAY. */
    private Map<String, Object> signupDay(Map<String, Object> row) {
        Object at = row.get("signup_at");
        if (at == null) {
            return one("signup_day", MISSING_DAY);
        }
        TemporalAccessor parsed = DateTimeFormatter.ISO_DATE_TIME.parseBest(
                (String) at, OffsetDateTime::from, LocalDateTime::from);
        Instant instant = parsed instanceof OffsetDateTime offset
                ? offset.toInstant()
                : ((LocalDateTime) parsed).toInstant(ZoneOffset.UTC);
        long day = skews.contains(Skew.LOCAL_DAY)
                ? instant.atZone(ZoneId.systemDefault()).toLocalDate().toEpochDay()
                : Math.floorDiv(instant.getEpochSecond(), SECONDS_PER_DAY);
        return one("signup_day", day);
    }

    private static Map<String, Object> one(String column, Object value) {
        Map<String, Object> out = new LinkedHashMap<>();
        out.put(column, value);
        return out;
    }
}

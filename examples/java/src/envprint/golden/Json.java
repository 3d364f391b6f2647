package envprint.golden;

import java.math.BigInteger;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;

/**
 * A minimal JSON reader and writer for golden bundles (docs/golden.md, "Encoding"), with no dependency.
 *
 * <p>Reading: objects become {@code LinkedHashMap<String, Object>}, arrays {@code List<Object>}; a number
 * without fraction or exponent becomes a {@code Long} ({@code BigInteger} beyond 64 bits), any other a
 * {@code Double} via {@link Double#parseDouble}, which rounds correctly, so every float reads back to the
 * bit. The object {@code {"$float": "NaN" | "Infinity" | "-Infinity"}} becomes that {@code Double}.
 *
 * <p>Writing: a finite {@code Double} is written with {@link Double#toString}, which gives enough digits
 * to read back the same double (the shortest, from JDK 19 on); NaN and the infinities are written as
 * {@code {"$float": ...}}; strings are escaped as JSON requires.
 */
public final class Json {
    /** The key of the one-key object that stands for a non-finite float. */
    public static final String FLOAT_KEY = "$float";

    private final String text;
    private int pos;

    private Json(String text) {
        this.text = text;
    }

    /** Returns the value one JSON text holds; throws IllegalArgumentException naming the column of an error. */
    public static Object parse(String text) {
        Json reader = new Json(text);
        reader.skipSpace();
        Object value = reader.value();
        reader.skipSpace();
        if (reader.pos != text.length()) {
            throw reader.error("unexpected text after the value");
        }
        return value;
    }

    /** Returns the object one line of JSON Lines holds; throws IllegalArgumentException if it is not an object. */
    @SuppressWarnings("unchecked")
    public static Map<String, Object> parseObject(String line) {
        Object value = parse(line);
        if (!(value instanceof Map)) {
            throw new IllegalArgumentException("expected a JSON object, found " + value);
        }
        return (Map<String, Object>) value;
    }

    private Object value() {
        if (pos >= text.length()) {
            throw error("unexpected end of the text");
        }
        char c = text.charAt(pos);
        switch (c) {
            case '{':
                return object();
            case '[':
                return array();
            case '"':
                return string();
            case 't':
                return literal("true", Boolean.TRUE);
            case 'f':
                return literal("false", Boolean.FALSE);
            case 'n':
                return literal("null", null);
            default:
                return number();
        }
    }

    private Object object() {
        Map<String, Object> map = new LinkedHashMap<>();
        pos++;
        skipSpace();
        if (peek() == '}') {
            pos++;
            return map;
        }
        while (true) {
            skipSpace();
            if (peek() != '"') {
                throw error("expected a string key");
            }
            String key = string();
            skipSpace();
            expect(':');
            skipSpace();
            if (map.containsKey(key)) {
                throw error("duplicate key " + key);
            }
            map.put(key, value());
            skipSpace();
            char c = next();
            if (c == '}') {
                break;
            }
            if (c != ',') {
                throw error("expected ',' or '}'");
            }
        }
        if (map.containsKey(FLOAT_KEY)) {
            Object special = map.get(FLOAT_KEY);
            if (map.size() == 1 && "NaN".equals(special)) {
                return Double.NaN;
            }
            if (map.size() == 1 && "Infinity".equals(special)) {
                return Double.POSITIVE_INFINITY;
            }
            if (map.size() == 1 && "-Infinity".equals(special)) {
                return Double.NEGATIVE_INFINITY;
            }
            throw error("{\"$float\": ...} must hold exactly \"NaN\", \"Infinity\" or \"-Infinity\"");
        }
        return map;
    }

    private List<Object> array() {
        List<Object> list = new ArrayList<>();
        pos++;
        skipSpace();
        if (peek() == ']') {
            pos++;
            return list;
        }
        while (true) {
            skipSpace();
            list.add(value());
            skipSpace();
            char c = next();
            if (c == ']') {
                return list;
            }
            if (c != ',') {
                throw error("expected ',' or ']'");
            }
        }
    }

    private String string() {
        expect('"');
        StringBuilder out = new StringBuilder();
        while (true) {
            char c = next();
            if (c == '"') {
                return out.toString();
            }
            if (c < 0x20) {
                throw error("a control character inside a string");
            }
            if (c != '\\') {
                out.append(c);
                continue;
            }
            char e = next();
            switch (e) {
                case '"', '\\', '/' -> out.append(e);
                case 'b' -> out.append('\b');
                case 'f' -> out.append('\f');
                case 'n' -> out.append('\n');
                case 'r' -> out.append('\r');
                case 't' -> out.append('\t');
                case 'u' -> {
                    if (pos + 4 > text.length()) {
                        throw error("a truncated \\u escape");
                    }
                    out.append((char) Integer.parseInt(text.substring(pos, pos + 4), 16));
                    pos += 4;
                }
                default -> throw error("an unknown escape \\" + e);
            }
        }
    }

    private Object number() {
        int start = pos;
        if (peek() == '-') {
            pos++;
        }
        boolean integral = true;
        while (pos < text.length()) {
            char c = text.charAt(pos);
            if (c >= '0' && c <= '9') {
                pos++;
            } else if (c == '.' || c == 'e' || c == 'E' || c == '+' || c == '-') {
                integral = false;
                pos++;
            } else {
                break;
            }
        }
        String token = text.substring(start, pos);
        if (token.isEmpty() || token.equals("-")) {
            throw error("expected a value");
        }
        try {
            if (!integral) {
                return Double.parseDouble(token);
            }
            try {
                return Long.parseLong(token);
            } catch (NumberFormatException tooLong) {
                return new BigInteger(token);
            }
        } catch (NumberFormatException e) {
            throw error("not a number: " + token);
        }
    }

    private Object literal(String word, Object value) {
        if (!text.startsWith(word, pos)) {
            throw error("expected a value");
        }
        pos += word.length();
        return value;
    }

    private void skipSpace() {
        while (pos < text.length() && " \t\r\n".indexOf(text.charAt(pos)) >= 0) {
            pos++;
        }
    }

    private char peek() {
        return pos < text.length() ? text.charAt(pos) : '\0';
    }

    private char next() {
        if (pos >= text.length()) {
            throw error("unexpected end of the text");
        }
        return text.charAt(pos++);
    }

    private void expect(char c) {
        if (next() != c) {
            pos--;
            throw error("expected '" + c + "'");
        }
    }

    private IllegalArgumentException error(String problem) {
        return new IllegalArgumentException("column " + (pos + 1) + ": " + problem);
    }

    // ----------------------------------------------------------------------------------------- writing

    /** Returns one row as a line of JSON (no newline), keys in the map's order. */
    public static String write(Map<String, Object> row) {
        StringBuilder out = new StringBuilder("{");
        boolean first = true;
        for (Map.Entry<String, Object> entry : row.entrySet()) {
            if (!first) {
                out.append(',');
            }
            first = false;
            quote(out, entry.getKey());
            out.append(':');
            value(out, entry.getValue());
        }
        return out.append('}').toString();
    }

    private static void value(StringBuilder out, Object value) {
        if (value == null) {
            out.append("null");
        } else if (value instanceof Double d) {
            if (d.isNaN()) {
                out.append("{\"$float\":\"NaN\"}");
            } else if (d.isInfinite()) {
                out.append(d > 0 ? "{\"$float\":\"Infinity\"}" : "{\"$float\":\"-Infinity\"}");
            } else {
                out.append(Double.toString(d));
            }
        } else if (value instanceof String s) {
            quote(out, s);
        } else if (value instanceof Boolean || value instanceof Long || value instanceof Integer
                || value instanceof BigInteger) {
            out.append(value);
        } else {
            throw new IllegalArgumentException("cannot write a " + value.getClass().getSimpleName() + " as JSON");
        }
    }

    private static void quote(StringBuilder out, String s) {
        out.append('"');
        for (int i = 0; i < s.length(); i++) {
            char c = s.charAt(i);
            switch (c) {
                case '"' -> out.append("\\\"");
                case '\\' -> out.append("\\\\");
                case '\n' -> out.append("\\n");
                case '\r' -> out.append("\\r");
                case '\t' -> out.append("\\t");
                default -> {
                    if (c < 0x20) {
                        out.append(String.format("\\u%04x", (int) c));
                    } else {
                        out.append(c);
                    }
                }
            }
        }
        out.append('"');
    }
}

package dev.shoplab.analytics;

import java.io.BufferedReader;
import java.io.IOException;
import java.io.InputStream;
import java.io.InputStreamReader;
import java.io.PrintStream;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.LinkedHashMap;
import java.util.List;
import java.util.Map;
import java.util.regex.Matcher;
import java.util.regex.Pattern;

import org.apache.flink.configuration.Configuration;
import org.apache.flink.streaming.api.environment.StreamExecutionEnvironment;
import org.apache.flink.table.api.StatementSet;
import org.apache.flink.table.api.TableResult;
import org.apache.flink.table.api.bridge.java.StreamTableEnvironment;

/**
 * Renders orders.sql and runs it. Under `java -cp` it runs in an in-process
 * MiniCluster; under `flink run` (Dataproc, a session cluster) the same
 * main submits to that cluster, since getExecutionEnvironment picks the
 * context it runs in.
 *
 * <pre>
 * --sql FILE         the job (default: orders.sql inside the jar)
 * --set name=value   a variable of the file (repeatable; defaults below)
 * --render           print the rendered statements and exit (for sql-client -f)
 * --serve            run one bounded job per stdin line of name=value pairs,
 *                    answering "DONE" or "FAILED reason" on stdout
 * --prometheus-port  expose Flink metrics for Prometheus on this port
 * </pre>
 */
public final class Launcher {
  private static final Pattern VAR = Pattern.compile("\\$\\{([a-z_]+)}");
  private static final Pattern SET =
      Pattern.compile("(?is)SET\\s+'([^']+)'\\s*=\\s*'([^']*)'");

  private Launcher() {}

  static Map<String, String> defaults() {
    Map<String, String> d = new LinkedHashMap<>();
    d.put("brokers", "127.0.0.1:9092");
    d.put("input_topic", "orders");
    d.put("output_topic", "analytics-results");
    d.put("late_topic", "analytics-late");
    d.put("group_id", "analytics-flink");
    d.put("window_ms", "60000");
    d.put("out_of_orderness_ms", "5000");
    d.put("idle_timeout", "60000 ms");
    d.put("state_ttl", "30 min");
    d.put("startup_mode", "group-offsets");
    d.put("bounded_mode", "unbounded");
    return d;
  }

  /** Derives the variables computed from others. */
  static Map<String, String> complete(Map<String, String> vars) {
    Map<String, String> v = new LinkedHashMap<>(vars);
    v.put("window_interval", interval(v.get("window_ms"), "window_ms"));
    v.put("out_of_orderness_interval", interval(v.get("out_of_orderness_ms"), "out_of_orderness_ms"));
    return v;
  }

  /** Milliseconds as a DAY TO SECOND(3) interval literal, "d hh:mm:ss.fff". */
  private static String interval(String ms, String name) {
    long n;
    try {
      n = Long.parseLong(ms);
    } catch (NumberFormatException e) {
      throw new IllegalArgumentException(name + ": must be whole milliseconds, got " + ms);
    }
    if (n < 0 || (name.equals("window_ms") && n < 1)) {
      throw new IllegalArgumentException(name + ": out of range: " + ms);
    }
    if (n >= 100L * 86_400_000L) {
      throw new IllegalArgumentException(name + ": must be under 100 days: " + ms);
    }
    return String.format("%d %02d:%02d:%02d.%03d",
        n / 86_400_000L, n / 3_600_000L % 24, n / 60_000L % 60, n / 1000 % 60, n % 1000);
  }

  /** Substitutes the variables outside comment lines. */
  static String render(String sql, Map<String, String> vars) {
    StringBuilder out = new StringBuilder();
    for (String line : sql.split("\n", -1)) {
      if (out.length() > 0) {
        out.append('\n');
      }
      if (line.trim().startsWith("--")) {
        out.append(line);
      } else {
        out.append(renderLine(line, vars));
      }
    }
    return out.toString();
  }

  private static String renderLine(String sql, Map<String, String> vars) {
    Matcher m = VAR.matcher(sql);
    StringBuilder out = new StringBuilder();
    while (m.find()) {
      String v = vars.get(m.group(1));
      if (v == null) {
        throw new IllegalArgumentException("orders.sql: variable ${" + m.group(1) + "} has no value");
      }
      m.appendReplacement(out, Matcher.quoteReplacement(v));
    }
    m.appendTail(out);
    return out.toString();
  }

  /** The statements of a file, comments dropped, in order. */
  static List<String> statements(String sql) {
    StringBuilder b = new StringBuilder();
    for (String line : sql.split("\n", -1)) {
      if (!line.trim().startsWith("--")) {
        b.append(line).append('\n');
      }
    }
    List<String> out = new ArrayList<>();
    for (String s : b.toString().split(";")) {
      if (!s.isBlank()) {
        out.add(s.trim());
      }
    }
    return out;
  }

  static TableResult run(StreamExecutionEnvironment env, String sql, PrintStream log) {
    StreamTableEnvironment t = StreamTableEnvironment.create(env);
    StatementSet set = null;
    TableResult last = null;
    for (String s : statements(sql)) {
      String u = s.toUpperCase();
      if (u.startsWith("EXECUTE STATEMENT SET")) {
        set = t.createStatementSet();
        s = s.replaceFirst("(?is)EXECUTE\\s+STATEMENT\\s+SET\\s+BEGIN", "").trim();
        u = s.toUpperCase();
      }
      if (set != null) {
        if (u.equals("END")) {
          last = set.execute();
          set = null;
        } else {
          set.addInsertSql(s);
        }
        continue;
      }
      Matcher m = SET.matcher(s);
      if (m.matches()) {
        t.getConfig().getConfiguration().setString(m.group(1), m.group(2));
        continue;
      }
      last = t.executeSql(s);
    }
    if (set != null) {
      throw new IllegalArgumentException("orders.sql: EXECUTE STATEMENT SET without END");
    }
    last.getJobClient().ifPresent(c -> log.println("submitted job " + c.getJobID()));
    return last;
  }

  private static String readSql(String path) throws IOException {
    if (path != null) {
      return Files.readString(Path.of(path), StandardCharsets.UTF_8);
    }
    try (InputStream in = Launcher.class.getResourceAsStream("/orders.sql")) {
      if (in == null) {
        throw new IOException("orders.sql is not in the jar; pass --sql");
      }
      return new String(in.readAllBytes(), StandardCharsets.UTF_8);
    }
  }

  private static void put(Map<String, String> vars, String kv) {
    int i = kv.indexOf('=');
    if (i <= 0) {
      throw new IllegalArgumentException("--set: want name=value, got " + kv);
    }
    vars.put(kv.substring(0, i), kv.substring(i + 1));
  }

  public static void main(String[] args) throws Exception {
    String sqlPath = null;
    boolean renderOnly = false, serve = false;
    Integer promPort = null;
    Map<String, String> vars = defaults();
    for (int i = 0; i < args.length; i++) {
      switch (args[i]) {
        case "--sql" -> sqlPath = args[++i];
        case "--set" -> put(vars, args[++i]);
        case "--render" -> renderOnly = true;
        case "--serve" -> serve = true;
        case "--prometheus-port" -> promPort = Integer.parseInt(args[++i]);
        default -> {
          System.err.println("unknown argument " + args[i]);
          System.exit(2);
        }
      }
    }
    String sql = readSql(sqlPath);
    if (renderOnly) {
      System.out.print(render(sql, complete(vars)));
      return;
    }
    Configuration conf = new Configuration();
    conf.setString("parallelism.default", "1");
    if (promPort != null) {
      conf.setString("metrics.reporter.prom.factory.class",
          "org.apache.flink.metrics.prometheus.PrometheusReporterFactory");
      conf.setString("metrics.reporter.prom.port", promPort.toString());
    }
    StreamExecutionEnvironment env = StreamExecutionEnvironment.getExecutionEnvironment(conf);
    if (!serve) {
      run(env, render(sql, complete(vars)), System.err).await();
      return;
    }
    // One JVM (and warm planner) for many bounded jobs: what the
    // differential tests and `shoplab analytics replay` use.
    BufferedReader in = new BufferedReader(new InputStreamReader(System.in, StandardCharsets.UTF_8));
    System.out.println("READY");
    System.out.flush();
    for (String line; (line = in.readLine()) != null; ) {
      if (line.isBlank()) {
        continue;
      }
      try {
        Map<String, String> job = new LinkedHashMap<>(vars);
        for (String kv : line.trim().split("\\s+")) {
          put(job, kv);
        }
        run(env, render(sql, complete(job)), System.err).await();
        System.out.println("DONE");
      } catch (Exception e) {
        e.printStackTrace(System.err);
        Throwable root = e;
        while (root.getCause() != null) {
          root = root.getCause();
        }
        System.out.println("FAILED " + String.valueOf(root.getMessage()).replace('\n', ' '));
      }
      System.out.flush();
    }
  }
}
